"""Uptime Kuma's Webhook notification: `{heartbeat, monitor, msg}` as JSON, as form-data, or GET.

Uptime Kuma offers three bodies: "application/json" (the object itself), "multipart/form-data"
(the same object, JSON-encoded, in the form field `data`) and, with the GET method, query
parameters `msg`, `heartbeat` and `monitor` (the last two JSON-encoded). Its "custom body"
option is the user's own template and not read here (the Events v2 source takes templates).

Identity: the stream is `monitor.id` and the episode is implicit, as with UptimeRobot:
`heartbeat.status` 0 (down) while one is open repeats it, 1 (up) resolves it. Pending (2)
and maintenance (3) beats are not notified by Uptime Kuma; if one comes anyway it changes
nothing. The test button sends `msg` alone (no heartbeat, no monitor): it becomes a notice
on its own stream, which never escalates, so a test shows that the path works and pages nobody.
"""

from __future__ import annotations

from collections.abc import Mapping
from email.parser import BytesParser
from email.policy import HTTP
from typing import Any

from bot.adapters.http.parsers.common import (
    MAX_MONITOR,
    MAX_TITLE,
    PayloadError,
    UnsupportedMediaTypeError,
    as_text,
    cap,
    details,
    is_json,
    key,
    load_json,
    load_json_object,
    media_type,
    parse_time,
    plain_title,
    web_link,
)
from bot.core.alerts import AlertSignal, AlertSource, SignalAction

DOWN, UP = 0, 1
MULTIPART = "multipart/form-data"
TEST_STREAM = "test-notification"


def _form_data(content_type: str, body: bytes) -> dict[str, Any]:
    """The object in the `data` field of a multipart/form-data body."""
    message = BytesParser(policy=HTTP).parsebytes(
        b"Content-Type: " + content_type.encode("latin-1", "replace") + b"\r\n\r\n" + body
    )
    if not message.is_multipart():
        raise PayloadError("the multipart/form-data body has no parts (is its boundary right?)")
    for part in message.iter_parts():
        if part.get_param("name", header="content-disposition") == "data":
            payload = part.get_payload(decode=True)
            return load_json_object(payload if isinstance(payload, bytes) else b"")
    raise PayloadError("the form has no data field")


def _query_data(query: Mapping[str, str]) -> dict[str, Any]:
    """A GET notification: `msg`, with `heartbeat` and `monitor` as JSON text."""
    data: dict[str, Any] = {"msg": query.get("msg")}
    for name in ("heartbeat", "monitor"):
        if query.get(name):
            data[name] = load_json(query[name].encode("utf-8", "surrogatepass"))
    return data


def load_notification(
    content_type: str | None, body: bytes, query: Mapping[str, str]
) -> dict[str, Any]:
    """The notification object, whichever way Uptime Kuma sent it."""
    if not body.strip() and "msg" in query:
        return _query_data(query)
    media = media_type(content_type)[0]
    if media == MULTIPART:
        assert content_type is not None
        return _form_data(content_type, body)
    if is_json(media):
        return load_json_object(body)
    raise UnsupportedMediaTypeError(content_type or "")


def _object(data: Mapping[str, Any], name: str) -> Mapping[str, Any] | None:
    value = data.get(name)
    if value is None:
        return None
    if not isinstance(value, Mapping):
        raise PayloadError(f"{name} must be a JSON object")
    return value


def _status(heartbeat: Mapping[str, Any]) -> int:
    value = heartbeat.get("status")
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise PayloadError("heartbeat.status is missing (0 = down, 1 = up)")
    try:
        return int(value)
    except ValueError:
        raise PayloadError("heartbeat.status must be a number (0 = down, 1 = up)") from None


def _address(monitor: Mapping[str, Any]) -> str:
    """What the monitor watches, as Uptime Kuma shows it: its URL, else host[:port]."""
    url = as_text(monitor.get("url")).strip()
    if url and url not in ("https://", "http://"):
        return url
    host = as_text(monitor.get("hostname")).strip()
    port = monitor.get("port")
    return f"{host}:{port}" if host and port else host


def parse(content_type: str | None, body: bytes, query: Mapping[str, str]) -> list[AlertSignal]:
    """One Uptime Kuma notification as at most one signal."""
    data = load_notification(content_type, body, query)
    msg = as_text(data.get("msg")).strip()
    heartbeat, monitor = _object(data, "heartbeat"), _object(data, "monitor")
    if heartbeat is None and monitor is None:
        if not msg:
            raise PayloadError("heartbeat is missing")
        return [
            AlertSignal(
                source=AlertSource.UPTIMEKUMA,
                action=SignalAction.TRIGGER,
                stream_key=TEST_STREAM,
                monitor="Uptime Kuma",
                title=cap(f"Test notification: {msg}", MAX_TITLE),
                severity="info",
                escalates=False,
            )
        ]
    if heartbeat is None:
        raise PayloadError("heartbeat is missing")
    if monitor is None:
        raise PayloadError("monitor is missing")
    status = _status(heartbeat)
    if status not in (DOWN, UP):
        return []  # pending or maintenance: Uptime Kuma itself does not notify these
    monitor_id = monitor.get("id", heartbeat.get("monitorID"))
    if monitor_id is None or as_text(monitor_id).strip() == "":
        raise PayloadError("monitor.id is missing")
    name = as_text(monitor.get("name")).strip() or f"monitor {as_text(monitor_id)}"
    address = _address(monitor)
    beat_msg = as_text(heartbeat.get("msg")).strip()
    if beat_msg == "N/A":  # Uptime Kuma's stand-in for an empty message
        beat_msg = ""
    at = None
    if isinstance(heartbeat.get("time"), str) and heartbeat["time"].strip():
        at = parse_time(heartbeat["time"], "heartbeat.time")[0]  # UTC, without an offset
    title = f"{name}: {beat_msg}" if beat_msg else name
    return [
        AlertSignal(
            source=AlertSource.UPTIMEKUMA,
            action=SignalAction.TRIGGER if status == DOWN else SignalAction.RESOLVE,
            stream_key=key(as_text(monitor_id)),
            monitor=cap(name, MAX_MONITOR),
            title=cap(plain_title(title), MAX_TITLE),
            details=details(
                [
                    ("Message", beat_msg or plain_title(msg)),
                    ("URL", address),
                    ("Type", monitor.get("type")),
                    ("Response time", f"{heartbeat['ping']} ms" if heartbeat.get("ping") else None),
                ]
            ),
            link=web_link(address),
            started_at=at if status == DOWN else None,
            ended_at=at if status == UP else None,
        )
    ]
