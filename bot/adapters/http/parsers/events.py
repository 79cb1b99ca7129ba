"""PagerDuty Events API v2 events, for any agent or script that speaks it.

Identity: the stream is `dedup_key` and the episode is implicit, so a trigger while the key
is open repeats it, a trigger after resolve opens a new alert, and an acknowledge or resolve
of an unknown or resolved key is dropped (still answered 202, as PagerDuty does). A trigger
without `dedup_key` gets a new one, returned in the answer so the sender can resolve it.

Validation follows PagerDuty's: a trigger needs `payload.summary`, `payload.source` and a
`payload.severity` of critical, error, warning or info; every `dedup_key` is at most 255
characters. A client that works against PagerDuty therefore works here unchanged.

A body sent as `application/x-www-form-urlencoded` that is a JSON object is read as JSON:
that is what `curl -d '{…}'` sends when the script forgets its Content-Type header.
Summaries lose a sender's state prefix ("[FIRING:1] …" from Alertmanager's and Grafana's
PagerDuty routes, "[Uptime Kuma Monitor 🔴 Down] …").
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from bot.adapters.http.parsers.common import (
    FORM_TYPE,
    MAX_DETAIL_VALUE,
    MAX_MONITOR,
    MAX_TITLE,
    PayloadError,
    UnsupportedMediaTypeError,
    as_text,
    cap,
    clean,
    details,
    is_json,
    load_json_object,
    media_type,
    parse_time,
    plain_title,
    web_link,
)
from bot.core.alerts import AlertSignal, AlertSource, SignalAction

MAX_DEDUP_KEY = 255
SEVERITIES = ("critical", "error", "warning", "info")
_ACTIONS = {action.value: action for action in SignalAction}


@dataclass(frozen=True)
class EventsRequest:
    """A parsed event: its signal, the token it names (if any) and its dedup key."""

    signal: AlertSignal
    routing_key: str | None
    dedup_key: str


def routing_key(data: Mapping[str, Any]) -> str | None:
    """The `routing_key` of an event body, if it has a usable one."""
    value = data.get("routing_key")
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise PayloadError("routing_key must be a string")
    return value


def _text(payload: Mapping[str, Any], name: str) -> str:
    """A required, non-empty payload field."""
    value = payload.get(name)
    if value is None or not clean(as_text(value)).strip():
        raise PayloadError(f"payload.{name} is missing")
    return as_text(value)


def parse_event(
    content_type: str | None,
    body: bytes,
    query: Mapping[str, str],
    *,
    new_key: Callable[[], str] = lambda: uuid.uuid4().hex,
) -> EventsRequest:
    """One Events v2 event as a signal, with the token and dedup key the answer needs."""
    media = media_type(content_type)[0]
    curl_json = media == FORM_TYPE and body.lstrip()[:1] == b"{"
    if not (is_json(media) or curl_json):
        raise UnsupportedMediaTypeError(content_type or "")
    data = load_json_object(body)
    token = routing_key(data)
    action_name = data.get("event_action")
    if action_name is None:
        raise PayloadError("event_action is missing")
    if not isinstance(action_name, str) or action_name not in _ACTIONS:
        raise PayloadError("event_action must be trigger, acknowledge or resolve")
    action = _ACTIONS[action_name]
    given = data.get("dedup_key")
    dedup_key = clean(as_text(given)).strip() if given is not None else ""
    if len(dedup_key) > MAX_DEDUP_KEY:
        raise PayloadError(f"dedup_key is longer than {MAX_DEDUP_KEY} characters")
    if not dedup_key:
        if action is not SignalAction.TRIGGER:
            raise PayloadError(f"dedup_key is required to {action.value} an alert")
        dedup_key = new_key()
    payload = data.get("payload")
    if payload is None and action is SignalAction.TRIGGER:
        raise PayloadError("payload is missing")
    if payload is not None and not isinstance(payload, Mapping):
        raise PayloadError("payload must be a JSON object")
    payload = payload or {}
    summary = source = ""
    severity = None
    started = None
    if action is SignalAction.TRIGGER:
        summary, source = _text(payload, "summary"), _text(payload, "source")
        severity = payload.get("severity")
        if severity is None:
            raise PayloadError("payload.severity is missing")
        if severity not in SEVERITIES:
            raise PayloadError("payload.severity must be critical, error, warning or info")
    else:
        summary, source = as_text(payload.get("summary")), as_text(payload.get("source"))
    if payload.get("timestamp") is not None:
        started = parse_time(payload["timestamp"], "payload.timestamp")[0]
    pairs: list[tuple[str, Any]] = []
    if len(clean(summary).strip()) > MAX_TITLE:
        pairs.append(("Summary", cap(summary, MAX_DETAIL_VALUE)))
    pairs += [(name.capitalize(), payload.get(name)) for name in ("component", "group", "class")]
    custom = payload.get("custom_details")
    if isinstance(custom, Mapping):
        pairs += list(custom.items())
    elif custom is not None:
        pairs.append(("Details", custom))
    links = data.get("links")
    hrefs = (
        [item.get("href") for item in links if isinstance(item, Mapping)]
        if isinstance(links, list)
        else []
    )
    signal = AlertSignal(
        source=AlertSource.EVENTS,
        action=action,
        stream_key=dedup_key,
        monitor=cap(source, MAX_MONITOR),
        title=cap(plain_title(summary), MAX_TITLE),
        severity=severity,
        details=details(pairs),
        link=web_link(*hrefs, data.get("client_url")),
        started_at=started,
    )
    return EventsRequest(signal, token, dedup_key)


def parse(content_type: str | None, body: bytes, query: Mapping[str, str]) -> list[AlertSignal]:
    """The uniform parser interface: the event's one signal."""
    return [parse_event(content_type, body, query).signal]
