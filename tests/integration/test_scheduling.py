"""Reminders and the scheduler on real SQLite and PostgreSQL, with a hand-moved clock.

The scheduler runs for real (APScheduler's AsyncIOScheduler); the clock the core sees is a
FakeClock, and the adapter maps "due by that clock" onto real time, so a timer the clock
has passed runs at once: no test waits for more than a moment.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Collection, Sequence
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from bot.adapters.db import SqlUnitOfWork, create_engine, session_factory
from bot.adapters.db.errors import session_url, storage_errors
from bot.adapters.db.tables import reminders
from bot.adapters.scheduling import PRUNE_JOB, SAFETY_JOB, OpsroomScheduler
from bot.core.alerts import AlertSignal, AlertSource, SignalAction
from bot.core.errors import ConflictError
from bot.core.events import Topic
from bot.core.model import GuildConfig, Member, Person, Severity
from bot.core.reminders import Reminder, ReminderKind, Timer
from bot.core.services import IncidentRef, Services, ingest_signals
from tests.fakes import FakeClock
from tests.integration.databases import Database

GUILD = 1_180_000_000_000_000_001
ALICE = Member(Person(1_190_000_000_000_000_011, "alice"), manage_guild=True)
UPDATE = ReminderKind.UPDATE_NUDGE
CLOSE = ReminderKind.CLOSE_NUDGE
ACTION = ReminderKind.ACTION_DUE


class Signal:
    """A CommitSignal stand-in: listeners told, after a commit, which timers it touched."""

    def __init__(self) -> None:
        self.listeners: list[Callable[[frozenset[str]], None]] = []

    def __call__(self, keys: frozenset[str]) -> None:
        for listener in self.listeners:
            listener(keys)


class App:
    """One "process": an engine on the test database, services, a scheduler over them."""

    def __init__(self, url: str, clock: FakeClock, **options: float) -> None:
        self.engine = create_engine(url)
        self.signal = Signal()
        sessions = session_factory(self.engine)
        self.uow_factory = lambda: SqlUnitOfWork(sessions, clock=clock, on_timers=self.signal)
        self.services = Services.build(self.uow_factory, clock)
        self.reread: list[set[str]] = []  # the keys of each incremental re-plan's read
        among = self.services.timers.among

        async def recorded(keys: Collection[str]) -> Sequence[Timer]:
            self.reread.append(set(keys))
            return await among(keys)

        self.services.timers.among = recorded  # type: ignore[method-assign]
        options.setdefault("debounce", 0.02)
        self.scheduler = OpsroomScheduler.for_services(self.services, clock=clock, **options)
        self.signal.listeners.append(self.scheduler.timers_changed)

    async def stop(self) -> None:
        """The process ends: scheduler shut down, connections closed."""
        await self.scheduler.shutdown()
        await self.engine.dispose()

    async def events(self, topic: Topic) -> list[int]:
        """Subject ids of the outbox events of a topic (nothing delivers them here)."""
        async with self.uow_factory() as uow:
            stored = await uow.outbox.pending(10_000)
        return [s.event.subject_id for s in stored if s.event.topic is topic]

    async def reminders(self) -> list[Reminder]:
        """Every stored reminder, oldest first."""
        async with self.uow_factory() as uow:
            rows = await uow.session.execute(select(reminders.c.incident_id).distinct())
            found: list[Reminder] = []
            for (incident_id,) in rows.all():
                found += await uow.reminders.list(incident_id)
        return sorted(found, key=lambda r: r.id or 0)


@pytest.fixture
async def app(database: Database, clock: FakeClock):
    """A running-capable app on the test database (the scheduler is started by each test)."""
    instance = App(database.url, clock)
    async with instance.uow_factory() as uow:
        await uow.guilds.save(GuildConfig(GUILD, responder_role_id=9, timezone="Europe/Berlin"))
        await uow.commit()
    try:
        yield instance
    finally:
        await instance.stop()


async def eventually(check: Callable[[], Awaitable[bool]], within: float = 3.0) -> None:
    """Wait (briefly) until `check()` holds; the scheduler runs jobs on the same loop."""
    deadline = asyncio.get_running_loop().time() + within
    while not await check():
        if asyncio.get_running_loop().time() > deadline:
            pytest.fail("the scheduler did not get there in time")
        await asyncio.sleep(0.02)


async def quiet(app: App) -> None:
    """Let pending jobs and re-plans run, then one more full sweep (it must find nothing)."""
    await asyncio.sleep(0.15)
    await app.scheduler.tick()


async def declare(app: App, severity: Severity = Severity.SEV1, title: str = "DB down") -> int:
    """Declare an incident; returns its number."""
    incident = await app.services.incidents.declare(GUILD, ALICE, title=title, severity=severity)
    return incident.number


async def fire_alert(app: App, clock: FakeClock, stream: str = "db") -> int:
    """An Events v2 trigger stored as another process would; returns the alert id."""
    webhook, _ = await app.services.webhooks.create(GUILD, AlertSource.EVENTS, stream, None)
    signal = AlertSignal(AlertSource.EVENTS, SignalAction.TRIGGER, stream, stream, "down")
    async with app.uow_factory() as uow:
        (result,) = await ingest_signals(uow, webhook, [signal], clock.now())
        await uow.commit()
    assert result.alert is not None and result.alert.id is not None
    return result.alert.id


# --- the repository ---------------------------------------------------------------------------


async def test_schedule_is_an_upsert_of_the_one_pending_reminder(app: App, clock: FakeClock):
    """Scheduling the same kind and subject again moves the pending row; after firing, a new one."""
    await declare(app)
    incident_id = (await app.reminders())[0].incident_id
    later = clock.now() + timedelta(hours=1)
    async with app.uow_factory() as uow:
        moved = Reminder(GUILD, incident_id, UPDATE, incident_id, later, later)
        await uow.reminders.schedule(moved)
        await uow.commit()
    (stored,) = await app.reminders()
    assert (stored.id, stored.due_at, stored.created_at) == (moved.id, later, clock.now())
    async with app.uow_factory() as uow:
        assert await uow.reminders.claim(stored.id, later) is True
        assert await uow.reminders.claim(stored.id, later) is False
        again = Reminder(GUILD, incident_id, UPDATE, incident_id, later, later)
        await uow.reminders.schedule(again)
        await uow.commit()
    assert again.id != stored.id
    assert [r.pending for r in await app.reminders()] == [False, True]


async def test_claim_refuses_what_is_not_yet_due_or_cancelled(app: App, clock: FakeClock):
    """A claim needs the reminder pending and due: early or cancelled ones stay unfired."""
    await declare(app)
    (nudge,) = await app.reminders()
    async with app.uow_factory() as uow:
        assert await uow.reminders.claim(nudge.id, clock.now()) is False  # due in 15 min
        assert await uow.reminders.cancel(UPDATE, nudge.subject_id, clock.now()) == 1
        assert await uow.reminders.cancel(UPDATE, nudge.subject_id, clock.now()) == 0
        assert await uow.reminders.claim(nudge.id, clock.now() + timedelta(hours=1)) is False
        await uow.commit()
    (stored,) = await app.reminders()
    assert stored.cancelled_at == clock.now() and stored.fired_at is None


async def test_the_database_holds_one_pending_reminder_per_subject(app: App, clock: FakeClock):
    """A plain second insert of a pending reminder is refused with a readable conflict."""
    await declare(app)
    (nudge,) = await app.reminders()
    with pytest.raises(ConflictError, match="already scheduled"):
        async with app.uow_factory() as uow:
            statement = reminders.insert().values(
                guild_id=GUILD,
                incident_id=nudge.incident_id,
                kind=UPDATE.value,
                subject_id=nudge.subject_id,
                due_at=clock.now(),
                created_at=clock.now(),
            )
            with storage_errors(session_url(uow.session)):
                await uow.session.execute(statement)


async def test_reminders_round_trip_in_utc(app: App, clock: FakeClock):
    """Times come back timezone-aware UTC, and due() lists only what the time has reached."""
    number = await declare(app)
    await app.services.incidents.resolve(GUILD, ALICE, IncidentRef(number))
    async with app.uow_factory() as uow:
        assert await uow.reminders.due(clock.now()) == []
        (close,) = await uow.reminders.due(clock.now() + timedelta(days=1))
        upcoming = await uow.reminders.upcoming(10)
    assert close.kind is CLOSE and close.due_at.tzinfo is UTC
    assert close.due_at == clock.now() + timedelta(hours=24)
    assert upcoming == [close]


async def test_concurrent_sweeps_fire_each_reminder_once(database: Database, clock: FakeClock):
    """Two processes sweeping at the same moment: every reminder fires exactly once."""
    one, two = App(database.url, clock), App(database.url, clock)
    try:
        for n in range(20):
            await declare(one, Severity.SEV1, f"incident {n}")
        clock.advance(minutes=15)
        first, second = await asyncio.gather(
            one.services.reminders.fire_due(), two.services.reminders.fire_due()
        )
        events = await one.events(Topic.REMINDER_DUE)
        assert len(first) + len(second) == 20
        assert sorted(events) == sorted(r.id for r in [*first, *second])
        assert len(set(events)) == 20
    finally:
        await one.stop()
        await two.stop()


# --- the scheduler ----------------------------------------------------------------------------


async def test_rebuilt_from_the_database_fires_due_reminders_and_escalations_once(
    app: App, clock: FakeClock
):
    """Overdue at start: one update nudge and one escalation, each once; the next ones planned."""
    await declare(app)
    alert_id = await fire_alert(app, clock)
    clock.advance(minutes=20)
    await app.scheduler.start()
    await eventually(lambda: _counts(app, nudges=1, escalations=1))
    await quiet(app)
    assert await app.events(Topic.ALERT_ESCALATED) == [alert_id]
    fired = [r for r in await app.reminders() if r.fired_at]
    assert [(r.kind, r.fired_at) for r in fired] == [(UPDATE, clock.now())]
    assert await app.events(Topic.REMINDER_DUE) == [fired[0].id]
    (following,) = [r for r in await app.reminders() if r.pending]
    assert following.due_at == clock.now() + timedelta(minutes=15)
    planned = app.scheduler.planned()
    assert set(planned) == {f"reminder:{following.id}", f"escalation:{alert_id}"}
    in_fifteen = datetime.now(UTC) + timedelta(minutes=15)
    assert abs((planned[f"reminder:{following.id}"] - in_fifteen).total_seconds()) < 2


async def _counts(app: App, *, nudges: int, escalations: int) -> bool:
    """At least that many nudge and escalation events are in the outbox."""
    return (
        len(await app.events(Topic.REMINDER_DUE)) >= nudges
        and len(await app.events(Topic.ALERT_ESCALATED)) >= escalations
    )


async def test_restart_fires_each_missed_reminder_exactly_once(
    database: Database, clock: FakeClock
):
    """Reminders pending when the process stops fire once each when a new process starts."""
    first = App(database.url, clock)
    async with first.uow_factory() as uow:
        await uow.guilds.save(GuildConfig(GUILD, responder_role_id=9, timezone="Europe/Berlin"))
        await uow.commit()
    open_one = await declare(first, Severity.SEV2, "API slow")
    resolved = await declare(first, Severity.SEV3, "Queue stuck")
    await first.services.incidents.resolve(GUILD, ALICE, IncidentRef(resolved))
    await first.services.actions.add(
        GUILD, ALICE, IncidentRef(open_one), "Add an alert", owner=ALICE.person, due="+1d"
    )
    await first.scheduler.start()
    await quiet(first)
    assert len(first.scheduler.planned()) == 3 and await first.events(Topic.REMINDER_DUE) == []
    await first.stop()  # the process goes away with three reminders pending

    clock.advance(days=3)
    second = App(database.url, clock)
    try:
        await second.scheduler.start()
        await eventually(lambda: _has(second, 3))
        await quiet(second)
        fired = [r for r in await second.reminders() if r.fired_at]
        assert sorted(r.kind for r in fired) == sorted([UPDATE, CLOSE, ACTION])
        assert sorted(await second.events(Topic.REMINDER_DUE)) == sorted(r.id for r in fired)
        assert all(r.fired_at == clock.now() for r in fired)
    finally:
        await second.stop()

    third = App(database.url, clock)  # and once more: nothing fires twice
    try:
        await third.scheduler.start()
        await quiet(third)
        assert len(await third.events(Topic.REMINDER_DUE)) == 3
    finally:
        await third.stop()


async def _has(app: App, count: int) -> bool:
    """At least `count` reminder events are in the outbox."""
    return len(await app.events(Topic.REMINDER_DUE)) >= count


async def test_new_reminders_are_planned_after_commit(app: App, clock: FakeClock):
    """Declared while running: the commit signal re-plans, and the nudge runs when it is due."""
    await app.scheduler.start()
    await declare(app)
    (nudge,) = await app.reminders()
    key = f"reminder:{nudge.id}"
    await eventually(lambda: _planned(app, key))
    in_fifteen = datetime.now(UTC) + timedelta(minutes=15)
    assert abs((app.scheduler.planned()[key] - in_fifteen).total_seconds()) < 2
    clock.advance(minutes=15)
    app.scheduler.wake()  # any commit re-plans: the job is due now by the clock
    await eventually(lambda: _has(app, 1))
    await quiet(app)
    assert len(await app.events(Topic.REMINDER_DUE)) == 1


async def _planned(app: App, key: str) -> bool:
    """The scheduler holds a job for `key`."""
    return key in app.scheduler.planned()


async def test_an_update_moves_the_planned_job(app: App, clock: FakeClock):
    """Ten minutes in, the job is 5 minutes away; an update moves it to 15 minutes away."""
    number = await declare(app)
    await app.scheduler.start()
    (nudge,) = await app.reminders()
    key = f"reminder:{nudge.id}"
    clock.advance(minutes=10)
    app.scheduler.wake()
    await eventually(lambda: _planned_in(app, key, minutes=5))
    await app.services.incidents.post_update(GUILD, ALICE, IncidentRef(number), "Rolling back")
    await eventually(lambda: _planned_in(app, key, minutes=15))
    assert await app.events(Topic.REMINDER_DUE) == []


async def _planned_in(app: App, key: str, *, minutes: float) -> bool:
    """Whether the job for `key` runs about `minutes` from now (real time)."""
    planned = app.scheduler.planned().get(key)
    expected = datetime.now(UTC) + timedelta(minutes=minutes)
    return planned is not None and abs((planned - expected).total_seconds()) < 2


async def test_resolving_drops_the_update_job(app: App, clock: FakeClock):
    """Resolved: the update nudge's job goes, the close nudge's job comes."""
    number = await declare(app)
    await app.scheduler.start()
    (nudge,) = await app.reminders()
    await app.services.incidents.resolve(GUILD, ALICE, IncidentRef(number))
    close = [r for r in await app.reminders() if r.kind is CLOSE][0]
    await eventually(lambda: _planned(app, f"reminder:{close.id}"))
    assert f"reminder:{nudge.id}" not in app.scheduler.planned()


async def test_the_safety_sweep_catches_what_another_process_stored(
    database: Database, clock: FakeClock
):
    """An alert stored without this process's commit signal still escalates, via the sweep."""
    app = App(database.url, clock, safety_interval=0.1)
    other = App(database.url, clock)  # `opsroom run --role web`: no scheduler of its own
    try:
        await app.scheduler.start()
        alert_id = await fire_alert(other, clock)
        clock.advance(minutes=5)
        await eventually(lambda: _escalated(app, alert_id))
        await quiet(app)
        assert await app.events(Topic.ALERT_ESCALATED) == [alert_id]
    finally:
        await app.stop()
        await other.engine.dispose()


async def test_a_commit_re_plans_only_the_timers_it_touched(app: App, clock: FakeClock):
    """Thirty nudges planned at start; an update to one incident re-reads that one timer and
    moves its job, with no full re-plan; resolving another drops just its job."""
    numbers = [await declare(app, title=f"incident {n}") for n in range(30)]
    await app.scheduler.start()
    nudges = {r.incident_id: r for r in await app.reminders()}
    assert len(app.scheduler.planned()) == 30 and app.scheduler.full_replans == 1
    clock.advance(minutes=10)
    first = await app.services.incidents.get(GUILD, IncidentRef(numbers[0]))
    second = await app.services.incidents.get(GUILD, IncidentRef(numbers[1]))
    key = f"reminder:{nudges[first.id].id}"
    await app.services.incidents.post_update(GUILD, ALICE, IncidentRef(numbers[0]), "Rolling back")
    await eventually(lambda: _reread(app, 1))
    assert app.reread == [{key}]
    assert await _planned_in(app, key, minutes=15)
    await app.services.incidents.resolve(GUILD, ALICE, IncidentRef(numbers[1]))
    gone = f"reminder:{nudges[second.id].id}"
    close = [r for r in await app.reminders() if r.kind is CLOSE][0]
    expected = {gone, f"reminder:{close.id}"}
    await eventually(lambda: _reread_all(app, expected))
    # Only those two reminders (a resolve may also ask for a whole kind of watch timers).
    assert {k for keys in app.reread[1:] for k in keys if k.startswith("reminder:")} == expected
    assert f"reminder:{close.id}" in app.scheduler.planned()
    assert gone not in app.scheduler.planned()
    assert len(app.scheduler.planned()) == 30  # 28 untouched nudges, the moved one, the close
    assert app.scheduler.full_replans == 1


async def test_a_restart_plans_every_pending_timer(database: Database, clock: FakeClock):
    """A new process plans everything stored (reminders and an escalation), not only what
    it changed itself."""
    first = App(database.url, clock)
    async with first.uow_factory() as uow:
        await uow.guilds.save(GuildConfig(GUILD, responder_role_id=9, timezone="Europe/Berlin"))
        await uow.commit()
    for n in range(5):
        await declare(first, title=f"incident {n}")
    alert_id = await fire_alert(first, clock)
    await first.stop()
    second = App(database.url, clock)
    try:
        await second.scheduler.start()
        pending = {f"reminder:{r.id}" for r in await second.reminders() if r.pending}
        assert len(pending) == 5
        assert set(second.scheduler.planned()) == pending | {f"escalation:{alert_id}"}
        assert second.reread == []
    finally:
        await second.stop()


async def test_a_changed_timer_past_the_plans_horizon_waits_for_a_full_plan(
    database: Database, clock: FakeClock
):
    """With room for 3 timers per sweep, a nudge due after the third planned one is not
    planned by its commit; a full re-plan plans the soonest three again."""
    app = App(database.url, clock, limit=3)
    try:
        async with app.uow_factory() as uow:
            await uow.guilds.save(GuildConfig(GUILD, responder_role_id=9, timezone="UTC"))
            await uow.commit()
        for n in range(3):
            await declare(app, title=f"incident {n}")
        await app.scheduler.start()
        assert len(app.scheduler.planned()) == 3
        clock.advance(minutes=1)
        await declare(app, title="later")  # due a minute after the third
        await eventually(lambda: _reread(app, 1))
        assert len(app.scheduler.planned()) == 3
    finally:
        await app.stop()


async def test_a_heartbeat_ping_re_plans_the_heartbeat_timers(app: App, clock: FakeClock):
    """Heartbeat writes are not tracked one by one: a ping asks for every heartbeat timer
    (`heartbeat:*`), which plans its job again (removed here first), with no full re-plan."""
    webhook, _ = await app.services.webhooks.create(
        GUILD, AlertSource.HEARTBEAT, "cron", None, heartbeat=(timedelta(minutes=5),) * 2
    )
    await app.scheduler.start()
    key = f"heartbeat:{webhook.id}"
    assert key in app.scheduler.planned()
    app.scheduler._scheduler.remove_job(key)  # so only a re-plan can bring it back
    await app.services.heartbeats.ping(webhook)
    await eventually(lambda: _reread_all(app, {"heartbeat:*"}))
    assert await _planned_in(app, key, minutes=10)  # every + grace from the ping
    assert app.scheduler.full_replans == 1


async def _reread_all(app: App, keys: set[str]) -> bool:
    """Incremental re-plans have read at least these keys."""
    return keys <= {k for read in app.reread for k in read}


async def _reread(app: App, count: int) -> bool:
    """At least `count` incremental re-plans have read their timers."""
    return len(app.reread) >= count


async def _escalated(app: App, alert_id: int) -> bool:
    """The alert's escalation event is in the outbox."""
    return alert_id in await app.events(Topic.ALERT_ESCALATED)


async def test_many_overdue_timers_share_a_few_sweeps(app: App, clock: FakeClock):
    """Forty overdue nudges at start: each fires once, in far fewer than forty sweeps."""
    for n in range(40):
        await declare(app, Severity.SEV1, f"incident {n}")
    clock.advance(minutes=16)
    await app.scheduler.start()
    await eventually(lambda: _has(app, 40))
    await quiet(app)
    assert len(await app.events(Topic.REMINDER_DUE)) == 40
    assert app.scheduler.sweeps_run < 10
    async with app.uow_factory() as uow:
        fired = await uow.session.scalar(
            select(func.count()).select_from(reminders).where(reminders.c.fired_at.is_not(None))
        )
    assert fired == 40


async def test_the_safety_job_runs_every_15_seconds_by_default(app: App):
    """The periodic sweep is planned at the 15 s interval and outbox pruning every 10 min;
    shutdown stops every job."""
    await app.scheduler.start()
    job = app.scheduler._scheduler.get_job(SAFETY_JOB)
    assert job.trigger.interval == timedelta(seconds=15)
    prune = app.scheduler._scheduler.get_job(PRUNE_JOB)
    assert prune.trigger.interval == timedelta(minutes=10)
    await app.scheduler.shutdown()
    assert not app.scheduler.running
    app.scheduler.wake()  # a commit after shutdown plans nothing
    await asyncio.sleep(0.05)
