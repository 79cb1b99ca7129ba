"""Incident, timeline, action and note use cases over the in-memory fakes."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from bot.core.errors import (
    ConflictError,
    NotConfiguredError,
    NotFoundError,
    PermissionDeniedError,
    ValidationError,
)
from bot.core.events import Event, Topic
from bot.core.model import (
    ActionKind,
    ActionStatus,
    EntryKind,
    EntrySource,
    IncidentRole,
    Person,
    PostmortemSection,
    RevisionAction,
    Severity,
    Status,
)
from bot.core.services import ChatMessage, IncidentRef
from tests.unit.conftest import GUILD

OTHER_GUILD = 200


async def declare(services, actor, title="API down", **kw):
    """Declare a sev2 incident in GUILD."""
    kw.setdefault("severity", Severity.SEV2)
    return await services.incidents.declare(GUILD, actor, title=title, **kw)


async def test_incidents_are_numbered_per_guild(services, responder, admin):
    """Numbers count up within a guild and start again at 1 in another."""
    numbers = [(await declare(services, responder, f"i{n}")).number for n in range(3)]
    other = await services.incidents.declare(
        OTHER_GUILD, admin, title="elsewhere", severity=Severity.SEV3
    )
    assert numbers == [1, 2, 3]
    assert other.number == 1


async def test_declare_records_entry_and_queues_cards(services, db, responder):
    """Declaring stores the incident, a 'declared' timeline entry, and outbox events."""
    inc = await declare(services, responder, summary="5xx everywhere")
    entries = await services.timeline.show(GUILD, IncidentRef(inc.number))
    assert [e.kind for e in entries] == [EntryKind.DECLARED]
    assert "5xx everywhere" in entries[0].text and "commander alice" in entries[0].text
    assert db.events() == [
        Event(Topic.ENTRY_ADDED, GUILD, entries[0].id),
        Event(Topic.INCIDENT_CHANGED, GUILD, inc.id),
    ]


async def test_declare_with_backdated_start_in_guild_timezone(services, clock, responder):
    """`started` 12:30 in Europe/Berlin (UTC+1 in March) is 11:30 UTC, on the timeline too."""
    clock.current = datetime(2026, 3, 1, 12, 45, tzinfo=UTC)
    inc = await declare(services, responder, started="12:30")
    assert inc.started_at == datetime(2026, 3, 1, 11, 30, tzinfo=UTC)
    entries = await services.timeline.show(GUILD, IncidentRef(inc.number))
    assert entries[0].event_at == inc.started_at  # impact began comes first in event order
    assert entries[0].text == "Impact began (as declared)"


async def test_watcher_is_refused_everything_but_reading(services, responder, watcher):
    """A member without the responder role can read but every change is refused."""
    inc = await declare(services, responder)
    ref = IncidentRef(inc.number)
    attempts = [
        declare(services, watcher),
        services.incidents.set_status(GUILD, watcher, ref, Status.IDENTIFIED),
        services.incidents.set_severity(GUILD, watcher, ref, Severity.SEV1),
        services.incidents.set_commander(GUILD, watcher, ref, watcher.person),
        services.incidents.post_update(GUILD, watcher, ref, "hi"),
        services.timeline.add(GUILD, watcher, ref, "note"),
        services.actions.add(GUILD, watcher, ref, "fix"),
        services.postmortem.add_note(GUILD, watcher, ref, PostmortemSection.SUMMARY, "x"),
    ]
    for attempt in attempts:
        with pytest.raises(PermissionDeniedError, match="<@&900>"):
            await attempt
    assert (await services.incidents.get(GUILD, ref)).status is Status.INVESTIGATING
    assert len(await services.timeline.show(GUILD, ref)) == 1


async def test_manage_server_may_act_even_before_setup(services, admin, watcher):
    """Manage Server always may; others in an unconfigured guild are told to run setup."""
    inc = await services.incidents.declare(OTHER_GUILD, admin, title="x", severity=Severity.SEV4)
    assert inc.number == 1
    with pytest.raises(NotConfiguredError, match="/opsroom setup"):
        await services.incidents.declare(OTHER_GUILD, watcher, title="y", severity=Severity.SEV4)


async def test_incident_found_by_channel_or_thread(services, responder):
    """Without a number, the command's channel or operating-room thread names the incident."""
    inc = await declare(services, responder)
    await services.incidents.link_discord(GUILD, inc.number, channel_id=77, room_thread_id=78)
    for channel in (77, 78):
        found = await services.incidents.get(GUILD, IncidentRef(channel_id=channel))
        assert found.id == inc.id
    with pytest.raises(NotFoundError, match="incident option"):
        await services.incidents.get(GUILD, IncidentRef(channel_id=79))
    with pytest.raises(NotFoundError, match="#42"):
        await services.incidents.get(GUILD, IncidentRef(42))


async def test_whole_lifecycle_is_on_the_timeline(services, clock, responder):
    """Commander, roles, severity, status and updates each leave a timeline entry."""
    inc = await declare(services, responder)
    ref = IncidentRef(inc.number)
    bob, carol = Person(2, "bob"), Person(3, "carol")
    steps = [
        services.incidents.set_commander(GUILD, responder, ref, bob),
        services.incidents.assign_role(GUILD, responder, ref, carol, IncidentRole.COMMS),
        services.incidents.set_severity(GUILD, responder, ref, Severity.SEV1),
        services.incidents.set_status(GUILD, responder, ref, Status.IDENTIFIED, "bad deploy"),
        services.incidents.post_update(GUILD, responder, ref, "Rolling back"),
        services.incidents.set_status(GUILD, responder, ref, Status.MONITORING),
        services.incidents.unassign_role(GUILD, responder, ref, carol, IncidentRole.COMMS),
        services.incidents.resolve(GUILD, responder, ref, "fixed"),
        services.incidents.close(GUILD, responder, ref),
    ]
    for step in steps:
        clock.advance(minutes=1)
        await step
    entries = await services.timeline.show(GUILD, ref)
    assert [e.text for e in entries] == [
        entries[0].text,
        "Command handed over from alice to bob",
        "carol is now comms",
        "Severity sev2 → sev1 (critical)",
        "Status investigating → identified: bad deploy",
        "Rolling back",
        "Status identified → monitoring",
        "carol is no longer comms",
        "Status monitoring → resolved: fixed",
        "Status resolved → closed",
    ]
    final = await services.incidents.get(GUILD, ref)
    assert final.commander == bob and final.latest_update == "Rolling back"
    t0 = inc.declared_at
    assert final.mitigated_at == t0 + timedelta(minutes=6)
    assert final.resolved_at == t0 + timedelta(minutes=8)
    assert final.closed_at == t0 + timedelta(minutes=9)


async def test_failed_change_leaves_nothing_behind(services, db, responder):
    """A refused change rolls back: no entry, no event, no half-saved incident."""
    inc = await declare(services, responder)
    before = (len(db.store.entries), len(db.store.outbox))
    with pytest.raises(ConflictError):
        await services.incidents.set_status(
            GUILD, responder, IncidentRef(inc.number), Status.INVESTIGATING
        )
    assert (len(db.store.entries), len(db.store.outbox)) == before


async def test_closed_incident_refuses_updates_but_can_be_reopened(services, responder):
    """After close only a status change (reopen) is allowed; notes still are."""
    inc = await declare(services, responder)
    ref = IncidentRef(inc.number)
    await services.incidents.close(GUILD, responder, ref)
    with pytest.raises(ConflictError, match="closed"):
        await services.incidents.post_update(GUILD, responder, ref, "late")
    await services.timeline.add(GUILD, responder, ref, "found the log line afterwards")
    reopened = await services.incidents.set_status(GUILD, responder, ref, Status.INVESTIGATING)
    assert reopened.closed_at is None and reopened.resolved_at is None


async def test_timeline_add_at_parses_guild_time(services, clock, responder):
    """`-15m` and `HH:MM` (guild timezone) set the event time, not the recorded time."""
    inc = await declare(services, responder)
    ref = IncidentRef(inc.number)
    relative = await services.timeline.add(GUILD, responder, ref, "first errors", "-15m")
    assert relative.event_at == clock.now() - timedelta(minutes=15)
    assert relative.recorded_at == clock.now()
    wall = await services.timeline.add(GUILD, responder, ref, "pager", "12:50")
    assert wall.event_at == datetime(2026, 3, 1, 11, 50, tzinfo=UTC)
    entries = await services.timeline.show(GUILD, ref)
    assert [e.text for e in entries][:2] == ["first errors", "pager"]  # event order, not seq
    assert [e.seq for e in await services.timeline.show(GUILD, ref, last=1)] == [1]  # declared


@pytest.mark.parametrize("text", ["", "   ", "x" * 4001])
async def test_timeline_refuses_empty_or_huge_text(services, responder, text):
    """Entry text must say something and stay within what Discord can show."""
    inc = await declare(services, responder)
    with pytest.raises(ValidationError):
        await services.timeline.add(GUILD, responder, IncidentRef(inc.number), text)


async def test_message_added_twice_gives_one_entry(services, responder):
    """The context menu on the same message twice keeps one entry, with the message's data."""
    inc = await declare(services, responder)
    await services.incidents.link_discord(GUILD, inc.number, channel_id=77)
    sent = datetime(2026, 3, 1, 11, 58, tzinfo=UTC)
    msg = ChatMessage(555, 77, Person(9, "erin"), "  disk full on db-2 ", sent, "https://x/555")
    entry, created = await services.timeline.add_message(GUILD, responder, msg)
    again, created_again = await services.timeline.add_message(GUILD, responder, msg)
    assert (created, created_again) == (True, False)
    assert again.id == entry.id
    assert (entry.text, entry.author, entry.event_at, entry.source) == (
        "disk full on db-2",
        Person(9, "erin"),
        sent,
        EntrySource.MESSAGE,
    )
    assert entry.jump_url == "https://x/555"
    assert len(await services.timeline.show(GUILD, IncidentRef(inc.number))) == 2


async def test_edit_and_delete_keep_an_audit_trail(services, db, clock, responder):
    """Edits change the entry and keep the old text; deletes hide it and are audited."""
    inc = await declare(services, responder)
    ref = IncidentRef(inc.number)
    entry = await services.timeline.add(GUILD, responder, ref, "db cpu 100%")
    clock.advance(minutes=2)
    edited = await services.timeline.edit(GUILD, responder, ref, entry.seq, "db cpu 90%", "-10m")
    assert edited.text == "db cpu 90%" and edited.edited_at == clock.now()
    assert edited.event_at == clock.now() - timedelta(minutes=10)
    await services.timeline.delete(GUILD, responder, ref, entry.seq)
    assert entry.seq not in [e.seq for e in await services.timeline.show(GUILD, ref)]
    revisions = db.store.revisions
    assert [(r.action, r.old_text) for r in revisions] == [
        (RevisionAction.EDIT, "db cpu 100%"),
        (RevisionAction.DELETE, "db cpu 90%"),
    ]
    with pytest.raises(NotFoundError, match="no timeline entry"):
        await services.timeline.edit(GUILD, responder, ref, entry.seq, "again")


async def test_actions_are_numbered_per_incident_and_done_once(services, clock, responder):
    """Action items get 1, 2… per incident, a due date in guild terms, and can be done."""
    inc = await declare(services, responder)
    ref = IncidentRef(inc.number)
    first = await services.actions.add(
        GUILD,
        responder,
        ref,
        "add disk alert",
        kind=ActionKind.DETECT,
        due="+3d",
        owner=Person(2, "bob"),
    )
    second = await services.actions.add(GUILD, responder, ref, "runbook", due="2026-04-01")
    assert (first.seq, second.seq) == (1, 2)
    assert first.due == date(2026, 3, 4) and second.kind is ActionKind.REPAIR
    done = await services.actions.done(GUILD, responder, ref, 1)
    again = await services.actions.done(GUILD, responder, ref, 1)
    assert done.status is ActionStatus.DONE and again.done_at == done.done_at
    assert [a.status for a in await services.actions.list(GUILD, ref)] == [
        ActionStatus.DONE,
        ActionStatus.OPEN,
    ]
    with pytest.raises(ValidationError, match="due date"):
        await services.actions.add(GUILD, responder, ref, "x", due="someday")
    with pytest.raises(NotFoundError):
        await services.actions.done(GUILD, responder, ref, 9)


async def test_postmortem_notes_append_per_section(services, db, responder):
    """Several notes for one section are all kept, in order."""
    inc = await declare(services, responder)
    ref = IncidentRef(inc.number)
    for text in ("first", "second"):
        await services.postmortem.add_note(GUILD, responder, ref, PostmortemSection.IMPACT, text)
    assert [(n.section, n.text) for n in db.store.notes] == [
        (PostmortemSection.IMPACT, "first"),
        (PostmortemSection.IMPACT, "second"),
    ]


async def test_configure_is_manage_server_only_and_keeps_unset_values(services, admin, responder):
    """Setup again with fewer values keeps the rest; bad timezones are refused."""
    with pytest.raises(PermissionDeniedError):
        await services.guilds.configure(GUILD, responder, timezone="UTC")
    config = await services.guilds.configure(GUILD, admin, timezone="America/New_York")
    assert config.timezone == "America/New_York" and config.responder_role_id == 900
    with pytest.raises(ValidationError, match="Unknown timezone"):
        await services.guilds.configure(GUILD, admin, timezone="Mars/Olympus")
    with pytest.raises(ValidationError, match="Unknown setting"):
        await services.guilds.configure(GUILD, admin, colour="red")
