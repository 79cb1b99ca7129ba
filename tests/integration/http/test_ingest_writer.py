"""The single webhook writer on a real database: batching, isolation of failures, draining."""

from __future__ import annotations

import asyncio
import dataclasses

import pytest
from sqlalchemy.exc import IntegrityError

from bot.adapters.db import SqlUnitOfWork, create_engine, session_factory
from bot.adapters.http.ingest import IngestWriter
from bot.adapters.metrics import Metrics
from bot.core.alerts import AlertSignal, AlertSource, Outcome, SignalAction
from bot.core.errors import StorageUnavailableError
from bot.core.services import Ingested, Services
from bot.core.webhooks import Webhook
from tests.integration.conftest import FakeClock
from tests.integration.http.conftest import GUILD, UowFactory


def trigger(key: str) -> AlertSignal:
    """An Events v2 trigger for dedup key `key`."""
    return AlertSignal(AlertSource.EVENTS, SignalAction.TRIGGER, key, "agent", f"alert {key}")


@pytest.fixture
async def webhook(uow_factory: UowFactory, clock: FakeClock) -> Webhook:
    """A stored Events webhook."""
    services = Services.build(uow_factory, clock)
    made, _ = await services.webhooks.create(GUILD, AlertSource.EVENTS, "agent", None)
    return made


async def count_alerts(uow_factory: UowFactory, keys: list[str]) -> int:
    """How many of these dedup keys have an open alert."""
    async with uow_factory() as uow:
        found = [await uow.alerts.find_open(GUILD, AlertSource.EVENTS, key) for key in keys]
    return sum(alert is not None for alert in found)


async def test_concurrent_requests_share_commits(
    uow_factory: UowFactory, clock: FakeClock, webhook: Webhook
) -> None:
    """50 simultaneous requests are all stored, in far fewer transactions than requests."""
    commits: list[list[Ingested]] = []
    metrics = Metrics()
    writer = IngestWriter(uow_factory, clock, metrics=metrics, on_commit=commits.append)
    await writer.start()
    keys = [f"k{i}" for i in range(50)]
    try:
        results = await asyncio.gather(*(writer.submit(webhook, [trigger(k)]) for k in keys))
    finally:
        await writer.stop()
    assert [r[0].outcome for r in results] == [Outcome.NEW] * 50
    assert sum(len(c) for c in commits) == 50
    assert len(commits) < 5  # one batch in practice; a few if the scheduler interleaves
    assert await count_alerts(uow_factory, keys) == 50
    rendered = metrics.render().decode()
    assert 'opsroom_alerts_received_total{outcome="new",source="events"} 50.0' in rendered


async def test_a_poisoned_request_does_not_fail_the_others(
    uow_factory: UowFactory, clock: FakeClock, webhook: Webhook
) -> None:
    """A request the database refuses (a webhook that does not exist) fails alone."""
    ghost = dataclasses.replace(webhook, id=999_999)  # breaks the alerts.webhook_id foreign key
    writer = IngestWriter(uow_factory, clock)
    await writer.start()
    try:
        results = await asyncio.gather(
            writer.submit(webhook, [trigger("a")]),
            writer.submit(ghost, [trigger("ghost")]),
            writer.submit(webhook, [trigger("b")]),
            return_exceptions=True,
        )
    finally:
        await writer.stop()
    good_a, bad, good_b = results
    assert isinstance(bad, IntegrityError)
    assert isinstance(good_a, list) and isinstance(good_b, list)
    assert await count_alerts(uow_factory, ["a", "b", "ghost"]) == 2


async def test_stop_writes_everything_already_queued(
    uow_factory: UowFactory, clock: FakeClock, webhook: Webhook
) -> None:
    """Stopping drains: requests queued before stop are committed and answered."""
    writer = IngestWriter(uow_factory, clock, max_batch_requests=3)
    await writer.start()
    keys = [f"d{i}" for i in range(10)]
    pending = [asyncio.create_task(writer.submit(webhook, [trigger(k)])) for k in keys]
    await asyncio.sleep(0)  # every submit is queued
    await writer.stop()
    assert all(task.done() and not task.exception() for task in pending)
    assert await count_alerts(uow_factory, keys) == 10


async def test_a_stopped_writer_refuses_work(
    uow_factory: UowFactory, clock: FakeClock, webhook: Webhook
) -> None:
    """Before start and after stop, submit says the database side is unavailable (503)."""
    writer = IngestWriter(uow_factory, clock)
    with pytest.raises(StorageUnavailableError):
        await writer.submit(webhook, [trigger("x")])
    await writer.start()
    assert await writer.problem() is None
    await writer.stop()
    assert await writer.problem() == "the webhook writer is not running"
    with pytest.raises(StorageUnavailableError):
        await writer.submit(webhook, [trigger("x")])


async def test_storage_outage_fails_the_batch_and_the_writer_carries_on(
    uow_factory: UowFactory, clock: FakeClock, webhook: Webhook
) -> None:
    """With the database unreachable every request fails as unavailable; the writer survives."""
    engine = create_engine("postgresql+asyncpg://opsroom:opsroom@127.0.0.1:1/opsroom")
    writer = IngestWriter(lambda: SqlUnitOfWork(session_factory(engine)), clock)
    await writer.start()
    try:
        results = await asyncio.gather(
            *(writer.submit(webhook, [trigger(f"o{i}")]) for i in range(3)),
            return_exceptions=True,
        )
        assert all(isinstance(r, StorageUnavailableError) for r in results)
        assert writer.running
    finally:
        await writer.stop()
        await engine.dispose()


async def test_a_full_queue_answers_unavailable_at_once(
    uow_factory: UowFactory, clock: FakeClock, webhook: Webhook
) -> None:
    """Past max_pending queued requests, new ones are refused instead of queueing forever."""
    writer = IngestWriter(uow_factory, clock, max_pending=2)
    await writer.start()
    try:
        results = await asyncio.gather(
            *(writer.submit(webhook, [trigger(f"q{i}")]) for i in range(3)),
            return_exceptions=True,
        )
    finally:
        await writer.stop()
    assert [type(r) for r in results] == [list, list, StorageUnavailableError]
