"""The on-call rotation on real SQLite/PostgreSQL with the real scheduler and a hand-moved
clock: handoffs across a daylight-saving change and a restart, overrides, aways, and pages
that follow the person on duty (real Apprise to an ntfy receiver on loopback)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from cryptography.fernet import Fernet

from bot.adapters.db import SqlUnitOfWork, create_engine, session_factory
from bot.adapters.paging import AppriseUrls, PagerSender
from bot.adapters.scheduling import OpsroomScheduler
from bot.core.alerts import AlertSignal, AlertSource, EscalationTarget, SignalAction
from bot.core.events import Topic
from bot.core.model import GuildConfig, Member, Person, Severity
from bot.core.paging import GATHER, Notice, PagerLevel
from bot.core.services import IncidentRef, Services, ingest_signals
from tests.fakes import FakeClock
from tests.integration.databases import Database
from tests.receivers import NtfyReceiver

GUILD = 1_180_000_000_000_000_888
ADMIN = Member(Person(1_190_000_000_000_000_001, "admin"), manage_guild=True)
ALICE = Person(1_190_000_000_000_000_011, "alice")
BOB = Person(1_190_000_000_000_000_012, "bob")
CAROL = Person(1_190_000_000_000_000_013, "carol")
KEY = Fernet.generate_key()
# Friday 2026-03-27 12:00 UTC; Berlin moves its clocks forward on Sunday the 29th.
START = datetime(2026, 3, 27, 12, 0, tzinfo=UTC)


class Process:
    """One Opsroom process over the shared test database (a restart is a new one)."""

    def __init__(self, url: str, clock: FakeClock) -> None:
        self.engine = create_engine(url)
        sessions = session_factory(self.engine)
        self.uow_factory = lambda: SqlUnitOfWork(sessions, clock=clock)
        self.services = Services.build(
            self.uow_factory, clock, pager_urls=AppriseUrls(KEY), public_url="http://x.test"
        )
        self.scheduler = OpsroomScheduler.for_services(self.services, clock=clock)
        self.sender = PagerSender(self.services.paging, clock)

    async def close(self) -> None:
        await self.scheduler.shutdown()
        await self.engine.dispose()

    async def notices(self) -> list[Notice]:
        async with self.uow_factory() as uow:
            found = []
            for stored in await uow.outbox.pending(10_000):
                if stored.event.topic is Topic.PAGING_NOTICE:
                    found.append(await uow.paging.notice(stored.event.subject_id))
            return found  # type: ignore[return-value]


async def _setup(process: Process) -> None:
    async with process.uow_factory() as uow:
        await uow.guilds.save(
            GuildConfig(
                GUILD,
                responder_role_id=5,
                oncall_role_id=6,
                escalation_role_id=7,
                alerts_channel_id=8,
                timezone="Europe/Berlin",
            )
        )
        await uow.commit()


async def test_rotation_moves_the_role_across_dst_and_a_restart(database: Database):
    clock = FakeClock(START)
    first = Process(database.url, clock)
    await _setup(first)
    rotation = await first.services.oncall.set_rotation(
        GUILD, ADMIN, [ALICE, BOB, CAROL], "Sat 09:00", "1d"
    )
    assert rotation.next_handoff_at == datetime(2026, 3, 28, 8, 0, tzinfo=UTC)  # 09:00 CET
    [set_notice] = await first.notices()
    assert set_notice.role_to == ALICE.id and set_notice.role_from == []
    assert f"<@{ALICE.id}>" in set_notice.text and set_notice.ping_user_id == ALICE.id

    await first.scheduler.start()
    clock.current = datetime(2026, 3, 28, 8, 0, tzinfo=UTC)
    await first.scheduler.tick()
    handoff = (await first.notices())[-1]
    assert handoff.role_to == BOB.id and handoff.role_from == [ALICE.id]
    assert "Handoff" in handoff.text
    who = await first.services.oncall.who(GUILD)
    # Sunday's 09:00 in Berlin is in summer time (clocks went forward at 02:00): 07:00 UTC.
    assert who.duty.person == BOB
    assert who.rotation is not None
    assert who.rotation.next_handoff_at == datetime(2026, 3, 29, 7, 0, tzinfo=UTC)
    await first.close()

    # Down across the next handoff; the new process catches up once, from the rows.
    clock.current = datetime(2026, 3, 29, 7, 30, tzinfo=UTC)
    second = Process(database.url, clock)
    await second.scheduler.start()  # overdue timers run at start
    for _ in range(100):
        if len(await second.notices()) == 3:
            break
        await second.scheduler.tick()
    notices = await second.notices()
    assert len(notices) == 3
    assert notices[-1].role_to == CAROL.id and notices[-1].role_from == [BOB.id]
    await second.scheduler.tick()
    assert len(await second.notices()) == 3  # moved once, not again
    await second.close()


async def _page(process: Process, clock: FakeClock, stream: str) -> list[EscalationTarget]:
    """Fire one alert, let it escalate once, send the pages, then acknowledge it; returns
    whom its escalation pinged."""
    webhook, _ = await process.services.webhooks.create(GUILD, AlertSource.EVENTS, stream, ADMIN)
    signal = AlertSignal(AlertSource.EVENTS, SignalAction.TRIGGER, stream, "mon", f"{stream} down")
    async with process.uow_factory() as uow:
        [result] = await ingest_signals(uow, webhook, [signal], clock.now())
        await uow.commit()
    clock.advance(minutes=5)
    escalated = await process.services.alerts.escalate_due()
    clock.advance(seconds=GATHER.total_seconds())
    await process.sender.send_due()
    await process.sender.drain()
    assert result.alert is not None and result.alert.id is not None
    await process.services.alerts.acknowledge(GUILD, ADMIN, result.alert.id)  # one level each
    return [target for _, target in escalated]


async def test_pages_follow_the_person_on_duty_through_override_and_away(database: Database):
    clock = FakeClock(START)
    app = Process(database.url, clock)
    await _setup(app)
    async with NtfyReceiver() as ntfy:
        for who in (ALICE, BOB, CAROL):
            await app.services.paging.add(
                GUILD, ADMIN, ntfy.url(who.name), name=who.name, member=who
            )
        await app.services.paging.add(GUILD, ADMIN, ntfy.url("team"), name="team")
        await app.services.paging.add(
            GUILD, ADMIN, ntfy.url("boss"), name="boss", level=PagerLevel.ESCALATION
        )
        await app.services.oncall.set_rotation(GUILD, ADMIN, [ALICE, BOB], "Mon 09:00", None)

        assert await _page(app, clock, "db") == [EscalationTarget.ONCALL]
        assert sorted(m.topic for m in await ntfy.wait(2)) == ["alice", "team"]

        await app.services.oncall.override(GUILD, ADMIN, CAROL, "4h")
        assert (await app.notices())[-1].role_to == CAROL.id
        await _page(app, clock, "web")
        assert sorted(m.topic for m in (await ntfy.wait(4))[2:]) == ["carol", "team"]

        # Carol goes away without a backup: on-call pages go to the escalation pagers.
        carol = Member(CAROL, frozenset({5}))
        incident = await app.services.incidents.declare(
            GUILD, carol, title="Cache", severity=Severity.SEV2
        )
        _, updates = await app.services.oncall.away(GUILD, carol, "2h", None)
        assert updates == 1
        refreshed = await app.services.incidents.get(GUILD, IncidentRef(number=incident.number))
        assert refreshed.latest_update is not None
        assert refreshed.latest_update.startswith("Holding update: carol is away")
        assert (await app.notices())[-1].role_to is None
        # The ping goes to the escalation role too, at once.
        assert await _page(app, clock, "queue") == [EscalationTarget.ESCALATION]
        assert [m.topic for m in (await ntfy.wait(5))[4:]] == ["boss"]

        # Back from away, override over: Alice's turn again, Alice's phone.
        clock.advance(hours=5)
        await app.services.oncall.sweep()
        assert (await app.notices())[-1].role_to == ALICE.id
        await _page(app, clock, "disk")
        assert sorted(m.topic for m in (await ntfy.wait(7))[5:]) == ["alice", "team"]
    await app.close()


async def test_test_pages_not_answered_and_the_weekly_reminder(database: Database):
    clock = FakeClock(START)
    app = Process(database.url, clock)
    await _setup(app)
    async with NtfyReceiver() as ntfy:
        pager = await app.services.paging.add(GUILD, ADMIN, ntfy.url("phone"), name="phone")
        await app.services.paging.test(GUILD, ADMIN, pager.id)
        await app.sender.send_due()
        await app.sender.drain()
        await ntfy.wait(1)
    clock.advance(minutes=10, seconds=1)
    assert await app.services.oncall.sweep() != []
    texts = [n.text for n in await app.notices()]
    assert texts == ["❌ Test page to pager 'phone' was not answered within 10 minutes."]
    clock.advance(days=7)
    await app.services.oncall.sweep()
    await app.services.oncall.sweep()
    texts = [n.text for n in await app.notices()]
    assert len(texts) == 2 and texts[1].startswith("🧪 No pager test has succeeded in 7 days")
    timers = await app.services.timers.pending()
    assert any(t.key == f"test-reminder:{GUILD}" for t in timers)
    assert min(t.due_at for t in timers if t.key.startswith("test-reminder")) == (
        clock.now() + timedelta(days=7)
    )
    await app.close()
