"""The postmortem draft's content: ordering, UTC times, durations, detection, role holders."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from bot.core.alerts import Alert, AlertSource, AlertState
from bot.core.errors import NotFoundError
from bot.core.model import (
    ActionItem,
    ActionKind,
    ActionStatus,
    EntryKind,
    EntrySource,
    Incident,
    IncidentRole,
    Person,
    PostmortemNote,
    PostmortemSection,
    RoleAssignment,
    Severity,
    Status,
    TimelineEntry,
)
from bot.core.postmortem import NOT_YET, build_postmortem
from bot.core.services import IncidentRef
from tests.unit.conftest import GUILD

ALICE, BOB, CAROL = Person(1, "alice"), Person(2, "bob"), Person(3, "carol")
T0 = datetime(2026, 3, 1, 23, 30, tzinfo=UTC)


def at(minutes: float) -> datetime:
    """T0 (23:30 UTC, half an hour before midnight) plus some minutes."""
    return T0 + timedelta(minutes=minutes)


def incident(**fields) -> Incident:
    """A declared incident: impact at T0, declared 10 minutes later by alice, who commands."""
    values = {
        "guild_id": GUILD,
        "number": 7,
        "title": "Queue stuck",
        "severity": Severity.SEV2,
        "status": Status.INVESTIGATING,
        "declared_by": ALICE,
        "started_at": T0,
        "detected_at": at(10),
        "declared_at": at(10),
        "acknowledged_at": at(10),
        "roles": [RoleAssignment(IncidentRole.COMMANDER, ALICE, at(10))],
        "id": 1,
    }
    return Incident(**(values | fields))


def entry(minutes: float, text: str, seq: int, **fields) -> TimelineEntry:
    """A note by bob at T0 + minutes."""
    values = {
        "incident_id": 1,
        "kind": EntryKind.NOTE,
        "source": EntrySource.COMMAND,
        "text": text,
        "event_at": at(minutes),
        "recorded_at": at(minutes),
        "author": BOB,
        "seq": seq,
    }
    return TimelineEntry(**(values | fields))


def alert(received: float, **fields) -> Alert:
    """An alert that fired a minute before Opsroom received it."""
    values = {
        "guild_id": GUILD,
        "source": AlertSource.UPTIMEROBOT,
        "stream_key": "m1",
        "episode_key": None,
        "monitor": "www",
        "title": "www down",
        "state": AlertState.FIRING,
        "started_at": at(received - 1),
        "received_at": at(received),
        "last_seen_at": at(received),
        "incident_id": 1,
        "id": 1,
    }
    return Alert(**(values | fields))


def build(inc: Incident, entries=(), alerts=(), actions=(), notes=()):
    """The draft data from hand-made records."""
    return build_postmortem(inc, entries=entries, alerts=alerts, actions=actions, notes=notes)


def durations(data) -> dict[str, str]:
    """Measure name → rendered duration."""
    return {m.name: m.duration for m in data.measures}


async def test_timeline_is_in_event_order_with_backdated_entries(services, responder, clock):
    """Entries added later but backdated sort by when they happened, not when they were typed."""
    inc = await services.incidents.declare(GUILD, responder, title="X", severity=Severity.SEV3)
    ref = IncidentRef(number=inc.number)
    clock.advance(minutes=30)
    await services.timeline.add(GUILD, responder, ref, "latest")
    await services.timeline.add(GUILD, responder, ref, "backdated 20m", at="-20m")
    await services.timeline.add(GUILD, responder, ref, "backdated 1h", at="-1h")
    clock.advance(minutes=1)
    await services.timeline.add(GUILD, responder, ref, "same time as latest", at="-1m")
    data = await services.postmortem.draft(GUILD, ref)
    texts = [row.text for row in data.timeline]
    assert texts[0] == "backdated 1h"
    assert texts[2:] == ["backdated 20m", "latest", "same time as latest"]
    assert [row.when for row in data.timeline][:2] == ["2026-03-01 11:30:00", "2026-03-01 12:00:00"]


def test_ties_keep_entry_order_and_deleted_entries_are_left_out():
    """Same event time: entry number decides; a deleted entry never shows."""
    entries = [
        entry(5, "second", 3),
        entry(5, "first", 2),
        entry(1, "deleted", 1, deleted_at=at(6)),
    ]
    assert [r.text for r in build(incident(), entries).timeline] == ["first", "second"]


def test_durations_are_measured_from_the_start_of_impact_across_midnight():
    """Each measure is milestone − started_at in elapsed seconds, whatever the calendar says."""
    inc = incident(
        detected_at=at(4),
        acknowledged_at=at(12),
        mitigated_at=at(45),  # 00:15 the next day
        resolved_at=at(24 * 60 + 95),  # a day and 95 minutes later
        status=Status.RESOLVED,
    )
    data = build(inc)
    assert durations(data) == {
        "Time to detect": "4m",
        "Time to declare": "10m",
        "Time to acknowledge": "12m",
        "Time to mitigate": "45m",
        "Time to resolve": "1d 1h",
    }
    assert [m.seconds for m in data.measures] == [240, 600, 720, 2700, (24 * 60 + 95) * 60]
    assert data.measures[3].when == "2026-03-02 00:15:00"


async def test_durations_across_a_dst_change_are_exact(services, responder, clock):
    """Berlin 01:00 CET to 04:00 CEST on 2026-03-29 is three wall-clock hours but two real ones."""
    clock.current = datetime(2026, 3, 29, 0, 20, tzinfo=UTC)  # 01:20 CET
    inc = await services.incidents.declare(
        GUILD, responder, title="Disk full", severity=Severity.SEV2, started="2026-03-29 01:00"
    )
    ref = IncidentRef(number=inc.number)
    clock.current = datetime(2026, 3, 29, 1, 40, tzinfo=UTC)  # 03:40 CEST
    await services.incidents.set_status(GUILD, responder, ref, Status.MONITORING)
    await services.timeline.add(GUILD, responder, ref, "before the change", at="01:45")
    await services.timeline.add(GUILD, responder, ref, "after the change", at="03:30")
    clock.current = datetime(2026, 3, 29, 2, 0, tzinfo=UTC)  # 04:00 CEST
    await services.incidents.resolve(GUILD, responder, ref)
    data = await services.postmortem.draft(GUILD, ref)
    assert data.started == "2026-03-29 00:00:00"
    assert durations(data)["Time to declare"] == "20m"
    assert durations(data)["Time to mitigate"] == "1h 40m"
    assert durations(data)["Time to resolve"] == "2h"
    rows = {row.text: row.when for row in data.timeline}
    assert rows["before the change"] == "2026-03-29 00:45:00"  # 01:45 CET
    assert rows["after the change"] == "2026-03-29 01:30:00"  # 03:30 CEST
    texts = [row.text for row in data.timeline]
    assert texts.index("before the change") < texts.index("after the change")


def test_durations_are_real_time_even_for_times_kept_in_a_local_zone():
    """Two Berlin-zoned times across the spring change are two hours apart, not three."""
    berlin = ZoneInfo("Europe/Berlin")
    start = datetime(2026, 3, 29, 1, 0, tzinfo=berlin)
    end = datetime(2026, 3, 29, 4, 0, tzinfo=berlin)
    inc = incident(
        started_at=start, detected_at=start, declared_at=start, resolved_at=end, roles=[]
    )
    fired = alert(0, started_at=start, received_at=start, resolved_at=end)
    data = build(inc, alerts=[fired])
    assert durations(data)["Time to resolve"] == "2h"
    assert data.alerts[0].duration == "2h"
    assert data.milestones[5].when == "2026-03-29 02:00:00"


def test_missing_milestones_read_not_yet():
    """An incident still open has no mitigation or resolution: those measures are "not yet"."""
    data = build(incident(acknowledged_at=None))
    assert durations(data) == {
        "Time to detect": "10m",
        "Time to declare": "10m",
        "Time to acknowledge": NOT_YET,
        "Time to mitigate": NOT_YET,
        "Time to resolve": NOT_YET,
    }
    assert [m.seconds for m in data.measures][2:] == [None, None, None]
    closed = [m for m in data.milestones if m.label == "Closed"]
    assert closed[0].when == NOT_YET and closed[0].at is None


def test_first_alert_before_the_first_human_report():
    """An alert that fired before anyone spoke: the draft shows the gap people missed."""
    alerts = [alert(3, id=2, monitor="api"), alert(1, id=1, monitor="www")]
    entries = [entry(8, "users complain", 1, kind=EntryKind.REPORT)]
    data = build(incident(), entries, alerts)
    assert data.first_alert is not None
    assert (data.first_alert.monitor, data.first_alert.source) == ("www", "uptimerobot")
    assert (data.first_alert.started, data.first_alert.received) == (
        "2026-03-01 23:30:00",
        "2026-03-01 23:31:00",
    )
    assert (data.first_report.author, data.first_report.text) == ("bob", "users complain")
    assert data.first_report.via == "a report entry"
    assert data.detection == (
        "The first alert fired 8m before the first human report "
        "(it reached Opsroom 1m after it fired)."
    )


def test_first_alert_is_the_one_that_fired_first_not_the_one_received_first():
    """A slow monitor's alert that fired earlier is the first alert, however late it came."""
    late = alert(9, id=2, monitor="slow", started_at=at(-5))
    data = build(incident(), [], [alert(1, id=1, monitor="fast"), late])
    assert data.first_alert is not None and data.first_alert.monitor == "slow"
    assert data.first_alert.delivery == "it reached Opsroom 14m after it fired"


def test_first_human_report_before_the_first_alert():
    """A person saw it first (a chat message marked as a report), and the alert came later."""
    entries = [entry(2, "502s!", 1, source=EntrySource.MESSAGE, kind=EntryKind.REPORT)]
    data = build(incident(), entries, [alert(5)])
    assert data.first_report.via == "a Discord message"
    assert data.detection == (
        "The first human report came 2m before the first alert fired "
        "(it reached Opsroom 1m after it fired)."
    )


def test_a_report_at_the_moment_the_alert_fired_reads_at_the_same_time():
    """A zero gap reads "at the same time", never "0s before"."""
    entries = [entry(4, "down", 1, kind=EntryKind.REPORT)]
    data = build(incident(), entries, [alert(5, received_at=at(4), started_at=at(4))])
    assert data.detection == (
        "The first alert fired at the same time as the first human report "
        "(it reached Opsroom as it fired)."
    )


def test_notes_and_evidence_are_never_the_first_human_report():
    """A pasted log line (evidence) or a note before the declaration does not report it."""
    entries = [
        entry(1, "ERROR pool exhausted", 1, kind=EntryKind.EVIDENCE),
        entry(2, "a note", 2),
    ]
    data = build(incident(), entries, [alert(5)])
    assert data.first_report.via == "the declaration"
    assert data.detection.startswith("The first alert fired 6m before the first human report")


def test_the_declaration_is_the_first_report_when_nobody_spoke_earlier():
    """System entries, alert entries and acknowledgements are not reports; the declaration is."""
    entries = [
        entry(1, "Impact began", 1, source=EntrySource.SYSTEM),
        entry(2, "Alert firing", 2, source=EntrySource.ALERT, author=None, kind=EntryKind.ALERT),
        entry(3, "Alert acknowledged by bob", 3, kind=EntryKind.ALERT),
        entry(10, "Declared sev2", 4, kind=EntryKind.DECLARED, source=EntrySource.SYSTEM),
        entry(11, "later note", 5),
    ]
    data = build(incident(), entries)
    report = data.first_report
    assert (report.author, report.when, report.text) == (
        "alice",
        "2026-03-01 23:40:00",
        "Declared sev2",
    )
    assert report.via == "the declaration"
    assert data.first_alert is None
    assert data.detection.startswith("No monitor alert is attached")


def test_timeline_authors_name_people_alert_sources_or_opsroom():
    """A person's entry shows the person; an alert's its source; a system entry "Opsroom"."""
    entries = [
        entry(1, "a", 1),
        entry(2, "b", 2, source=EntrySource.ALERT, author=None, alert_id=1),
        entry(3, "c", 3, source=EntrySource.SYSTEM, author=None),
        entry(4, "d", 4, source=EntrySource.ALERT, author=None, alert_id=99),
    ]
    data = build(incident(), entries, [alert(1)])
    assert [r.author for r in data.timeline] == ["bob", "uptimerobot", "Opsroom", "alert"]


def test_every_role_holder_past_and_present_with_their_stretches():
    """Hand-overs and ended roles stay in the header, in the order they began."""
    roles = [
        RoleAssignment(IncidentRole.COMMANDER, ALICE, at(10), ended_at=at(40)),
        RoleAssignment(IncidentRole.OPS, CAROL, at(20)),
        RoleAssignment(IncidentRole.SCRIBE, BOB, at(15), ended_at=at(35)),
        RoleAssignment(IncidentRole.COMMANDER, BOB, at(40)),
        RoleAssignment(IncidentRole.COMMS, ALICE, at(40)),
    ]
    data = build(incident(roles=roles))
    assert data.commander == "bob"
    assert [(r.role, r.person, r.since, r.until) for r in data.roles] == [
        ("commander", "alice", "2026-03-01 23:40:00", "2026-03-02 00:10:00"),
        ("scribe", "bob", "2026-03-01 23:45:00", "2026-03-02 00:05:00"),
        ("ops", "carol", "2026-03-01 23:50:00", None),
        ("commander", "bob", "2026-03-02 00:10:00", None),
        ("comms", "alice", "2026-03-02 00:10:00", None),
    ]


def test_sections_are_none_until_written_and_the_declared_summary_leads():
    """Unwritten sections are None (the template prompts); notes append in order."""
    notes = [
        PostmortemNote(1, PostmortemSection.SUMMARY, "more", ALICE, at(50)),
        PostmortemNote(1, PostmortemSection.LUCKY, "quiet night", BOB, at(51)),
        PostmortemNote(1, PostmortemSection.LUCKY, "backup fresh", BOB, at(52)),
    ]
    data = build(incident(summary="Queue stopped."), notes=notes)
    assert data.summary == ("Queue stopped.", "more")
    assert data.lucky == ("quiet night", "backup fresh")
    assert data.impact is None and data.root_cause is None and data.supporting is None
    assert build(incident()).summary is None


def test_action_rows_show_owner_due_and_status():
    """Action items in number order with owner, due date and when they were done."""
    actions = [
        ActionItem(1, "second", ActionKind.PREVENT, at(60), ALICE, seq=2),
        ActionItem(
            1,
            "first",
            ActionKind.DETECT,
            at(60),
            ALICE,
            owner=BOB,
            due=date(2026, 3, 9),
            seq=1,
            status=ActionStatus.DONE,
            done_at=at(90),
            done_by=BOB,
        ),
    ]
    rows = build(incident(), actions=actions).actions
    assert [(a.seq, a.text, a.kind, a.owner, a.due, a.status, a.done) for a in rows] == [
        (1, "first", "detect", "bob", "2026-03-09", "done", "2026-03-02 01:00:00"),
        (2, "second", "prevent", None, None, "open", None),
    ]


def test_alert_rows_carry_every_time_and_who_acknowledged():
    """Resolved alerts get a duration; a source-side acknowledgement names the source."""
    resolved = alert(
        1,
        id=1,
        acknowledged_at=at(4),
        acknowledged_by=CAROL,
        count=3,
        state=AlertState.RESOLVED,
        resolved_at=at(61),
    )
    firing = alert(2, id=2, source=AlertSource.EVENTS, acknowledged_at=at(3))
    rows = build(incident(), alerts=[firing, resolved]).alerts
    got = [
        (a.source, a.acknowledged_by, a.acknowledged, a.resolved, a.duration, a.count) for a in rows
    ]
    assert got == [
        ("uptimerobot", "carol", "2026-03-01 23:34:00", "2026-03-02 00:31:00", "1h 01m", 3),
        ("events", "events", "2026-03-01 23:33:00", None, None, 1),
    ]
    assert rows[0].started == "2026-03-01 23:30:00" and rows[0].received == "2026-03-01 23:31:00"


def test_links_from_timeline_and_alerts_are_deduplicated_in_order():
    """Every jump URL and alert link once, timeline first, in event order."""
    entries = [
        entry(2, "b", 2, jump_url="https://discord.com/channels/1/2/4"),
        entry(1, "a", 1, jump_url="https://discord.com/channels/1/2/3"),
        entry(3, "c", 3, jump_url="https://discord.com/channels/1/2/3"),
        entry(4, "alert", 4, jump_url="https://grafana.example/d/1"),
    ]
    alerts = [
        alert(1, link="https://grafana.example/d/1"),
        alert(2, id=2, link="https://x.example"),
    ]
    assert build(incident(), entries, alerts).links == (
        "https://discord.com/channels/1/2/3",
        "https://discord.com/channels/1/2/4",
        "https://grafana.example/d/1",
        "https://x.example",
    )


def test_times_are_shown_in_utc_whatever_offset_they_carry():
    """A milestone stored with another offset is shown as the same instant in UTC."""
    berlin = T0.astimezone(ZoneInfo("Europe/Berlin"))
    data = build(incident(started_at=berlin))
    assert data.started == "2026-03-01 23:30:00"
    assert data.milestones[0].when == "2026-03-01 23:30:00"


async def test_draft_of_an_unknown_incident_is_not_found(services):
    """Asking for an incident that does not exist gives a readable NotFoundError."""
    with pytest.raises(NotFoundError, match="#42"):
        await services.postmortem.draft(GUILD, IncidentRef(number=42))
