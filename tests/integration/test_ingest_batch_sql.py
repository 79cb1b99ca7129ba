"""Batched ingest on SQLite and PostgreSQL: the bulk repository methods, and whole batches
giving exactly what one-notification-at-a-time gives (two guilds of one database)."""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import UTC, datetime

import pytest

from bot.adapters.db import SqlUnitOfWork
from bot.core.alerts import Alert, AlertSource, AlertState
from bot.core.errors import NotFoundError
from bot.core.events import Event, Topic
from bot.core.services import Services
from tests.fakes import FakeClock
from tests.ingest_scenarios import random_batch, run, set_up_guild, view_results, view_storage

UowFactory = Callable[[], SqlUnitOfWork]
AM, EV = AlertSource.ALERTMANAGER, AlertSource.EVENTS
NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
REFERENCE, BATCHED = 1_180_000_000_000_000_001, 1_180_000_000_000_000_002


def alert(stream: str, episode: str | None, *, guild: int = 1, source=AM, firing=True) -> Alert:
    return Alert(
        guild_id=guild,
        source=source,
        stream_key=stream,
        episode_key=episode,
        monitor=f"{stream} monitor",
        title="down",
        state=AlertState.FIRING if firing else AlertState.RESOLVED,
        started_at=NOW,
        received_at=NOW,
        last_seen_at=NOW,
        details={"k": "v"},
    )


@pytest.mark.parametrize("seed", range(12))
async def test_batches_store_what_one_at_a_time_stores(
    uow_factory: UowFactory, clock: FakeClock, seed: int
) -> None:
    """Random batches, with an incident following stream s1 in every other one."""
    services = Services.build(uow_factory, clock)
    views = []
    for guild, batched in ((REFERENCE, False), (BATCHED, True)):
        hooks = await set_up_guild(services, uow_factory, guild, clock.now(), follow=seed % 2 == 0)
        rng = random.Random(seed)
        results = []
        for _ in range(3):  # three batches, each in its own committed unit of work
            results += await run(
                uow_factory, random_batch(rng, hooks), clock.now(), batched=batched
            )
            clock.advance(seconds=7)
        clock.advance(seconds=-21)
        views.append((view_results(results), await view_storage(uow_factory, guild)))
    assert views[1] == views[0]


async def test_find_episodes_returns_exactly_the_pairs_asked(uow_factory: UowFactory) -> None:
    """Streams and episodes asked for in other pairings are not returned; other guilds and
    sources neither."""
    async with uow_factory() as uow:
        await uow.alerts.add_many(
            [
                alert("a", "1"),
                alert("a", "2"),
                alert("b", "1"),
                alert("b", "2"),
                alert("a", "1", guild=2),
                alert("a", "1", source=AlertSource.GRAFANA),
            ]
        )
        found = await uow.alerts.find_episodes({(1, AM, "a", "1"), (1, AM, "b", "2")})
        assert sorted((a.stream_key, a.episode_key, a.guild_id) for a in found) == [
            ("a", "1", 1),
            ("b", "2", 1),
        ]
        assert await uow.alerts.find_episodes({(1, AM, "c", "1")}) == []


async def test_find_firing_and_followed_streams(uow_factory: UowFactory) -> None:
    """Every firing alert of the streams asked; streams whose alerts sit on an open incident."""
    async with uow_factory() as uow:
        await uow.alerts.add_many(
            [
                alert("a", None, source=EV),
                alert("a", None, source=EV, firing=False),
                alert("b", None, source=EV),
                alert("c", None, source=EV),
            ]
        )
        firing = await uow.alerts.find_firing({(1, EV, "a"), (1, EV, "b"), (1, AM, "c")})
        assert sorted(a.stream_key for a in firing) == ["a", "b"]
        assert await uow.alerts.streams_with_open_incident({(1, EV, "a")}) == set()


async def test_add_many_numbers_in_order_and_save_many_keeps_relay_ids(
    uow_factory: UowFactory,
) -> None:
    """Ids come back in the order given; save_many writes every field but the relay ids."""
    async with uow_factory() as uow:
        first = [alert("a", "1"), alert("b", "1")]
        await uow.alerts.add_many(first)
        second = [alert(f"s{n}", "1") for n in range(5)]
        await uow.alerts.add_many(second)
        ids = [a.id for a in first + second]
        assert all(ids) and ids == sorted(ids) and len(set(ids)) == 7
        for a in first + second:
            stored = await uow.alerts.get(a.id)  # type: ignore[arg-type]
            assert stored is not None and stored.stream_key == a.stream_key
        await uow.alerts.set_relay([first[0].id], 10, 20)  # type: ignore[list-item]
        first[0].count, first[1].title = 5, "renamed"
        await uow.alerts.save_many(first)
        stored = await uow.alerts.get(first[0].id)  # type: ignore[arg-type]
        assert stored is not None and stored.count == 5 and stored.relay_message_id == 20
        renamed = await uow.alerts.get(first[1].id)  # type: ignore[arg-type]
        assert renamed is not None and renamed.title == "renamed"
        await uow.commit()


async def test_save_many_of_a_missing_alert_is_not_found(
    uow_factory: UowFactory, database_url: str
) -> None:
    """Saving alerts that are not stored fails as `save` does (where the driver tells)."""
    async with uow_factory() as uow:
        ghost = alert("ghost", "1")
        ghost.id = 999_999
        if database_url.startswith("sqlite"):
            with pytest.raises(NotFoundError):
                await uow.alerts.save_many([ghost])
        with pytest.raises(ValueError):
            await uow.alerts.save_many([alert("never-added", "1")])


async def test_outbox_add_many_keeps_order(uow_factory: UowFactory) -> None:
    """Events recorded together are delivered in the order given."""
    async with uow_factory() as uow:
        await uow.outbox.add_many([Event(Topic.ALERT_CHANGED, 1, n) for n in (3, 1, 2)])
        await uow.commit()
    async with uow_factory() as uow:
        assert [e.event.subject_id for e in await uow.outbox.pending()] == [3, 1, 2]
