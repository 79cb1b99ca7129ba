"""Cost that does not grow with history, on real SQLite and PostgreSQL: ingest's per-batch
stream lookups read the partial indexes (checked with EXPLAIN), and delivered outbox events
are pruned after the retention in bounded batches."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import event, insert, select, text

from bot.adapters.db import SqlUnitOfWork
from bot.adapters.db.tables import alerts, incidents, outbox
from bot.core.alerts import AlertSource
from bot.core.events import Event, Topic
from bot.core.model import OPEN_STATUSES, Status
from bot.core.services import Services
from tests.fakes import FakeClock
from tests.integration.databases import Database

GUILD = 1_180_000_000_000_000_001
AM = AlertSource.ALERTMANAGER
NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
STREAMS = 20
EPISODES = 100  # resolved episodes per stream: the history the lookups must not read


async def _populate(database: Database) -> None:
    """20 streams with 100 resolved episodes each; stream s0's latest episode is firing and
    attached to an open incident, s1's latest is firing, the rest are quiet."""
    async with database.engine.begin() as connection:
        incident_id = (
            await connection.execute(
                insert(incidents).returning(incidents.c.id),
                {
                    "guild_id": GUILD,
                    "number": 1,
                    "title": "DB down",
                    "severity": "sev2",
                    "status": "investigating",
                    "declared_by_id": 7,
                    "declared_by_name": "alice",
                    "started_at": NOW,
                    "detected_at": NOW,
                    "declared_at": NOW,
                    "summary": "",
                },
            )
        ).scalar_one()
        rows = []
        for s in range(STREAMS):
            for e in range(EPISODES):
                latest = e == EPISODES - 1
                rows.append(
                    {
                        "guild_id": GUILD,
                        "source": AM.value,
                        "stream_key": f"s{s}",
                        "episode_key": f"e{e}",
                        "monitor": "m",
                        "title": "down",
                        "state": "firing" if latest and s < 2 else "resolved",
                        "started_at": NOW + timedelta(minutes=e),
                        "received_at": NOW,
                        "last_seen_at": NOW,
                        "details": {},
                        "count": 1,
                        "escalation_level": 0,
                        "incident_id": incident_id if latest and s == 0 else None,
                    }
                )
        await connection.execute(insert(alerts), rows)
        await connection.execute(text("ANALYZE"))


@contextmanager
def plans(database: Database) -> Iterator[list[str]]:
    """Collect the plan of every SELECT and DELETE run on the engine meanwhile (EXPLAIN runs
    on the same cursor with the same parameters, just before the statement itself)."""
    found: list[str] = []
    sqlite = database.backend == "sqlite"
    prefix = "EXPLAIN QUERY PLAN " if sqlite else "EXPLAIN "

    def explain(_conn: Any, cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        if statement.lstrip().upper().startswith(("SELECT", "DELETE")):
            cursor.execute(prefix + statement, parameters)
            rows = cursor.fetchall()
            found.append("\n".join(str(row[-1] if sqlite else row[0]) for row in rows))

    event.listen(database.engine.sync_engine, "before_cursor_execute", explain)
    try:
        yield found
    finally:
        event.remove(database.engine.sync_engine, "before_cursor_execute", explain)


async def _plan_of(
    database: Database, work: Callable[[SqlUnitOfWork], Awaitable[Any]], *, commit: bool = False
) -> str:
    """The plan of the one statement `work` runs (its result is the caller's to check)."""
    async with SqlUnitOfWork(database.sessions) as uow:
        with plans(database) as found:
            await work(uow)
        if commit:
            await uow.commit()
    assert len(found) == 1, found
    return found[0]


STREAM_IDS = [(GUILD, AM, f"s{s}") for s in range(STREAMS)]


async def test_streams_with_open_incident_reads_the_attached_index(database: Database):
    """Which of 20 streams an open incident follows: answered from `ix_alerts_stream_attached`,
    not from the unique index over every episode."""
    await _populate(database)
    found: list[Any] = []

    async def lookup(uow: SqlUnitOfWork) -> None:
        found.append(await uow.alerts.streams_with_open_incident(STREAM_IDS))

    plan = await _plan_of(database, lookup)
    assert found == [{(GUILD, AM, "s0")}]
    assert "ix_alerts_stream_attached" in plan, plan
    assert "uq_alerts_guild_id" not in plan, plan


async def test_find_firing_reads_the_firing_index(database: Database):
    """The firing alerts of 20 streams: answered from `ix_alerts_stream_firing`."""
    await _populate(database)
    found: list[Any] = []

    async def lookup(uow: SqlUnitOfWork) -> None:
        found.append(await uow.alerts.find_firing(STREAM_IDS))

    plan = await _plan_of(database, lookup)
    assert sorted(a.stream_key for a in found[0]) == ["s0", "s1"]
    assert "ix_alerts_stream_firing" in plan, plan
    assert "uq_alerts_guild_id" not in plan, plan


# --- outbox pruning ----------------------------------------------------------------------------


async def _outbox_ids(database: Database) -> list[int]:
    async with database.engine.connect() as connection:
        return list((await connection.execute(select(outbox.c.id).order_by(outbox.c.id))).scalars())


async def test_delivered_events_older_than_the_retention_are_pruned(database: Database):
    """Old delivered events go, in batches of the given size; recent and pending ones stay."""
    async with SqlUnitOfWork(database.sessions) as uow:
        await uow.outbox.add_many([Event(Topic.ALERT_CHANGED, GUILD, n) for n in range(10)])
        await uow.commit()
    ids = await _outbox_ids(database)
    old, recent, pending = ids[:7], ids[7:9], ids[9:]
    async with SqlUnitOfWork(database.sessions) as uow:
        await uow.outbox.mark_done(old, NOW - timedelta(days=8))
        await uow.outbox.mark_done(recent, NOW - timedelta(hours=1))
        await uow.commit()
    cutoff = NOW - timedelta(days=7)
    pruned = []
    while True:
        async with SqlUnitOfWork(database.sessions) as uow:
            count = await uow.outbox.prune(cutoff, limit=3)
            await uow.commit()
        pruned.append(count)
        if count < 3:
            break
    assert pruned == [3, 3, 1]
    assert await _outbox_ids(database) == recent + pending


async def test_pruning_finds_old_events_through_the_delivered_index(database: Database):
    """The batch to prune is read from `ix_outbox_delivered_done_at`, not by a table scan."""
    async with database.engine.begin() as connection:
        rows = [
            {
                "topic": Topic.ALERT_CHANGED.value,
                "guild_id": GUILD,
                "subject_id": n,
                "created_at": NOW,
                "done_at": NOW if n % 50 == 0 else None,
            }
            for n in range(5000)
        ]
        await connection.execute(insert(outbox), rows)
        await connection.execute(text("ANALYZE"))
    found: list[int] = []

    async def prune(uow: SqlUnitOfWork) -> None:
        found.append(await uow.outbox.prune(NOW + timedelta(seconds=1), limit=1000))

    plan = await _plan_of(database, prune, commit=True)
    assert found == [100]
    assert len(await _outbox_ids(database)) == 4900
    assert "ix_outbox_delivered_done_at" in plan, plan


async def test_the_housekeeping_service_prunes_past_the_seven_day_retention(database: Database):
    """`prune_outbox` (the scheduler's periodic job) keeps a week of delivered events."""
    uow_factory = lambda: SqlUnitOfWork(database.sessions)  # noqa: E731
    services = Services.build(uow_factory, FakeClock(NOW))
    async with uow_factory() as uow:
        await uow.outbox.add_many([Event(Topic.ALERT_CHANGED, GUILD, n) for n in range(3)])
        await uow.commit()
    week_old, day_old, pending = await _outbox_ids(database)
    async with uow_factory() as uow:
        await uow.outbox.mark_done([week_old], NOW - timedelta(days=7, minutes=1))
        await uow.outbox.mark_done([day_old], NOW - timedelta(days=1))
        await uow.commit()
    assert await services.housekeeping.prune_outbox() == 1
    assert await _outbox_ids(database) == [day_old, pending]
    assert await services.housekeeping.prune_outbox() == 0


# --- /incident list pages -------------------------------------------------------------------


async def _incidents(database: Database, count: int, *, open_every: int = 10) -> None:
    """`count` incidents numbered 1…, every `open_every`-th one open, the rest closed."""
    rows = [
        {
            "guild_id": GUILD,
            "number": n,
            "title": f"incident {n}",
            "severity": "sev3",
            "status": "investigating" if n % open_every == 0 else "closed",
            "declared_by_id": 7,
            "declared_by_name": "alice",
            "started_at": NOW,
            "detected_at": NOW,
            "declared_at": NOW,
            "summary": "",
        }
        for n in range(1, count + 1)
    ]
    async with database.engine.begin() as connection:
        await connection.execute(insert(incidents), rows)
        await connection.execute(text("ANALYZE"))


async def test_incident_pages_walk_newest_first_both_ways(database: Database):
    """60 closed of 66: pages of 25 below and above a number, and which neighbours exist."""
    await _incidents(database, 66, open_every=11)
    services = Services.build(lambda: SqlUnitOfWork(database.sessions), FakeClock(NOW))
    closed = {Status.CLOSED}
    first = await services.incidents.page(GUILD, closed)
    shown = [i.number for i in first.incidents]
    assert len(shown) == 25 and shown[0] == 65 and shown == sorted(shown, reverse=True)
    assert (first.older, first.newer) == (True, False)
    second = await services.incidents.page(GUILD, closed, before=shown[-1])
    third = await services.incidents.page(GUILD, closed, before=second.incidents[-1].number)
    assert len(second.incidents) == 25 and (second.older, second.newer) == (True, True)
    assert [i.number for i in third.incidents][-1] == 1 and (third.older, third.newer) == (
        False,
        True,
    )
    back = await services.incidents.page(GUILD, closed, after=third.incidents[0].number)
    assert [i.number for i in back.incidents] == [i.number for i in second.incidents]
    assert len(first.incidents) + len(second.incidents) + len(third.incidents) == 60


async def test_a_page_of_a_rare_status_reads_the_status_index(database: Database):
    """30 open among 3,000: the open page goes through `ix_incidents_guild_id_status_number`
    rather than walking every incident backwards. (For a common status either index reads
    about a page: the planners may take the (guild, number) one and filter.)"""
    await _incidents(database, 3000, open_every=100)
    found: list[int] = []

    async def page(uow: SqlUnitOfWork) -> None:
        shown = await uow.incidents.page(GUILD, OPEN_STATUSES, before=2950, limit=26)
        found.extend(i.number for i in shown)

    async with SqlUnitOfWork(database.sessions) as uow:
        with plans(database) as seen:
            await page(uow)
    assert found == list(range(2900, 0, -100))[:26]
    assert "ix_incidents_guild_id_status_number" in seen[0], seen[0]  # then roles, by id
