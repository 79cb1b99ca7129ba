"""The SQL repositories and unit of work against real SQLite and PostgreSQL databases."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Index, UniqueConstraint, make_url, text
from sqlalchemy.exc import IntegrityError, StatementError

from bot.adapters.db import SqlUnitOfWork, check_connection, create_engine, session_factory
from bot.adapters.db.engine import LOCK_WAIT_MS
from bot.adapters.db.errors import RULE_MESSAGES
from bot.adapters.db.tables import metadata
from bot.core.alerts import Alert, AlertSource, AlertState
from bot.core.errors import ConflictError, NotFoundError, StorageUnavailableError
from bot.core.events import Event, Topic
from bot.core.model import (
    ActionItem,
    ActionKind,
    ActionStatus,
    EntryKind,
    EntrySource,
    GuildConfig,
    Incident,
    IncidentRole,
    Person,
    PostmortemNote,
    PostmortemSection,
    RevisionAction,
    RoleAssignment,
    Severity,
    Status,
    TimelineEntry,
    TimelineRevision,
)
from bot.core.webhooks import Webhook, hash_token
from tests.fakes import FakeClock
from tests.integration.databases import Database

UowFactory = Callable[[], SqlUnitOfWork]

GUILD = 1_180_000_000_000_000_001  # snowflakes are past 2**60: they need BIGINT
OTHER_GUILD = 1_180_000_000_000_000_002
ALICE = Person(1_190_000_000_000_000_011, "alice")
BOB = Person(1_190_000_000_000_000_012, "Bob 🛠")
CAROL = Person(1_190_000_000_000_000_013, "carol")
PLUS2 = timezone(timedelta(hours=2))
T0 = datetime(2025, 3, 14, 11, 26, 53, 589793, tzinfo=PLUS2)  # not UTC on purpose


def at(minutes: float) -> datetime:
    """T0 plus some minutes."""
    return T0 + timedelta(minutes=minutes)


def assert_utc(obj: Any) -> None:
    """Every datetime in a (nested) dataclass is timezone-aware UTC."""
    for field in dataclasses.fields(obj):
        value = getattr(obj, field.name)
        values = value if isinstance(value, list) else [value]
        for item in values:
            if isinstance(item, datetime):
                assert item.tzinfo is not None, field.name
                assert item.utcoffset() == timedelta(0), field.name
            elif dataclasses.is_dataclass(item):
                assert_utc(item)


def make_incident(guild_id: int = GUILD, **fields: Any) -> Incident:
    """A minimal incident with Alice in command."""
    values: dict[str, Any] = {
        "guild_id": guild_id,
        "number": 0,
        "title": "Database down",
        "severity": Severity.SEV2,
        "status": Status.INVESTIGATING,
        "declared_by": ALICE,
        "started_at": at(-10),
        "detected_at": at(-5),
        "declared_at": T0,
        "roles": [RoleAssignment(IncidentRole.COMMANDER, ALICE, T0)],
    }
    values.update(fields)
    return Incident(**values)


def make_entry(incident_id: int, text_: str = "noted", **fields: Any) -> TimelineEntry:
    """A typed timeline note."""
    values: dict[str, Any] = {
        "incident_id": incident_id,
        "kind": EntryKind.NOTE,
        "source": EntrySource.COMMAND,
        "text": text_,
        "event_at": T0,
        "recorded_at": T0,
        "author": ALICE,
    }
    values.update(fields)
    return TimelineEntry(**values)


def make_alert(stream_key: str = "monitor-1", **fields: Any) -> Alert:
    """A firing UptimeRobot alert (no episode key)."""
    values: dict[str, Any] = {
        "guild_id": GUILD,
        "source": AlertSource.UPTIMEROBOT,
        "stream_key": stream_key,
        "episode_key": None,
        "monitor": "api.example.org",
        "title": "api.example.org is down",
        "state": AlertState.FIRING,
        "started_at": T0,
        "received_at": T0,
        "last_seen_at": T0,
    }
    values.update(fields)
    return Alert(**values)


async def declare(uow_factory: UowFactory, guild_id: int = GUILD, **fields: Any) -> Incident:
    """Store an incident in its own committed unit of work."""
    incident = make_incident(guild_id, **fields)
    async with uow_factory() as uow:
        await uow.incidents.add(incident)
        await uow.commit()
    return incident


# --- guild configuration ---------------------------------------------------------------


async def test_guild_config_round_trips_every_field(uow_factory: UowFactory) -> None:
    """A saved GuildConfig comes back equal, cadence keyed by Severity with its None kept."""
    config = GuildConfig(
        guild_id=GUILD,
        responder_role_id=1_200_000_000_000_000_001,
        oncall_role_id=1_200_000_000_000_000_002,
        escalation_role_id=1_200_000_000_000_000_003,
        alerts_channel_id=1_200_000_000_000_000_004,
        operating_room_id=1_200_000_000_000_000_005,
        incident_category_id=1_200_000_000_000_000_006,
        timezone="Europe/Berlin",
        escalation_minutes=7,
        escalation_repeats=2,
        update_cadence_minutes={
            Severity.SEV1: 10,
            Severity.SEV2: 20,
            Severity.SEV3: None,
            Severity.SEV4: None,
        },
        postmortem_template="# {{ incident.title }}",
    )
    async with uow_factory() as uow:
        assert await uow.guilds.get(GUILD) is None
        await uow.guilds.save(config)
        await uow.commit()
    async with uow_factory() as uow:
        loaded = await uow.guilds.get(GUILD)
    assert loaded == config
    assert loaded is not None and all(
        isinstance(k, Severity) for k in loaded.update_cadence_minutes
    )


async def test_guild_save_updates_the_existing_row(uow_factory: UowFactory) -> None:
    """Saving a config again updates it in place; other guilds are untouched."""
    async with uow_factory() as uow:
        await uow.guilds.save(GuildConfig(guild_id=GUILD))
        await uow.guilds.save(GuildConfig(guild_id=OTHER_GUILD, timezone="Asia/Tokyo"))
        await uow.commit()
    async with uow_factory() as uow:
        await uow.guilds.save(GuildConfig(guild_id=GUILD, responder_role_id=42, timezone="UTC"))
        await uow.commit()
    async with uow_factory() as uow:
        first, other = await uow.guilds.get(GUILD), await uow.guilds.get(OTHER_GUILD)
    assert first is not None and first.responder_role_id == 42
    assert other is not None and other.timezone == "Asia/Tokyo"


# --- incidents ---------------------------------------------------------------------------


async def test_incident_round_trips_every_field(uow_factory: UowFactory) -> None:
    """Every Incident field, roles included, comes back equal and with UTC datetimes."""
    incident = make_incident(
        title="Payments failing — «EU»",
        severity=Severity.SEV1,
        status=Status.MONITORING,
        acknowledged_at=at(1),
        mitigated_at=at(2),
        resolved_at=at(3),
        closed_at=at(4),
        summary="Card payments time out.",
        latest_update="Failover done.",
        latest_update_at=at(5),
        channel_id=1_300_000_000_000_000_001,
        card_message_id=1_300_000_000_000_000_002,
        room_message_id=1_300_000_000_000_000_003,
        room_thread_id=1_300_000_000_000_000_004,
        roles=[
            RoleAssignment(IncidentRole.COMMANDER, ALICE, T0),
            RoleAssignment(IncidentRole.SCRIBE, BOB, at(1), ended_at=at(2)),
            RoleAssignment(IncidentRole.OPS, CAROL, at(3)),
        ],
    )
    async with uow_factory() as uow:
        await uow.incidents.add(incident)
        await uow.commit()
    assert incident.id is not None and incident.number == 1
    assert all(role.id is not None for role in incident.roles)
    async with uow_factory() as uow:
        by_id = await uow.incidents.get_by_id(incident.id)
        by_number = await uow.incidents.get(GUILD, 1)
    assert by_id == incident
    assert by_number == incident
    assert by_id is not None
    assert_utc(by_id)
    assert by_id.started_at == at(-10)
    assert by_id.commander == ALICE
    assert by_id.holders(IncidentRole.OPS) == [CAROL]


async def test_missing_incident_is_none(uow_factory: UowFactory) -> None:
    """Looking up an incident that does not exist gives None, not an error."""
    async with uow_factory() as uow:
        assert await uow.incidents.get(GUILD, 1) is None
        assert await uow.incidents.get_by_id(12345) is None
        assert await uow.incidents.by_channel(GUILD, 999) is None


async def test_incident_numbers_count_per_guild(uow_factory: UowFactory) -> None:
    """Numbers go 1, 2, 3 in one guild and start again at 1 in another."""
    numbers = [(await declare(uow_factory)).number for _ in range(3)]
    other = await declare(uow_factory, OTHER_GUILD)
    assert numbers == [1, 2, 3]
    assert other.number == 1


async def test_concurrent_declares_get_distinct_numbers(uow_factory: UowFactory) -> None:
    """Ten units of work that read then declare at once all get different numbers, 1 to 10."""

    async def one() -> int:
        incident = make_incident()
        async with uow_factory() as uow:
            await uow.guilds.get(GUILD)  # a read first, as the real service does
            await uow.incidents.list(GUILD)
            await uow.incidents.add(incident)
            await asyncio.sleep(0)
            await uow.commit()
        return incident.number

    numbers = await asyncio.gather(*(one() for _ in range(10)))
    assert sorted(numbers) == list(range(1, 11))
    async with uow_factory() as uow:
        stored = await uow.incidents.list(GUILD)
    assert sorted(i.number for i in stored) == list(range(1, 11))


async def test_by_channel_finds_working_channel_and_room_thread(uow_factory: UowFactory) -> None:
    """The incident is found from its channel or its operating-room thread, in its guild only."""
    incident = await declare(uow_factory, channel_id=501, room_thread_id=502)
    await declare(uow_factory, channel_id=601, room_thread_id=602)
    async with uow_factory() as uow:
        from_channel = await uow.incidents.by_channel(GUILD, 501)
        from_thread = await uow.incidents.by_channel(GUILD, 502)
        elsewhere = await uow.incidents.by_channel(OTHER_GUILD, 501)
    assert from_channel is not None and from_channel.id == incident.id
    assert from_thread is not None and from_thread.id == incident.id
    assert elsewhere is None


async def test_list_is_newest_first_and_filters_by_status(uow_factory: UowFactory) -> None:
    """`list` gives a guild's incidents newest first, optionally only some statuses."""
    await declare(uow_factory, status=Status.RESOLVED)
    await declare(uow_factory, status=Status.INVESTIGATING)
    await declare(uow_factory, status=Status.MONITORING)
    await declare(uow_factory, OTHER_GUILD)
    async with uow_factory() as uow:
        everything = await uow.incidents.list(GUILD)
        open_ = await uow.incidents.list(GUILD, {Status.INVESTIGATING, Status.MONITORING})
        none = await uow.incidents.list(GUILD, [])
    assert [i.number for i in everything] == [3, 2, 1]
    assert [i.number for i in open_] == [3, 2]
    assert none == []
    assert all(i.roles for i in everything)


async def test_save_writes_changed_fields(uow_factory: UowFactory) -> None:
    """Saving an incident stores its new status, severity and milestones."""
    incident = await declare(uow_factory)
    async with uow_factory() as uow:
        loaded = await uow.incidents.get_by_id(incident.id or 0)
        assert loaded is not None
        loaded.status = Status.MONITORING
        loaded.severity = Severity.SEV1
        loaded.mitigated_at = at(30)
        loaded.latest_update = "Rolled back."
        loaded.latest_update_at = at(31)
        await uow.incidents.save(loaded)
        await uow.commit()
    async with uow_factory() as uow:
        again = await uow.incidents.get_by_id(incident.id or 0)
    assert again == loaded


async def test_saving_an_incident_that_was_never_stored_fails(uow_factory: UowFactory) -> None:
    """Saving an incident whose row is gone is a NotFoundError, not a silent no-op."""
    ghost = make_incident(id=987654, number=9)
    async with uow_factory() as uow:
        with pytest.raises(NotFoundError, match="no longer exists"):
            await uow.incidents.save(ghost)


async def test_commander_handover_ends_the_old_and_adds_the_new(uow_factory: UowFactory) -> None:
    """Handing over command ends Alice's assignment and stores Bob's as the active one."""
    incident = await declare(uow_factory)
    async with uow_factory() as uow:
        loaded = await uow.incidents.get_by_id(incident.id or 0)
        assert loaded is not None
        loaded.roles[0].ended_at = at(20)
        loaded.roles.append(RoleAssignment(IncidentRole.COMMANDER, BOB, at(20)))
        await uow.incidents.save(loaded)
        await uow.commit()
    assert loaded.roles[1].id is not None
    async with uow_factory() as uow:
        again = await uow.incidents.get_by_id(incident.id or 0)
    assert again is not None
    assert again.commander == BOB
    assert [(a.person, a.ended_at) for a in again.roles] == [(ALICE, at(20)), (BOB, None)]


async def test_database_refuses_two_active_commanders(uow_factory: UowFactory) -> None:
    """A second active commander breaks the partial unique index and reads as a conflict."""
    incident = await declare(uow_factory)
    async with uow_factory() as uow:
        loaded = await uow.incidents.get_by_id(incident.id or 0)
        assert loaded is not None
        loaded.roles.append(RoleAssignment(IncidentRole.COMMANDER, BOB, at(5)))
        with pytest.raises(ConflictError, match="already has an active commander"):
            await uow.incidents.save(loaded)
    async with uow_factory() as uow:
        again = await uow.incidents.get_by_id(incident.id or 0)
    assert again is not None and [a.person for a in again.roles] == [ALICE]


async def test_several_holders_of_other_roles_are_allowed(uow_factory: UowFactory) -> None:
    """Only the commander is unique: two scribes at once are fine."""
    incident = await declare(
        uow_factory,
        roles=[
            RoleAssignment(IncidentRole.COMMANDER, ALICE, T0),
            RoleAssignment(IncidentRole.SCRIBE, BOB, T0),
            RoleAssignment(IncidentRole.SCRIBE, CAROL, T0),
        ],
    )
    async with uow_factory() as uow:
        loaded = await uow.incidents.get_by_id(incident.id or 0)
    assert loaded is not None and loaded.holders(IncidentRole.SCRIBE) == [BOB, CAROL]


# --- timeline ----------------------------------------------------------------------------


async def test_timeline_entry_round_trips_every_field(uow_factory: UowFactory) -> None:
    """Every TimelineEntry field comes back equal, the alert link and message id included."""
    incident = await declare(uow_factory)
    alert = make_alert()
    entry = make_entry(
        incident.id or 0,
        "api is down",
        kind=EntryKind.ALERT,
        source=EntrySource.MESSAGE,
        event_at=at(-3),
        recorded_at=at(1),
        author=BOB,
        jump_url="https://discord.com/channels/1/2/3",
        message_id=1_400_000_000_000_000_001,
        edited_at=at(2),
        deleted_at=None,
    )
    async with uow_factory() as uow:
        await uow.alerts.add(alert)
        entry.alert_id = alert.id
        await uow.timeline.add(entry)
        await uow.commit()
    assert entry.id is not None and entry.seq == 1
    async with uow_factory() as uow:
        by_id = await uow.timeline.get_by_id(entry.id)
        by_seq = await uow.timeline.get(incident.id or 0, 1)
        by_message = await uow.timeline.by_message(incident.id or 0, 1_400_000_000_000_000_001)
    assert by_id == by_seq == by_message == entry
    assert by_id is not None
    assert_utc(by_id)


async def test_entry_without_author_keeps_none(uow_factory: UowFactory) -> None:
    """A system entry has no author, and reads back with author None."""
    incident = await declare(uow_factory)
    entry = make_entry(incident.id or 0, source=EntrySource.SYSTEM, author=None)
    async with uow_factory() as uow:
        await uow.timeline.add(entry)
        await uow.commit()
    async with uow_factory() as uow:
        loaded = await uow.timeline.get_by_id(entry.id or 0)
    assert loaded is not None and loaded.author is None


async def test_timeline_orders_by_event_time_then_seq(uow_factory: UowFactory) -> None:
    """Entries list in event order, a backdated one first, ties kept in the order added."""
    incident = await declare(uow_factory)
    iid = incident.id or 0
    async with uow_factory() as uow:
        for label, minutes in [("b1", 5), ("c", 10), ("a", -20), ("b2", 5), ("b3", 5)]:
            await uow.timeline.add(make_entry(iid, label, event_at=at(minutes)))
        await uow.commit()
    async with uow_factory() as uow:
        entries = await uow.timeline.list(iid)
    assert [e.text for e in entries] == ["a", "b1", "b2", "b3", "c"]
    assert [e.seq for e in entries] == [3, 1, 4, 5, 2]


async def test_timeline_last_keeps_the_latest_in_ascending_order(uow_factory: UowFactory) -> None:
    """`last=N` gives the N latest entries, still oldest first; 0 gives none."""
    incident = await declare(uow_factory)
    iid = incident.id or 0
    async with uow_factory() as uow:
        for minutes in [4, 1, 3, 2, 5]:
            await uow.timeline.add(make_entry(iid, f"m{minutes}", event_at=at(minutes)))
        await uow.commit()
    async with uow_factory() as uow:
        last3 = await uow.timeline.list(iid, last=3)
        last10 = await uow.timeline.list(iid, last=10)
        last0 = await uow.timeline.list(iid, last=0)
    assert [e.text for e in last3] == ["m3", "m4", "m5"]
    assert [e.text for e in last10] == ["m1", "m2", "m3", "m4", "m5"]
    assert last0 == []


async def test_seq_counts_per_incident(uow_factory: UowFactory) -> None:
    """Timeline entries are numbered 1, 2… separately in each incident."""
    first, second = await declare(uow_factory), await declare(uow_factory)
    async with uow_factory() as uow:
        a1, a2 = make_entry(first.id or 0), make_entry(first.id or 0)
        b1 = make_entry(second.id or 0)
        for entry in (a1, a2, b1):
            await uow.timeline.add(entry)
        await uow.commit()
    assert (a1.seq, a2.seq, b1.seq) == (1, 2, 1)


async def test_edit_and_delete_keep_an_audit_trail(uow_factory: UowFactory) -> None:
    """An edit then a delete leave two revisions; the deleted entry is hidden unless asked."""
    incident = await declare(uow_factory)
    iid = incident.id or 0
    keep, doomed = make_entry(iid, "keep"), make_entry(iid, "first words", event_at=at(1))
    async with uow_factory() as uow:
        await uow.timeline.add(keep)
        await uow.timeline.add(doomed)
        await uow.commit()
    edit = TimelineRevision(doomed.id or 0, RevisionAction.EDIT, at(10), BOB, doomed.text, at(1))
    doomed.text, doomed.event_at, doomed.edited_at = "better words", at(2), at(10)
    delete = TimelineRevision(
        doomed.id or 0, RevisionAction.DELETE, at(11), CAROL, doomed.text, at(2)
    )
    async with uow_factory() as uow:
        await uow.timeline.save(doomed, edit)
        doomed.deleted_at = at(11)
        await uow.timeline.save(doomed, delete)
        await uow.commit()
    assert edit.id is not None and delete.id is not None
    async with uow_factory() as uow:
        shown = await uow.timeline.list(iid)
        everything = await uow.timeline.list(iid, include_deleted=True)
        revisions = await uow.timeline.revisions(doomed.id or 0)
        stored = await uow.timeline.get_by_id(doomed.id or 0)
    assert [e.text for e in shown] == ["keep"]
    assert [e.text for e in everything] == ["keep", "better words"]
    assert revisions == [edit, delete]
    assert all(r.at.utcoffset() == timedelta(0) for r in revisions)
    assert stored == doomed and stored is not None and stored.deleted


async def test_the_same_message_twice_is_a_conflict(uow_factory: UowFactory) -> None:
    """Adding one Discord message to an incident twice is refused with a readable conflict."""
    first, second = await declare(uow_factory), await declare(uow_factory)
    message = 1_400_000_000_000_000_077
    async with uow_factory() as uow:
        await uow.timeline.add(make_entry(first.id or 0, message_id=message))
        await uow.timeline.add(make_entry(second.id or 0, message_id=message))  # other incident
        await uow.commit()
    async with uow_factory() as uow:
        with pytest.raises(ConflictError, match="already on the incident's timeline"):
            await uow.timeline.add(make_entry(first.id or 0, message_id=message))
    async with uow_factory() as uow:
        assert len(await uow.timeline.list(first.id or 0)) == 1


async def test_entries_without_message_id_do_not_collide(uow_factory: UowFactory) -> None:
    """Typed entries (no message id) may be many: NULL message ids never conflict."""
    incident = await declare(uow_factory)
    async with uow_factory() as uow:
        for _ in range(3):
            await uow.timeline.add(make_entry(incident.id or 0, message_id=None))
        await uow.commit()
        assert len(await uow.timeline.list(incident.id or 0)) == 3


async def test_entry_for_a_missing_incident_is_an_integrity_error(uow_factory: UowFactory) -> None:
    """A broken foreign key is a bug, not a rule: it propagates as IntegrityError."""
    async with uow_factory() as uow:
        with pytest.raises(IntegrityError):
            await uow.timeline.add(make_entry(424242))


# --- action items and postmortem notes ----------------------------------------------------


async def test_action_items_round_trip_with_seq_per_incident(uow_factory: UowFactory) -> None:
    """Actions get 1, 2 per incident, round-trip every field and save their completion."""
    first, second = await declare(uow_factory), await declare(uow_factory)
    one = ActionItem(
        incident_id=first.id or 0,
        text="Add disk alert",
        kind=ActionKind.DETECT,
        created_at=T0,
        created_by=ALICE,
        owner=BOB,
        due=date(2025, 4, 1),
    )
    two = ActionItem(first.id or 0, "Write runbook", ActionKind.PROCESS, T0, ALICE)
    elsewhere = ActionItem(second.id or 0, "Fix it", ActionKind.REPAIR, T0, BOB)
    async with uow_factory() as uow:
        for action in (one, two, elsewhere):
            await uow.actions.add(action)
        await uow.commit()
    assert (one.seq, two.seq, elsewhere.seq) == (1, 2, 1)
    one.status, one.done_at, one.done_by = ActionStatus.DONE, at(60), CAROL
    async with uow_factory() as uow:
        await uow.actions.save(one)
        await uow.commit()
    async with uow_factory() as uow:
        listed = await uow.actions.list(first.id or 0)
        got = await uow.actions.get(first.id or 0, 2)
        missing = await uow.actions.get(first.id or 0, 3)
    assert listed == [one, two]
    assert got == two and got is not None and got.owner is None and got.due is None
    assert missing is None
    assert_utc(listed[0])


async def test_postmortem_notes_keep_the_order_they_were_added(uow_factory: UowFactory) -> None:
    """Notes come back equal, in the order added, only for their incident."""
    first, second = await declare(uow_factory), await declare(uow_factory)
    notes = [
        PostmortemNote(first.id or 0, PostmortemSection.IMPACT, "EU users", ALICE, at(5)),
        PostmortemNote(first.id or 0, PostmortemSection.SUMMARY, "Disk full", BOB, at(1)),
        PostmortemNote(first.id or 0, PostmortemSection.IMPACT, "and US", CAROL, at(3)),
    ]
    async with uow_factory() as uow:
        for note in notes:
            await uow.notes.add(note)
        await uow.notes.add(PostmortemNote(second.id or 0, PostmortemSection.LUCKY, "x", BOB, T0))
        await uow.commit()
    async with uow_factory() as uow:
        listed = await uow.notes.list(first.id or 0)
    assert listed == notes
    assert all(note.id is not None for note in notes)


# --- alerts ------------------------------------------------------------------------------


async def test_alert_round_trips_every_field(uow_factory: UowFactory, database: Database) -> None:
    """Every Alert field comes back equal: the details dict, the Person, the times in UTC."""
    incident = await declare(uow_factory)
    webhook = Webhook(GUILD, AlertSource.ALERTMANAGER, "prod", hash_token("t"), T0)
    alert = make_alert(
        "fp-1",
        source=AlertSource.ALERTMANAGER,
        episode_key="2025-03-14T09:20:00Z",
        severity="critical",
        details={"instance": "db-1:9100", "summary": "Disk 97% — «full»"},
        link="https://prometheus.example.org/graph",
        count=3,
        acknowledged_at=at(2),
        acknowledged_by=BOB,
        resolved_at=None,
        escalation_level=2,
        next_escalation_at=at(10),
        relay_channel_id=1_500_000_000_000_000_001,
        relay_message_id=1_500_000_000_000_000_002,
    )
    async with uow_factory() as uow:
        await uow.webhooks.add(webhook)
        alert.webhook_id, alert.incident_id = webhook.id, incident.id
        await uow.alerts.add(alert)
        await uow.commit()
    async with uow_factory() as uow:
        loaded = await uow.alerts.get(alert.id or 0)
        attached = await uow.alerts.for_incident(incident.id or 0)
        assert await uow.alerts.get(999999) is None
    assert loaded == alert
    assert attached == [alert]
    assert loaded is not None
    assert_utc(loaded)


async def test_find_episode_and_find_open(uow_factory: UowFactory) -> None:
    """find_episode matches the exact episode; find_open only a firing alert of the stream."""
    keyed = make_alert("fp", source=AlertSource.ALERTMANAGER, episode_key="e1")
    unkeyed = make_alert("m-7")
    async with uow_factory() as uow:
        await uow.alerts.add(keyed)
        await uow.alerts.add(unkeyed)
        await uow.commit()
    async with uow_factory() as uow:
        episode = await uow.alerts.find_episode(GUILD, AlertSource.ALERTMANAGER, "fp", "e1")
        wrong_episode = await uow.alerts.find_episode(GUILD, AlertSource.ALERTMANAGER, "fp", "e2")
        wrong_source = await uow.alerts.find_episode(GUILD, AlertSource.GRAFANA, "fp", "e1")
        open_ = await uow.alerts.find_open(GUILD, AlertSource.UPTIMEROBOT, "m-7")
        other_guild = await uow.alerts.find_open(OTHER_GUILD, AlertSource.UPTIMEROBOT, "m-7")
        assert open_ is not None
        open_.state, open_.resolved_at = AlertState.RESOLVED, at(5)
        await uow.alerts.save(open_)
        after_resolve = await uow.alerts.find_open(GUILD, AlertSource.UPTIMEROBOT, "m-7")
    assert episode == keyed
    assert wrong_episode is None and wrong_source is None and other_guild is None
    assert open_.id == unkeyed.id
    assert after_resolve is None


async def test_one_firing_alert_per_stream_without_episode(uow_factory: UowFactory) -> None:
    """A second firing unkeyed alert of a stream is refused; after resolve a new one is fine."""
    first = make_alert("m-1")
    async with uow_factory() as uow:
        await uow.alerts.add(first)
        await uow.alerts.add(make_alert("m-2"))  # another stream
        await uow.alerts.add(make_alert("m-1", guild_id=OTHER_GUILD))  # another guild
        await uow.commit()
    async with uow_factory() as uow:
        with pytest.raises(ConflictError, match="already has an open alert"):
            await uow.alerts.add(make_alert("m-1"))
    async with uow_factory() as uow:
        first.state, first.resolved_at = AlertState.RESOLVED, at(5)
        await uow.alerts.save(first)
        second = make_alert("m-1", started_at=at(6))
        await uow.alerts.add(second)
        await uow.commit()
    assert second.id is not None and second.id != first.id


async def test_explicit_episodes_are_unique_but_may_fire_together(uow_factory: UowFactory) -> None:
    """Two firing episodes of one Alertmanager stream coexist; the same episode twice does not."""
    kwargs: dict[str, Any] = {"source": AlertSource.ALERTMANAGER}
    async with uow_factory() as uow:
        await uow.alerts.add(make_alert("fp", episode_key="e1", **kwargs))
        await uow.alerts.add(make_alert("fp", episode_key="e2", **kwargs))
        await uow.commit()
    async with uow_factory() as uow:
        with pytest.raises(ConflictError, match="episode is already recorded"):
            await uow.alerts.add(make_alert("fp", episode_key="e1", **kwargs))


async def test_attached_incident_only_while_the_incident_is_open(uow_factory: UowFactory) -> None:
    """A stream's earlier alert points at its incident while that incident is open, not after."""
    incident = await declare(uow_factory)
    old = make_alert("m-1", state=AlertState.RESOLVED, resolved_at=at(1), incident_id=incident.id)
    async with uow_factory() as uow:
        await uow.alerts.add(old)
        await uow.alerts.add(make_alert("m-2"))  # unattached
        await uow.commit()
    async with uow_factory() as uow:
        found = await uow.alerts.attached_incident(GUILD, AlertSource.UPTIMEROBOT, "m-1")
        unattached = await uow.alerts.attached_incident(GUILD, AlertSource.UPTIMEROBOT, "m-2")
        other_source = await uow.alerts.attached_incident(GUILD, AlertSource.EVENTS, "m-1")
        other_guild = await uow.alerts.attached_incident(
            OTHER_GUILD, AlertSource.UPTIMEROBOT, "m-1"
        )
    assert found == incident.id
    assert unattached is None and other_source is None and other_guild is None
    for status in (Status.IDENTIFIED, Status.MONITORING, Status.RESOLVED, Status.CLOSED):
        async with uow_factory() as uow:
            loaded = await uow.incidents.get_by_id(incident.id or 0)
            assert loaded is not None
            loaded.status = status
            await uow.incidents.save(loaded)
            await uow.commit()
            found = await uow.alerts.attached_incident(GUILD, AlertSource.UPTIMEROBOT, "m-1")
        assert found == (incident.id if status.is_open else None), status


async def test_due_escalations(uow_factory: UowFactory) -> None:
    """Only firing, unacknowledged alerts whose escalation time has come are due, soonest first."""
    later = make_alert("later", next_escalation_at=at(6))
    now_due = make_alert("due", next_escalation_at=at(5))
    earlier = make_alert("earlier", next_escalation_at=at(1), guild_id=OTHER_GUILD)
    acked = make_alert("acked", next_escalation_at=at(1), acknowledged_at=at(0.5))
    resolved = make_alert(
        "resolved", state=AlertState.RESOLVED, resolved_at=at(1), next_escalation_at=at(1)
    )
    never = make_alert("never", next_escalation_at=None)
    async with uow_factory() as uow:
        for alert in (later, now_due, earlier, acked, resolved, never):
            await uow.alerts.add(alert)
        await uow.commit()
    async with uow_factory() as uow:
        due = await uow.alerts.due_escalations(at(5).astimezone(UTC))
        due_before = await uow.alerts.due_escalations(at(0))
    assert [a.stream_key for a in due] == ["earlier", "due"]
    assert due_before == []


# --- webhooks, meta, outbox ---------------------------------------------------------------


async def test_webhook_round_trip_lookup_and_revoke(uow_factory: UowFactory) -> None:
    """Webhooks are found by hash and by (guild, id), listed per guild, and can be revoked."""
    first = Webhook(
        GUILD,
        AlertSource.GRAFANA,
        "grafana",
        hash_token("a"),
        T0,
        created_by=ALICE,
        signing_secret="hmac-key",
    )
    second = Webhook(GUILD, AlertSource.EVENTS, "agent", hash_token("b"), at(1))
    foreign = Webhook(OTHER_GUILD, AlertSource.GRAFANA, "graf", hash_token("c"), at(2))
    async with uow_factory() as uow:
        for webhook in (first, second, foreign):
            await uow.webhooks.add(webhook)
        await uow.commit()
    first.revoked_at = at(9)
    async with uow_factory() as uow:
        await uow.webhooks.save(first)
        await uow.commit()
    async with uow_factory() as uow:
        by_hash = await uow.webhooks.by_hash(hash_token("a"))
        unknown = await uow.webhooks.by_hash(hash_token("nope"))
        by_id = await uow.webhooks.get(GUILD, second.id or 0)
        cross_guild = await uow.webhooks.get(GUILD, foreign.id or 0)
        listed = await uow.webhooks.list(GUILD)
    assert by_hash == first and by_hash is not None and not by_hash.active
    assert_utc(by_hash)
    assert unknown is None and cross_guild is None
    assert by_hash is not None and by_hash.signing_secret == "hmac-key"
    assert by_id == second and by_id is not None and by_id.created_by is None
    assert by_id.signing_secret is None
    assert listed == [first, second]


async def test_duplicate_token_hash_is_a_conflict(uow_factory: UowFactory) -> None:
    """Two webhooks can never share a token hash."""
    async with uow_factory() as uow:
        await uow.webhooks.add(Webhook(GUILD, AlertSource.EVENTS, "a", hash_token("x"), T0))
        with pytest.raises(ConflictError, match="token already exists"):
            await uow.webhooks.add(Webhook(GUILD, AlertSource.EVENTS, "b", hash_token("x"), T0))


async def test_meta_get_and_set(uow_factory: UowFactory) -> None:
    """Meta values are None until set, and setting again replaces them."""
    async with uow_factory() as uow:
        assert await uow.meta.get("command_tree_hash") is None
        await uow.meta.set("command_tree_hash", "abc")
        await uow.meta.set("other", "1")
        await uow.commit()
    async with uow_factory() as uow:
        await uow.meta.set("command_tree_hash", "def")
        await uow.commit()
    async with uow_factory() as uow:
        assert await uow.meta.get("command_tree_hash") == "def"
        assert await uow.meta.get("other") == "1"


async def test_outbox_pending_in_order_and_mark_done(
    uow_factory: UowFactory, clock: FakeClock
) -> None:
    """Pending events come oldest first with the clock's time; done ones are not pending."""
    topics = [Topic.INCIDENT_CHANGED, Topic.ENTRY_ADDED, Topic.ALERT_CHANGED, Topic.ALERT_ESCALATED]
    async with uow_factory() as uow:
        for n, topic in enumerate(topics):
            clock.advance(seconds=1)
            await uow.outbox.add(Event(topic, GUILD, 1_600_000_000_000_000_000 + n))
        await uow.commit()
    async with uow_factory() as uow:
        first_two = await uow.outbox.pending(limit=2)
        everything = await uow.outbox.pending()
        await uow.outbox.mark_done([e.id for e in first_two], clock.now())
        await uow.outbox.mark_done([], clock.now())
        await uow.commit()
    async with uow_factory() as uow:
        left = await uow.outbox.pending()
    assert [e.event.topic for e in everything] == topics
    assert everything[:2] == first_two
    assert everything[0].event == Event(Topic.INCIDENT_CHANGED, GUILD, 1_600_000_000_000_000_000)
    assert [e.created_at for e in everything] == sorted(e.created_at for e in everything)
    assert everything[-1].created_at == clock.now()
    assert everything[-1].created_at.tzinfo is not None
    assert left == everything[2:]


async def test_outbox_events_are_invisible_until_commit(uow_factory: UowFactory) -> None:
    """An event recorded in an open unit of work is not pending for anyone else yet."""
    async with uow_factory() as writer:
        await writer.outbox.add(Event(Topic.INCIDENT_CHANGED, GUILD, 1))
        await writer.commit()
    async with uow_factory() as writer:
        await writer.outbox.add(Event(Topic.INCIDENT_CHANGED, GUILD, 2))
    async with uow_factory() as reader:
        pending = await reader.outbox.pending()
    assert [e.event.subject_id for e in pending] == [1]


# --- unit of work --------------------------------------------------------------------------


async def test_rollback_on_exception_leaves_nothing(uow_factory: UowFactory) -> None:
    """An exception inside the unit of work rolls back every repository's changes."""
    with pytest.raises(RuntimeError, match="boom"):
        async with uow_factory() as uow:
            incident = make_incident()
            await uow.incidents.add(incident)
            await uow.timeline.add(make_entry(incident.id or 0))
            await uow.outbox.add(Event(Topic.INCIDENT_CHANGED, GUILD, incident.id or 0))
            await uow.meta.set("k", "v")
            raise RuntimeError("boom")
    async with uow_factory() as uow:
        assert await uow.incidents.list(GUILD) == []
        assert await uow.outbox.pending() == []
        assert await uow.meta.get("k") is None
        await uow.incidents.add(make_incident())
        await uow.commit()
    async with uow_factory() as uow:
        (only,) = await uow.incidents.list(GUILD)
    assert only.number == 1  # the rolled-back transaction gave its number back


async def test_leaving_without_commit_and_explicit_rollback(uow_factory: UowFactory) -> None:
    """Work not committed on exit is gone; rollback() drops work since the last commit."""
    async with uow_factory() as uow:
        await uow.meta.set("kept", "1")
        await uow.commit()
        await uow.meta.set("dropped", "1")
        await uow.rollback()
        await uow.meta.set("forgotten", "1")
    async with uow_factory() as uow:
        assert await uow.meta.get("kept") == "1"
        assert await uow.meta.get("dropped") is None
        assert await uow.meta.get("forgotten") is None


async def test_naive_datetimes_are_refused(uow_factory: UowFactory) -> None:
    """Storing a naive datetime fails loudly instead of guessing its zone."""
    async with uow_factory() as uow:
        with pytest.raises(StatementError, match="naive datetime"):
            await uow.incidents.add(make_incident(started_at=datetime(2025, 1, 1, 12, 0)))


async def test_sqlite_connections_get_the_pragmas(tmp_path: Path) -> None:
    """Every SQLite connection runs in WAL mode with foreign keys on and a busy timeout."""
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path}/pragmas.db")
    try:
        async with engine.connect() as connection:
            values = {
                name: (await connection.exec_driver_sql(f"PRAGMA {name}")).scalar()
                for name in ("journal_mode", "foreign_keys", "busy_timeout", "synchronous")
            }
    finally:
        await engine.dispose()
    assert values == {
        "journal_mode": "wal",
        "foreign_keys": 1,
        "busy_timeout": LOCK_WAIT_MS,  # below Discord's 3 s answer deadline
        "synchronous": 1,  # NORMAL
    }


def test_every_unique_rule_has_a_message() -> None:
    """Each unique constraint and unique index has a sentence for its ConflictError."""
    names = {
        str(item.name)
        for table in metadata.tables.values()
        for item in [*table.constraints, *table.indexes]
        if isinstance(item, UniqueConstraint) or (isinstance(item, Index) and item.unique)
    }
    assert names == set(RULE_MESSAGES)


# --- unreachable databases ----------------------------------------------------------------


async def test_unreachable_postgresql_is_storage_unavailable() -> None:
    """Nothing listens on port 1: the check and a unit of work both say the database is down."""
    engine = create_engine("postgresql+asyncpg://opsroom:secret@127.0.0.1:1/opsroom")
    try:
        with pytest.raises(
            StorageUnavailableError, match="127.0.0.1:1.*connection refused"
        ) as info:
            await check_connection(engine)
        assert "secret" not in str(info.value)
        with pytest.raises(StorageUnavailableError, match="connection refused"):
            async with SqlUnitOfWork(session_factory(engine)):
                pass
    finally:
        await engine.dispose()


async def test_missing_sqlite_directory_is_storage_unavailable(tmp_path: Path) -> None:
    """A SQLite file in a directory that does not exist is reported as such."""
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path}/absent/opsroom.db")
    try:
        with pytest.raises(StorageUnavailableError, match="absent does not exist"):
            await check_connection(engine)
    finally:
        await engine.dispose()


async def test_wrong_postgresql_password_is_storage_unavailable(postgres_url: str) -> None:
    """A rejected password is an unavailable database, with the server's reason."""
    wrong = make_url(postgres_url).set(password="wrong-password")
    engine = create_engine(wrong.render_as_string(hide_password=False))
    try:
        with pytest.raises(StorageUnavailableError, match="password authentication failed"):
            await check_connection(engine)
    finally:
        await engine.dispose()


async def test_check_connection_passes_on_a_live_database(database: Database) -> None:
    """check_connection is quiet when the database answers."""
    await check_connection(database.engine)
    async with database.engine.connect() as connection:
        assert (await connection.execute(text("SELECT 1"))).scalar() == 1


async def test_connection_lost_mid_transaction_is_storage_unavailable(
    migrated_postgres_url: str,
) -> None:
    """When the server kills the session's connection, the next query says so plainly."""
    engine = create_engine(migrated_postgres_url)
    sessions = session_factory(engine)
    try:
        async with SqlUnitOfWork(sessions) as uow:
            pid = (await uow.session.execute(text("SELECT pg_backend_pid()"))).scalar_one()
            async with engine.connect() as admin:
                await admin.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
                await admin.commit()
            with pytest.raises(StorageUnavailableError, match="connection was lost"):
                await uow.meta.get("anything")
        async with SqlUnitOfWork(sessions) as uow:  # the pool recovers
            assert await uow.meta.get("anything") is None
    finally:
        await engine.dispose()


async def test_on_commit_hook_runs_after_commit_only(database, clock):
    """The commit hook (which wakes the Discord relay) fires once per commit, never on rollback."""
    calls = []

    def factory():
        return SqlUnitOfWork(database.sessions, clock=clock, on_commit=lambda: calls.append(1))

    async with factory() as uow:
        await uow.meta.set("k", "v")
        await uow.rollback()
    assert calls == []
    async with factory() as uow:
        await uow.meta.set("k", "v")
        await uow.commit()
    assert calls == [1]
    async with factory() as uow:
        assert await uow.meta.get("k") == "v"
