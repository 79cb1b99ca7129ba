"""A known incident, played through the real services, for postmortem golden-file tests.

The same story runs over the in-memory fakes (unit tests) and a migrated SQLite or
PostgreSQL database (integration tests), so both must render the same Markdown.
It crosses midnight UTC, has an alert that fired before anyone noticed and was received
two minutes later, two unanswered escalation pings before anyone declared (from the alert,
which acknowledges it), a log line pasted as evidence at its log time, a message added to
the timeline after the fact and then marked as a report, a backdated entry, a deleted
entry, a hand-set start of impact, a hand-over, a role that ended, action items and some
(not all) postmortem sections.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from bot.core.alerts import AlertSignal, AlertSource, SignalAction
from bot.core.milestones import MilestoneName
from bot.core.model import (
    ActionKind,
    EntryKind,
    IncidentRole,
    Member,
    Person,
    PostmortemSection,
    Severity,
)
from bot.core.model import Status as S
from bot.core.ports import UnitOfWork
from bot.core.services import ChatMessage, IncidentRef, Services, ingest_signals
from tests.fakes import FakeClock

RESPONDER_ROLE = 900
ONCALL_ROLE = 901
ALICE = Member(Person(11, "alice"), frozenset({RESPONDER_ROLE}))
BOB = Member(Person(12, "bob"), frozenset({RESPONDER_ROLE}))
CAROL = Person(13, "carol")
CHANNEL = 7001
JUMP = "https://discord.com/channels/{guild}/7001/8001"
GRAPH = "https://grafana.example.com/d/api?from=now-1h&panel=(errors)"


def t(day: int, hour: int, minute: int, second: int = 0) -> datetime:
    """A UTC time in March 2026."""
    return datetime(2026, 3, day, hour, minute, second, tzinfo=UTC)


async def play(
    services: Services, uow_factory: Callable[[], UnitOfWork], clock: FakeClock, guild: int
) -> int:
    """Run the story for `guild` (set up with RESPONDER_ROLE) and return the incident number."""
    webhook, _token = await services.webhooks.create(guild, AlertSource.ALERTMANAGER, "prod", None)
    async with uow_factory() as uow:
        config = await uow.guilds.get(guild)
        assert config is not None
        config.oncall_role_id = ONCALL_ROLE
        await uow.guilds.save(config)
        await uow.commit()
    signal = AlertSignal(
        AlertSource.ALERTMANAGER,
        SignalAction.TRIGGER,
        "fp-1",
        monitor="api-gateway",
        title="HighErrorRate | 5xx > 5%",
        episode_key="2026-03-01T23:38:00Z",
        link=GRAPH,
        started_at=t(1, 23, 38),
    )
    clock.current = t(1, 23, 40)
    async with uow_factory() as uow:
        [ingested] = await ingest_signals(uow, webhook, [signal], clock.now())
        await uow.commit()
    assert ingested.alert is not None and ingested.alert.id is not None
    for minute in (45, 50):  # nobody answers the on-call pings
        clock.current = t(1, 23, minute)
        assert len(await services.alerts.escalate_due()) == 1

    clock.current = t(1, 23, 55)
    incident = await services.incidents.declare(
        guild,
        ALICE,
        title="API returns 502s",
        severity=Severity.SEV2,
        commander=BOB.person,
        summary="The public API answered 502 to most requests.",
        started="-20m",
        alert_id=ingested.alert.id,
    )
    ref = IncidentRef(number=incident.number)
    await services.incidents.link_discord(guild, incident.number, channel_id=CHANNEL)
    clock.current = t(1, 23, 58)
    await services.timeline.add(
        guild,
        BOB,
        ref,
        "ERROR pool: no connection available (api-7)",
        at="2026-03-01T23:36:40Z",
        kind=EntryKind.EVIDENCE,
    )
    clock.current = t(2, 0, 0)
    await services.incidents.assign_role(guild, ALICE, ref, CAROL, IncidentRole.SCRIBE)
    clock.current = t(2, 0, 3)
    await services.incidents.set_severity(guild, BOB, ref, Severity.SEV1)
    clock.current = t(2, 0, 5)
    text = "Seeing 502s on the API | @everyone"
    message = ChatMessage(
        8001, CHANNEL, BOB.person, text, t(1, 23, 52, 10), JUMP.format(guild=guild)
    )
    reported, _ = await services.timeline.add_message(guild, ALICE, message)
    await services.timeline.edit(guild, ALICE, ref, reported.seq, kind=EntryKind.REPORT)
    mistake = await services.timeline.add(guild, ALICE, ref, "typo, ignore")
    await services.timeline.delete(guild, ALICE, ref, mistake.seq)
    clock.current = t(2, 0, 10)
    await services.incidents.set_commander(guild, BOB, ref, ALICE.person)
    clock.current = t(2, 0, 12)
    await services.incidents.set_status(
        guild, ALICE, ref, S.IDENTIFIED, "Connection pool exhausted after deploy 4.2"
    )
    clock.current = t(2, 0, 20)
    await services.timeline.add(guild, BOB, ref, "Rolled back to 4.1", at="-2m")
    clock.current = t(2, 0, 25)
    await services.incidents.set_status(guild, ALICE, ref, S.MONITORING)
    clock.current = t(2, 0, 26)
    resolved = AlertSignal(
        AlertSource.ALERTMANAGER,
        SignalAction.RESOLVE,
        "fp-1",
        monitor="api-gateway",
        title="HighErrorRate | 5xx > 5%",
        episode_key="2026-03-01T23:38:00Z",
        ended_at=t(2, 0, 24, 30),
    )
    async with uow_factory() as uow:
        await ingest_signals(uow, webhook, [resolved], clock.now())
        await uow.commit()
    clock.current = t(2, 0, 40)
    await services.incidents.resolve(guild, ALICE, ref, "Error rate back to normal")
    clock.current = t(2, 0, 41)
    await services.incidents.unassign_role(guild, ALICE, ref, CAROL, IncidentRole.SCRIBE)

    clock.current = t(2, 9, 0)
    first = await services.actions.add(
        guild,
        ALICE,
        ref,
        "Alert on connection-pool saturation",
        owner=ALICE.person,
        kind=ActionKind.DETECT,
        due="2026-03-09",
    )
    await services.actions.add(guild, ALICE, ref, "Add a canary stage", kind=ActionKind.PREVENT)
    await services.actions.done(guild, BOB, ref, first.seq)
    notes = [
        (PostmortemSection.IMPACT, "About 70% of API requests failed for 45 minutes."),
        (PostmortemSection.ROOT_CAUSE, "Deploy 4.2 halved the pool:\n\n```\npool_size: 5\n```"),
        (PostmortemSection.WENT_WELL, "The alert fired within 2 minutes."),
        (PostmortemSection.WENT_WELL, "Rollback took one command."),
        (PostmortemSection.LUCKY, "It happened at night, with little traffic."),
    ]
    for section, text in notes:
        await services.postmortem.add_note(guild, ALICE, ref, section, text)
    clock.current = t(2, 9, 20)
    started = "2026-03-01T23:36:00Z"  # the responders found the first failed request
    await services.incidents.set_milestone(guild, ALICE, ref, MilestoneName.STARTED, started)
    clock.current = t(2, 9, 30)
    await services.incidents.close(guild, ALICE, ref)
    return incident.number
