"""Milestones from when things happened, not from when someone typed them.

Unless set by hand (`/incident milestone`), and never overriding a value set by hand:
- `detected_at` is the earliest of the attached alerts' *fired* times (notices excluded),
  the first `report` entry and the declaration (`evidence` entries never count);
- `acknowledged_at` is the earliest of an attached alert's acknowledgement and the
  declaration;
- `started_at` (the start of impact) is never later than `detected_at`: nothing is detected
  before it happens, so an earlier detection moves the start with it.

`infer` recomputes all of them from everything the incident holds (entries changed);
`note_alert` folds in one newly attached or acknowledged alert. Each returns the changes,
which the services put on the timeline saying from what to what.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from bot.core.alerts import Alert
from bot.core.errors import ConflictError, ValidationError
from bot.core.model import EntryKind, Incident, TimelineEntry
from bot.core.timeparse import utc_text

FUTURE_SKEW = timedelta(seconds=60)


class MilestoneName(StrEnum):
    """The milestones a person may set or correct."""

    STARTED = "started"
    DETECTED = "detected"
    ACKNOWLEDGED = "acknowledged"
    MITIGATED = "mitigated"
    RESOLVED = "resolved"

    @property
    def attr(self) -> str:
        """The incident attribute holding it: `detected_at`."""
        return f"{self.value}_at"

    @property
    def label(self) -> str:
        """How a reader names it: `Impact started`, `Detected`."""
        return "Impact started" if self is MilestoneName.STARTED else self.value.capitalize()


# (earlier, later): the first may never come after the second.
ORDER = (
    (MilestoneName.STARTED, MilestoneName.DETECTED),
    (MilestoneName.STARTED, MilestoneName.ACKNOWLEDGED),
    (MilestoneName.STARTED, MilestoneName.MITIGATED),
    (MilestoneName.STARTED, MilestoneName.RESOLVED),
    (MilestoneName.DETECTED, MilestoneName.ACKNOWLEDGED),
    (MilestoneName.MITIGATED, MilestoneName.RESOLVED),
)


@dataclass(frozen=True)
class MilestoneChange:
    """One milestone moved: from `old` to `new`, by hand or inferred from `reason`."""

    name: MilestoneName
    old: datetime | None
    new: datetime | None
    by_hand: bool
    reason: str


def get(incident: Incident, name: MilestoneName) -> datetime | None:
    """The incident's current value of one milestone."""
    value: datetime | None = getattr(incident, name.attr)
    return value


def first_report(entries: Iterable[TimelineEntry]) -> TimelineEntry | None:
    """The earliest `report` entry still shown (evidence, notes and the rest never count)."""
    reports = [e for e in entries if e.kind is EntryKind.REPORT and not e.deleted]
    return min(reports, key=lambda e: (e.event_at, e.seq), default=None)


def infer(
    incident: Incident, *, entries: Iterable[TimelineEntry], alerts: Iterable[Alert]
) -> list[MilestoneChange]:
    """Recompute the inferred milestones from all the incident holds; returns what moved."""
    alerts = list(alerts)
    detected: list[tuple[datetime, str]] = [(incident.declared_at, "the declaration")]
    detected += [_fired(a) for a in alerts if not a.notice]
    report = first_report(entries)
    if report is not None:
        detected.append((report.event_at, f"report entry {report.seq}"))
    acknowledged = [(incident.declared_at, "the declaration")]
    acknowledged += [_taken(a) for a in alerts if a.acknowledged_at is not None]
    changes = [
        _apply(incident, MilestoneName.DETECTED, min(detected, key=_when)),
        _apply(incident, MilestoneName.ACKNOWLEDGED, min(acknowledged, key=_when)),
    ]
    changes.append(_start_by_detection(incident))
    return [c for c in changes if c is not None]


def note_alert(incident: Incident, alert: Alert) -> list[MilestoneChange]:
    """An alert attached or acknowledged: it may have seen or answered the problem first."""
    changes = []
    if not alert.notice:
        fired = _fired(alert)
        if _when(fired) < incident.detected_at:
            changes.append(_apply(incident, MilestoneName.DETECTED, fired))
    if alert.acknowledged_at is not None:
        taken = _taken(alert)
        current = incident.acknowledged_at
        if current is None or _when(taken) < current:
            changes.append(_apply(incident, MilestoneName.ACKNOWLEDGED, taken))
    changes.append(_start_by_detection(incident))
    return [c for c in changes if c is not None]


def set_by_hand(
    incident: Incident, name: MilestoneName, at: datetime, now: datetime
) -> MilestoneChange:
    """Set or correct one milestone; refuses a time in the future or an impossible order."""
    if at > now + FUTURE_SKEW:
        raise ValidationError(f"{name.label} cannot be in the future.")
    if name is MilestoneName.RESOLVED and incident.resolved_at is None:
        raise ConflictError(
            f"Incident {incident.label} is not resolved yet: resolve it with /incident resolve."
        )
    if name is MilestoneName.DETECTED and at > incident.declared_at:
        raise ValidationError(
            f"Detected cannot be after the declaration ({_utc(incident.declared_at)}): "
            "declaring is itself a detection."
        )
    for earlier, later in ORDER:
        if name is later and (bound := get(incident, earlier)) is not None and at < bound:
            raise ValidationError(
                f"{name.label} cannot be before {earlier.label.lower()} ({_utc(bound)}); "
                f"correct {earlier.value} first."
            )
        if name is earlier and (bound := get(incident, later)) is not None and at > bound:
            raise ValidationError(
                f"{name.label} cannot be after {later.label.lower()} ({_utc(bound)}); "
                f"correct {later.value} first."
            )
    old = get(incident, name)
    if old == at and name.value in incident.by_hand:
        raise ConflictError(f"{name.label} is already {_utc(at)}.")
    setattr(incident, name.attr, at)
    incident.by_hand.add(name.value)
    return MilestoneChange(name, old, at, by_hand=True, reason="set by hand")


def describe(change: MilestoneChange, who: str | None) -> str:
    """The timeline text of a change: `Detected 19:04:39 → 18:53:00 UTC (…)`."""
    old = _utc(change.old) if change.old else "not set"
    new = _utc(change.new) if change.new else "not set"
    if change.by_hand:
        why = f"set by {who}" if who else "set by hand"
    else:
        why = f"from {change.reason}" + (f", after a change by {who}" if who else "")
    return f"{change.name.label}: {old} → {new} ({why})"


def _apply(
    incident: Incident, name: MilestoneName, candidate: tuple[datetime, str]
) -> MilestoneChange | None:
    """Set an inferred value unless a person set this milestone, and say if it moved."""
    if name.value in incident.by_hand:
        return None
    old, (new, reason) = get(incident, name), candidate
    if old == new:
        return None
    setattr(incident, name.attr, new)
    return MilestoneChange(name, old, new, by_hand=False, reason=reason)


def _start_by_detection(incident: Incident) -> MilestoneChange | None:
    """Impact began no later than it was detected (unless a person said when it began)."""
    if incident.detected_at >= incident.started_at:
        return None
    return _apply(incident, MilestoneName.STARTED, (incident.detected_at, "the detection"))


def _fired(alert: Alert) -> tuple[datetime, str]:
    return alert.started_at, f"alert {_quoted(alert.title)} firing"


def _taken(alert: Alert) -> tuple[datetime, str]:
    assert alert.acknowledged_at is not None
    who = alert.acknowledged_by.name if alert.acknowledged_by else alert.source.value
    return alert.acknowledged_at, f"alert {_quoted(alert.title)} acknowledged by {who}"


def _when(candidate: tuple[datetime, str]) -> datetime:
    return candidate[0]


def _quoted(title: str) -> str:
    short = " ".join(title.split())
    return f"“{short[:80]}…”" if len(short) > 80 else f"“{short}”"


def _utc(at: datetime) -> str:
    return f"{utc_text(at)} UTC"
