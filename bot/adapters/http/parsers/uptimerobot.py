"""UptimeRobot webhooks: GET query, POST form or POST JSON, with `*var*` names or snake_case.

UptimeRobot substitutes its variables into whatever the user configured, so the same
notification may arrive as `monitorID`, `monitor_id` or `*monitorID*` keys, and a variable
that does not apply stays as the literal `*name*`, which counts as missing here. Fields are
matched ignoring case, underscores and asterisks; body fields win over query fields.

Identity: the stream is the monitor (`monitorID`; without one, as in some hand-written JSON
bodies, its URL or else its name) and the episode is implicit: a down while one is open
repeats it, an up resolves it. `alertType` 3 (SSL/domain expiry notice) triggers on its own
stream `"{monitor}:expiry"`, so an expiry warning never resolves or repeats a down alert.
Expiry notices do not page, except one saying 2 days or less are left (`sslExpiryDaysLeft`,
else the days in `alertDetails`, or "expired"): it escalates like the certificate watch's
2-day alert, on the stream `"{monitor}:expiry:urgent"`, so the earlier notice (open on
the other stream) cannot swallow it as a repeat.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, timedelta

from bot.adapters.http.parsers.common import (
    FORM_TYPE,
    MAX_MONITOR,
    MAX_TITLE,
    PayloadError,
    UnsupportedMediaTypeError,
    as_text,
    cap,
    details,
    is_json,
    key,
    load_form,
    load_json_object,
    media_type,
    unix_time,
    web_link,
)
from bot.core.alerts import AlertSignal, AlertSource, SignalAction

DOWN, UP, EXPIRY = "1", "2", "3"
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_UNREPLACED = re.compile(r"\*[A-Za-z_]+\*")
_FRIENDLY_TYPES = {"down": DOWN, "up": UP}
URGENT_DAYS = 2  # an expiry notice this close escalates (as the certificate watch's does)
_DAYS = re.compile(r"(-?\d+)\s*days?\b", re.IGNORECASE)


def _norm(name: str) -> str:
    """The comparable form of a variable name: `*monitor_ID*` → `monitorid`."""
    return name.strip().strip("*").replace("_", "").lower()


def _fields(*sources: Iterable[tuple[str, object]]) -> dict[str, str]:
    """Present variables by normalised name; earlier sources win; `*name*` values are absent."""
    fields: dict[str, str] = {}
    for source in sources:
        for name, value in source:
            text = as_text(value).strip()
            if not text or _UNREPLACED.fullmatch(text):
                continue
            fields.setdefault(_norm(str(name)), text)
    return fields


def _body_fields(content_type: str | None, body: bytes) -> list[tuple[str, object]]:
    """The variables in a POST body: a form, a JSON object, or nothing."""
    media, charset = media_type(content_type)
    if not body.strip():
        return []
    if media == FORM_TYPE:
        return list(load_form(body, charset))
    if media is None:  # no Content-Type: tell JSON from a form by its first character
        return (
            list(load_json_object(body).items())
            if body.lstrip()[:1] == b"{"
            else list(load_form(body, charset))
        )
    if is_json(media):
        return list(load_json_object(body).items())
    raise UnsupportedMediaTypeError(content_type or "")


def _alert_type(fields: Mapping[str, str]) -> str:
    """1, 2 or 3, from `alertType` or, failing that, its friendly name."""
    value = fields.get("alerttype")
    if value is None:
        friendly = fields.get("alerttypefriendlyname", "").lower()
        if friendly in _FRIENDLY_TYPES:
            return _FRIENDLY_TYPES[friendly]
        if "ssl" in friendly or "expir" in friendly:
            return EXPIRY
        raise PayloadError("alertType is missing")
    if value not in (DOWN, UP, EXPIRY):
        raise PayloadError(
            f"alertType must be 1 (down), 2 (up) or 3 (SSL/domain expiry), not {cap(value, 32)!r}"
        )
    return value


def _urgent_expiry(fields: Mapping[str, str]) -> bool:
    """Whether an expiry notice says 2 days or less are left (or that it has expired)."""
    left = fields.get("sslexpirydaysleft")
    text = fields.get("alertdetails", "")
    if left is None:
        found = _DAYS.search(text)
        left = found.group(1) if found else None
    try:
        if left is not None:
            return int(left.strip()) <= URGENT_DAYS
    except ValueError:
        pass
    return "expired" in text.lower() and "expires" not in text.lower()


def parse(content_type: str | None, body: bytes, query: Mapping[str, str]) -> list[AlertSignal]:
    """One UptimeRobot notification as one signal."""
    fields = _fields(_body_fields(content_type, body), query.items())
    kind = _alert_type(fields)
    monitor_id, url, name = (
        fields.get(n) for n in ("monitorid", "monitorurl", "monitorfriendlyname")
    )
    if monitor_id is not None:
        stream = monitor_id
    elif url is not None:
        stream = f"url:{url}"
    elif name is not None:
        stream = f"name:{name}"
    else:
        raise PayloadError("monitorID is missing (and no monitorURL or monitorFriendlyName)")
    stream = key(stream)  # the monitor's stream; a notice's is beside it, named after it
    urgent = kind == EXPIRY and _urgent_expiry(fields)
    if kind == EXPIRY:
        stream += ":expiry:urgent" if urgent else ":expiry"
    monitor = cap(name or url or monitor_id or "", MAX_MONITOR)
    what = fields.get("alertdetails")
    when = fields.get("alertdatetime")
    at = unix_time(when, "alertDateTime") if when is not None else None
    duration = fields.get("alertduration")
    lasted = None
    if duration is not None:
        try:
            lasted = timedelta(seconds=max(0, int(duration)))
        except (ValueError, OverflowError):
            raise PayloadError(
                f"alertDuration must be seconds, not {cap(duration, 32)!r}"
            ) from None
    # Titles name the monitor and what it said, never its state: the card shows that, and
    # a resolved card must not read "is down".
    if kind == DOWN:
        action, title, started, ended = SignalAction.TRIGGER, monitor, at, None
        title += f": {what}" if what else ""
    elif kind == UP:
        started = None
        if at is not None and lasted is not None and lasted < at - EPOCH:
            started = at - lasted
        action, title, ended = SignalAction.RESOLVE, monitor, at
    else:
        action, started, ended = SignalAction.TRIGGER, at, None
        title = f"{monitor}: {what or 'SSL/domain expiry notice'}"
    return [
        AlertSignal(
            source=AlertSource.UPTIMEROBOT,
            action=action,
            stream_key=stream,
            monitor=monitor,
            title=cap(title, MAX_TITLE),
            severity=("critical" if urgent else "warning") if kind == EXPIRY else None,
            escalates=kind != EXPIRY or urgent,  # a notice weeks ahead must not page anyone
            notice=kind == EXPIRY,
            details=details(
                (label, fields.get(name))
                for label, name in (
                    ("Details", "alertdetails"),
                    ("Type", "alerttypefriendlyname"),
                    ("URL", "monitorurl"),
                    ("Duration", "alertfriendlyduration"),
                    ("SSL expiry date", "sslexpirydate"),
                    ("SSL expiry days left", "sslexpirydaysleft"),
                )
            ),
            link=web_link(url),
            started_at=started,
            ended_at=ended,
        )
    ]
