"""Milestone rules: what happened, not when someone typed it (table-driven)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from bot.core import lifecycle, milestones
from bot.core.alerts import Alert, AlertSource, AlertState
from bot.core.errors import ConflictError, ValidationError
from bot.core.milestones import MilestoneName as M
from bot.core.model import (
    EntryKind,
    EntrySource,
    Incident,
    IncidentRole,
    Person,
    RoleAssignment,
    Severity,
    Status,
    TimelineEntry,
)
from bot.core.postmortem import build_postmortem
from bot.core.timeparse import parse_at

ALICE, BOB = Person(1, "alice"), Person(2, "bob")
DECLARED = datetime(2026, 3, 1, 19, 4, 39, tzinfo=UTC)


def t(minutes: float) -> datetime:
    """A moment relative to the declaration (19:04:39 UTC)."""
    return DECLARED + timedelta(minutes=minutes)


def incident(**fields: object) -> Incident:
    """An incident declared at DECLARED, impact from the declaration (as declaring sets it)."""
    values: dict[str, object] = {
        "guild_id": 1,
        "number": 1,
        "title": "Site down",
        "severity": Severity.SEV1,
        "status": Status.INVESTIGATING,
        "declared_by": ALICE,
        "started_at": DECLARED,
        "detected_at": DECLARED,
        "declared_at": DECLARED,
        "acknowledged_at": DECLARED,
        "roles": [RoleAssignment(IncidentRole.COMMANDER, ALICE, DECLARED)],
        "id": 1,
    }
    return Incident(**(values | fields))  # type: ignore[arg-type]


def entry(minutes: float, kind: EntryKind, seq: int = 1, **fields: object) -> TimelineEntry:
    """A person's entry at t(minutes)."""
    values: dict[str, object] = {
        "incident_id": 1,
        "kind": kind,
        "source": EntrySource.COMMAND,
        "text": kind.value,
        "event_at": t(minutes),
        "recorded_at": DECLARED,
        "author": BOB,
        "seq": seq,
    }
    return TimelineEntry(**(values | fields))  # type: ignore[arg-type]


def alert(fired: float, *, received: float | None = None, **fields: object) -> Alert:
    """An attached alert that fired at t(fired) and reached Opsroom at t(received)."""
    got = t(fired if received is None else received)
    values: dict[str, object] = {
        "guild_id": 1,
        "source": AlertSource.ALERTMANAGER,
        "stream_key": "fp",
        "episode_key": None,
        "monitor": "web",
        "title": "Web down",
        "state": AlertState.FIRING,
        "started_at": t(fired),
        "received_at": got,
        "last_seen_at": got,
        "incident_id": 1,
        "id": 1,
    }
    return Alert(**(values | fields))  # type: ignore[arg-type]


@dataclass
class Case:
    """One rule: what the incident holds, and the milestones it must end with."""

    entries: list[TimelineEntry] = field(default_factory=list)
    alerts: list[Alert] = field(default_factory=list)
    by_hand: dict[M, float] = field(default_factory=dict)
    detected: float = 0
    acknowledged: float = 0
    started: float = 0


CASES = {
    # The outage: report 18:53, monitor fired 19:01, received 19:04 (attached then).
    "report before the alert fired": Case(
        entries=[entry(-11.65, EntryKind.REPORT)],
        alerts=[alert(-3.65, received=-0.5)],
        detected=-11.65,
        started=-11.65,
    ),
    "alert fired before the report": Case(
        entries=[entry(-5, EntryKind.REPORT)],
        alerts=[alert(-171, received=-170)],
        detected=-171,
        started=-171,
    ),
    "the fired time counts, not the received time": Case(
        alerts=[alert(-20, received=-1)], detected=-20, started=-20
    ),
    "evidence before the report is no report": Case(
        entries=[entry(-171, EntryKind.EVIDENCE), entry(-12, EntryKind.REPORT, 2)],
        detected=-12,
        started=-12,
    ),
    "notes, actions and decisions are no reports": Case(
        entries=[
            entry(-30, EntryKind.NOTE),
            entry(-29, EntryKind.ACTION, 2),
            entry(-28, EntryKind.DECISION, 3),
        ],
    ),
    "a deleted report no longer counts": Case(
        entries=[entry(-30, EntryKind.REPORT, deleted_at=DECLARED)],
    ),
    "a report after the declaration changes nothing": Case(
        entries=[entry(10, EntryKind.REPORT)],
    ),
    "a notice (expiry warning) is no detection": Case(
        alerts=[alert(-60 * 24 * 7, notice=True)],
    ),
    "an alert acknowledged before the declaration": Case(
        alerts=[alert(-10, acknowledged_at=t(-6), acknowledged_by=BOB)],
        detected=-10,
        acknowledged=-6,
        started=-10,
    ),
    "an alert acknowledged after the declaration": Case(
        alerts=[alert(-10, acknowledged_at=t(3), acknowledged_by=BOB)],
        detected=-10,
        started=-10,
    ),
    "a hand-set detection is never overridden": Case(
        entries=[entry(-40, EntryKind.REPORT)],
        alerts=[alert(-50)],
        by_hand={M.DETECTED: -20, M.STARTED: -25},
        detected=-20,
        started=-25,
    ),
    "a hand-set acknowledgement is never overridden": Case(
        alerts=[alert(-10, acknowledged_at=t(-6), acknowledged_by=BOB)],
        by_hand={M.ACKNOWLEDGED: 2},
        detected=-10,
        acknowledged=2,
        started=-10,
    ),
    "a hand-set start is not moved by an earlier detection": Case(
        entries=[entry(-15, EntryKind.REPORT)],
        by_hand={M.STARTED: -12},
        detected=-15,
        started=-12,
    ),
}


def apply_by_hand(inc: Incident, case: Case) -> None:
    for name, minutes in case.by_hand.items():
        setattr(inc, name.attr, t(minutes))
        inc.by_hand.add(name.value)


@pytest.mark.parametrize("case", CASES.values(), ids=CASES.keys())
def test_inferred_milestones(case: Case):
    """Recomputing from everything the incident holds gives the rule's milestones."""
    inc = incident()
    apply_by_hand(inc, case)
    milestones.infer(inc, entries=case.entries, alerts=case.alerts)
    assert (inc.detected_at, inc.acknowledged_at, inc.started_at) == (
        t(case.detected),
        t(case.acknowledged),
        t(case.started),
    )


@pytest.mark.parametrize(
    "case",
    [c for c in CASES.values() if not c.entries],
    ids=[k for k, c in CASES.items() if not c.entries],
)
def test_attaching_one_alert_at_a_time_agrees_with_recomputing(case: Case):
    """`note_alert` (attach, acknowledge) reaches what `infer` does, alert by alert."""
    inc = incident()
    apply_by_hand(inc, case)
    for a in case.alerts:
        milestones.note_alert(inc, a)
    assert (inc.detected_at, inc.acknowledged_at, inc.started_at) == (
        t(case.detected),
        t(case.acknowledged),
        t(case.started),
    )


def test_every_inferred_change_says_from_what_to_what_and_why():
    """The changes come back for the timeline, worded with the old and new time and the cause."""
    inc = incident()
    changes = milestones.infer(inc, entries=[entry(-11, EntryKind.REPORT, 4)], alerts=[])
    assert [(c.name, c.old, c.new, c.by_hand) for c in changes] == [
        (M.DETECTED, DECLARED, t(-11), False),
        (M.STARTED, DECLARED, t(-11), False),
    ]
    assert milestones.describe(changes[0], "bob") == (
        "Detected: 2026-03-01 19:04:39 UTC → 2026-03-01 18:53:39 UTC "
        "(from report entry 4, after a change by bob)"
    )
    assert milestones.infer(inc, entries=[entry(-11, EntryKind.REPORT, 4)], alerts=[]) == []


def test_deleting_the_report_moves_detection_back_to_the_declaration():
    """Detection is recomputed, not only moved earlier: a withdrawn report takes it back."""
    inc = incident()
    report = entry(-30, EntryKind.REPORT)
    milestones.infer(inc, entries=[report], alerts=[])
    report.deleted_at = DECLARED
    (change, *_) = milestones.infer(inc, entries=[report], alerts=[])
    assert (change.name, inc.detected_at) == (M.DETECTED, DECLARED)


@dataclass
class Refusal:
    """A milestone a person may not set, with the start of the one-line reason."""

    name: M
    at: float
    reason: str
    status: Status = Status.INVESTIGATING
    before: dict[M, float] = field(default_factory=dict)


REFUSALS = {
    "in the future": Refusal(M.DETECTED, 5, "Detected cannot be in the future."),
    "resolved before impact started": Refusal(
        M.RESOLVED,
        -20,
        "Resolved cannot be before impact started",
        Status.RESOLVED,
        {M.STARTED: -10, M.RESOLVED: 1},
    ),
    "resolved while the incident is open": Refusal(
        M.RESOLVED, -1, "Incident #1 Site down is not resolved yet"
    ),
    "detected after the declaration": Refusal(
        M.DETECTED, 1, "Detected cannot be after the declaration"
    ),
    "acknowledged before detection": Refusal(
        M.ACKNOWLEDGED,
        -5,
        "Acknowledged cannot be before detected",
        before={M.STARTED: -10, M.DETECTED: -3},
    ),
    "started after detection": Refusal(
        M.STARTED, -1, "Impact started cannot be after detected", before={M.DETECTED: -3}
    ),
    "mitigated after resolution": Refusal(
        M.MITIGATED,
        -1,
        "Mitigated cannot be after resolved",
        Status.RESOLVED,
        {M.STARTED: -10, M.MITIGATED: -3, M.RESOLVED: -2},
    ),
}


@pytest.mark.parametrize("refusal", REFUSALS.values(), ids=REFUSALS.keys())
def test_impossible_milestones_are_refused_in_one_line(refusal: Refusal):
    """Each impossible order or time is refused with a reason a user can act on."""
    inc = incident(status=refusal.status)
    for name, minutes in refusal.before.items():
        setattr(inc, name.attr, t(minutes))
    before = {name: milestones.get(inc, name) for name in M}
    with pytest.raises((ValidationError, ConflictError)) as caught:
        milestones.set_by_hand(
            inc, refusal.name, t(refusal.at), now=DECLARED + timedelta(seconds=1)
        )
    assert str(caught.value).startswith(refusal.reason) and "\n" not in str(caught.value)
    assert {name: milestones.get(inc, name) for name in M} == before and not inc.by_hand


def test_a_hand_set_milestone_is_marked_and_inference_leaves_it():
    """Set by hand: the change says who; a later, earlier report does not move it."""
    inc = incident(started_at=t(-9))
    change = milestones.set_by_hand(inc, M.DETECTED, t(-8), now=DECLARED)
    assert milestones.describe(change, "alice").endswith("(set by alice)")
    assert inc.by_hand == {"detected"}
    milestones.infer(inc, entries=[entry(-30, EntryKind.REPORT)], alerts=[alert(-40)])
    assert inc.detected_at == t(-8) and inc.started_at == t(-9)  # no earlier than detected


def test_reopening_keeps_detection_and_clears_the_resolution_even_a_hand_set_one():
    """Resolved, corrected by hand, reopened, resolved again: the last resolution counts."""
    inc = incident()
    milestones.infer(inc, entries=[entry(-30, EntryKind.REPORT)], alerts=[])
    lifecycle.change_status(inc, Status.MONITORING, t(20))
    lifecycle.change_status(inc, Status.RESOLVED, t(30))
    milestones.set_by_hand(inc, M.RESOLVED, t(25), now=t(31))
    lifecycle.change_status(inc, Status.INVESTIGATING, t(40))  # it is back
    assert inc.resolved_at is None and "resolved" not in inc.by_hand
    assert inc.mitigated_at == t(20) and inc.detected_at == t(-30)
    lifecycle.change_status(inc, Status.RESOLVED, t(90))
    assert inc.resolved_at == t(90)
    data = build_postmortem(inc, entries=[], alerts=[], actions=[], notes=[])
    resolve = next(m for m in data.measures if m.milestone == "resolved")
    assert resolve.duration == "2h"  # from the start of impact, 19:04:39 − 30 min


def test_a_milestone_set_in_local_time_across_the_dst_change_is_exact():
    """Europe/Berlin springs forward at 02:00 on 2026-03-29: wall times map to the right UTC,
    and the measures count real elapsed time (one hour, not two)."""
    berlin = ZoneInfo("Europe/Berlin")
    now = datetime(2026, 3, 29, 6, 0, tzinfo=UTC)
    started = parse_at("2026-03-29 01:30", now=now, tz=berlin)  # CET, UTC+1
    detected = parse_at("2026-03-29 03:30", now=now, tz=berlin)  # CEST, UTC+2
    assert (started, detected) == (
        datetime(2026, 3, 29, 0, 30, tzinfo=UTC),
        datetime(2026, 3, 29, 1, 30, tzinfo=UTC),
    )
    inc = incident(
        started_at=started.astimezone(berlin),
        detected_at=detected.astimezone(berlin),
        declared_at=now,
        acknowledged_at=now,
    )
    milestones.set_by_hand(inc, M.STARTED, started.astimezone(berlin), now=now)
    data = build_postmortem(inc, entries=[], alerts=[], actions=[], notes=[])
    assert next(m for m in data.measures if m.milestone == "detected").duration == "1h"
    with pytest.raises(ValidationError, match="does not exist"):
        parse_at("2026-03-29 02:30", now=now, tz=berlin)  # skipped by the change
