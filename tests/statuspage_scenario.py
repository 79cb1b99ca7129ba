"""An outage run through the real services, with secrets everywhere the public must not see.

The same story runs over the fakes and over SQLite / PostgreSQL. Every private field
(internal title, summary, timeline, names, alerts, monitor names) carries a marker from
`SECRETS`, so a test can grep every public answer for them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from bot.core.alerts import AlertSignal, AlertSource, SignalAction
from bot.core.model import GuildConfig, IncidentRole, Member, Person, Severity, Status
from bot.core.ports import UnitOfWork
from bot.core.services import IncidentRef, Services, ingest_signals
from bot.core.statuspage import ComponentState, Impact
from tests.fakes import FakeClock

RESPONDER_ROLE = 900
ADMIN = Member(Person(10, "Admin Zed"), frozenset({RESPONDER_ROLE}), manage_guild=True)
ALICE = Member(Person(11, "Alice Secretname"), frozenset({RESPONDER_ROLE}))  # commander
BOB = Member(Person(12, "Bob Hiddenname"), frozenset({RESPONDER_ROLE}))  # responder only
CAROL = Member(Person(13, "Carol Privatename"), frozenset({RESPONDER_ROLE}))  # comms
SLUG = "acme"
ANNOUNCEMENTS = 5551

SECRETS = (
    "Secretname",
    "Hiddenname",
    "Privatename",
    "INTERNAL-TITLE-db-primary-oom",
    "SUMMARY-password-hunter2",
    "TIMELINE-ssh-root@10.0.0.5",
    "ALERT-TITLE-kube-node-7",
    "MONITOR-internal-pg-exporter",
    "STATUS-NOTE-rollback-sha-deadbeef",
)


def t(hour: int, minute: int = 0) -> datetime:
    """A UTC time on 1 March 2026."""
    return datetime(2026, 3, 1, hour, minute, tzinfo=UTC)


@dataclass
class Outage:
    """What the story made."""

    number: int
    incident_id: int
    maintenance_id: int


async def setup_guild(uow_factory: Callable[[], UnitOfWork], guild: int) -> None:
    """The guild as /opsroom setup leaves it."""
    async with uow_factory() as uow:
        await uow.guilds.save(
            GuildConfig(
                guild,
                responder_role_id=RESPONDER_ROLE,
                alerts_channel_id=101,
                operating_room_id=102,
                incident_category_id=103,
            )
        )
        await uow.commit()


async def page_with_components(services: Services, guild: int, slug: str = SLUG) -> None:
    """An enabled page with an announcements channel and three components in two groups."""
    await services.statuspage.enable(guild, ADMIN, slug, "Acme Status", ANNOUNCEMENTS)
    await services.statuspage.add_component(guild, BOB, "API", "Core")
    await services.statuspage.add_component(guild, BOB, "Web app", "Core")
    await services.statuspage.add_component(guild, BOB, "Email", None)


async def play(
    services: Services, uow_factory: Callable[[], UnitOfWork], clock: FakeClock, guild: int
) -> Outage:
    """Declare, publish, two public updates, private chatter, an alert, a maintenance."""
    await setup_guild(uow_factory, guild)
    clock.current = t(9)
    await page_with_components(services, guild)
    webhook, _ = await services.webhooks.create(guild, AlertSource.EVENTS, "prod", None)
    signal = AlertSignal(
        AlertSource.EVENTS,
        SignalAction.TRIGGER,
        "k1",
        monitor="MONITOR-internal-pg-exporter",
        title="ALERT-TITLE-kube-node-7",
    )
    clock.current = t(10)
    async with uow_factory() as uow:
        [ingested] = await ingest_signals(uow, webhook, [signal], clock.now())
        await uow.commit()
    assert ingested.alert is not None
    incident = await services.incidents.declare(
        guild,
        ALICE,
        title="INTERNAL-TITLE-db-primary-oom",
        severity=Severity.SEV1,
        summary="SUMMARY-password-hunter2",
        alert_id=ingested.alert.id,
    )
    ref = IncidentRef(number=incident.number)
    await services.incidents.assign_role(guild, ALICE, ref, CAROL.person, IncidentRole.COMMS)
    await services.timeline.add(guild, BOB, ref, "TIMELINE-ssh-root@10.0.0.5")
    clock.current = t(10, 5)
    await services.statuspage.publish(
        guild, ALICE, ref, "Elevated API errors", "API, Web app", Impact.MAJOR
    )
    clock.current = t(10, 10)
    await services.incidents.post_update(
        guild, CAROL, ref, "Some requests fail; we are on it.", public=True
    )
    await services.incidents.set_status(
        guild, ALICE, ref, Status.IDENTIFIED, "STATUS-NOTE-rollback-sha-deadbeef"
    )
    clock.current = t(10, 20)
    await services.incidents.post_update(
        guild, ALICE, ref, "Fix rolling out; errors are dropping.", public=True
    )
    await services.incidents.post_update(guild, BOB, ref, "TIMELINE-ssh-root@10.0.0.5 again")
    maintenance = await services.statuspage.schedule_maintenance(
        guild, BOB, "Database upgrade", "2026-03-02 02:00", "2026-03-02 03:00", "Email"
    )
    await services.statuspage.set_component(guild, BOB, "Email", ComponentState.OPERATIONAL)
    assert incident.id is not None and maintenance.id is not None
    return Outage(incident.number, incident.id, maintenance.id)


async def maintenance_story(
    services: Services, uow_factory: Callable[[], UnitOfWork], clock: FakeClock, guild: int
) -> None:
    """Inside a window the listed monitors' new alerts are "in maintenance", unescalated; an
    alert already firing when the window starts is quieted when its escalation comes due;
    other monitors escalate as usual; cancelling the window ends the quiet for new alerts
    and gives the quiet ones back to escalation."""
    await setup_guild(uow_factory, guild)
    webhook, _ = await services.webhooks.create(guild, AlertSource.EVENTS, "prod", None)

    async def fire(key: str, monitor: str):  # noqa: ANN202
        signal = AlertSignal(AlertSource.EVENTS, SignalAction.TRIGGER, key, monitor, "down")
        async with uow_factory() as uow:
            [ingested] = await ingest_signals(uow, webhook, [signal], clock.now())
            await uow.commit()
        return ingested.alert

    early = await fire("early", "db")  # before the window: escalation planned
    window = await services.statuspage.schedule_maintenance(
        guild, BOB, "DB upgrade", "+1m", "+1h", None, "db, cache"
    )
    clock.advance(minutes=2)
    inside = await fire("in", "DB")  # names match ignoring case
    other = await fire("other", "web")
    assert inside.maintenance_id == window.id and inside.next_escalation_at is None
    assert other.maintenance_id is None and other.next_escalation_at is not None
    clock.advance(minutes=10)
    escalated = {a.id for a, _ in await services.alerts.escalate_due()}
    assert escalated == {other.id}
    quieted = await services.alerts.get(guild, early.id)
    assert quieted.maintenance_id == window.id and quieted.next_escalation_at is None
    await services.statuspage.cancel_maintenance(guild, BOB, window.id)
    after = await fire("after", "db")
    assert after.maintenance_id is None and after.next_escalation_at is not None
    resumed = await services.alerts.get(guild, inside.id)  # quiet no more: escalates again
    assert resumed.maintenance_id is None
    assert resumed.next_escalation_at == clock.now() + timedelta(minutes=5)
