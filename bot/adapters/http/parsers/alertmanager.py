"""Alertmanager (webhook payload version 4) and Grafana (its version 1 variant) notifications.

One POST carries one aggregation group; each alert in it becomes one signal with its own
status, so a partly resolved group resolves exactly the alerts marked resolved.

Identity: the stream is the alert's `fingerprint` (computed as Alertmanager does, FNV-1a-64
of the sorted labels, when a sender leaves it out) and the episode is its `startsAt`,
normalised, because a fingerprint repeats across separate firing episodes.

Truncated groups (`truncatedAlerts` > 0, from `max_alerts`): the alerts that were left out
never reach us, so every delivered alert of the group carries a "Group truncated" detail
saying how many more there were, and the answer reports the number too. The relay can show
it; nothing more can be done here, since the missing alerts' identities are unknown.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from bot.adapters.http.parsers.common import (
    MAX_MONITOR,
    MAX_SEVERITY,
    MAX_TITLE,
    PayloadError,
    UnsupportedMediaTypeError,
    as_text,
    cap,
    details,
    is_json,
    key,
    load_json_object,
    mapping_items,
    media_type,
    parse_time,
    plain_title,
    web_link,
)
from bot.core.alerts import AlertSignal, AlertSource, SignalAction

_FNV_OFFSET = 14695981039346656037
_FNV_PRIME = 1099511628211
_SEPARATOR = 255  # Prometheus' label separator byte
_ACTIONS = {"firing": SignalAction.TRIGGER, "resolved": SignalAction.RESOLVE}
TRUNCATED_DETAIL = "Group truncated"


def fingerprint(labels: Mapping[str, str]) -> str:
    """Alertmanager's fingerprint of a label set: FNV-1a-64 over sorted name/value pairs."""
    value = _FNV_OFFSET
    for name in sorted(labels):
        for part in (name, labels[name]):
            for byte in part.encode("utf-8", "surrogatepass"):
                value = ((value ^ byte) * _FNV_PRIME) & 0xFFFFFFFFFFFFFFFF
            value = ((value ^ _SEPARATOR) * _FNV_PRIME) & 0xFFFFFFFFFFFFFFFF
    return f"{value:016x}"


def truncated_count(group: Mapping[str, Any]) -> int:
    """How many alerts the sender left out of this group (0 when it says nothing)."""
    value = group.get("truncatedAlerts")
    if isinstance(value, bool) or not isinstance(value, int | float):
        return 0
    return max(0, int(value)) if value == value and abs(value) < 2**63 else 0


def load_group(content_type: str | None, body: bytes) -> dict[str, Any]:
    """The JSON object of one notification, or the reason it is not one."""
    if not is_json(media_type(content_type)[0]):
        raise UnsupportedMediaTypeError(content_type or "")
    return load_json_object(body)


def parse(
    content_type: str | None,
    body: bytes,
    query: Mapping[str, str],
    *,
    source: AlertSource = AlertSource.ALERTMANAGER,
) -> list[AlertSignal]:
    """Every alert of one Alertmanager notification, in order."""
    group = load_group(content_type, body)
    alerts = group.get("alerts")
    if alerts is None:
        raise PayloadError("alerts is missing")
    if not isinstance(alerts, list):
        raise PayloadError("alerts must be a JSON array")
    truncated = truncated_count(group)
    note = f"{truncated} more alert(s) of this group were not sent" if truncated else None
    return [_signal(alert, f"alerts[{i}]", source, note) for i, alert in enumerate(alerts)]


def parse_grafana(
    content_type: str | None, body: bytes, query: Mapping[str, str]
) -> list[AlertSignal]:
    """Grafana's webhook contact point: the same shape, `version` "1", a few more fields."""
    return parse(content_type, body, query, source=AlertSource.GRAFANA)


def _signal(alert: Any, where: str, source: AlertSource, note: str | None) -> AlertSignal:
    """One alert of the group as a signal."""
    if not isinstance(alert, Mapping):
        raise PayloadError(f"{where} must be a JSON object")
    status = alert.get("status")
    if status is None:
        raise PayloadError(f"{where}.status is missing")
    if not isinstance(status, str) or status not in _ACTIONS:
        raise PayloadError(f"{where}.status must be firing or resolved")
    if "labels" not in alert:
        raise PayloadError(f"{where}.labels is missing")
    labels = {
        name: as_text(value) for name, value in mapping_items(alert["labels"], f"{where}.labels")
    }
    annotations = dict(mapping_items(alert.get("annotations") or {}, f"{where}.annotations"))
    if "startsAt" not in alert:
        raise PayloadError(f"{where}.startsAt is missing")
    started, episode = parse_time(alert["startsAt"], f"{where}.startsAt")
    ended = None
    if status == "resolved" and isinstance(alert.get("endsAt"), str):
        try:
            ended = parse_time(alert["endsAt"], f"{where}.endsAt")[0]
        except PayloadError:
            ended = None  # a resolved alert without a usable end resolves when received
    given = alert.get("fingerprint")
    stream = as_text(given) if given not in (None, "") else fingerprint(labels)
    name = labels.get("alertname", "")
    place = labels.get("instance") or labels.get("job") or ""
    monitor = " · ".join(part for part in (name, place) if part) or f"alert {stream}"
    severity = cap(labels.get("severity", ""), MAX_SEVERITY) or None
    summary = next(
        (as_text(annotations[k]) for k in ("summary", "title") if annotations.get(k)), ""
    )
    pairs: list[tuple[str, Any]] = [(TRUNCATED_DETAIL, note)] if note else []
    if source is AlertSource.GRAFANA and alert.get("valueString"):
        pairs.append(("Value", alert["valueString"]))
    pairs += [(k, v) for k, v in annotations.items() if k not in ("summary", "title")]
    pairs += [(k, v) for k, v in labels.items() if k != "alertname"]
    return AlertSignal(
        source=source,
        action=_ACTIONS[status],
        stream_key=key(stream),
        episode_key=episode,
        monitor=cap(monitor, MAX_MONITOR),
        title=cap(plain_title(summary or name or monitor), MAX_TITLE),
        severity=severity,
        details=details((k, v) for k, v in pairs if not k.startswith("__")),
        link=web_link(
            alert.get("generatorURL"),
            alert.get("panelURL"),
            alert.get("dashboardURL"),
            annotations.get("runbook_url"),
        ),
        started_at=started,
        ended_at=ended,
    )
