"""Batched ingest (the webhook writer's path) over the fakes: exactly the one-at-a-time result."""

from __future__ import annotations

import random

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.core.alerts import AlertSignal, AlertSource, Outcome, SignalAction
from bot.core.events import Topic
from bot.core.services import Services
from bot.core.services.alerts import ingest_batch
from tests.fakes import FakeClock, FakeDatabase
from tests.ingest_scenarios import (
    random_batch,
    run,
    set_up_guild,
    view_results,
    view_storage,
)
from tests.unit.conftest import GUILD


async def _both(seed: int, follow: bool) -> None:
    """One random batch through both paths on two identical fake databases."""
    clock = FakeClock()
    views = []
    for batched in (False, True):
        db = FakeDatabase()
        services = Services.build(db.uow, clock)
        hooks = await set_up_guild(services, db.uow, GUILD, clock.now(), follow=follow)
        batch = random_batch(random.Random(seed), hooks)
        results = await run(db.uow, batch, clock.now(), batched=batched)
        views.append((view_results(results), await view_storage(db.uow, GUILD)))
    assert views[1] == views[0]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 2**32), follow=st.booleans())
async def test_batch_equals_one_at_a_time(seed: int, follow: bool) -> None:
    """Random batches of Alertmanager and Events notifications over three streams, with and
    without an incident following stream s1: same outcomes, alerts, events and timeline."""
    await _both(seed, follow)


async def test_a_repeat_in_the_same_batch_updates_the_new_alert(db: FakeDatabase, clock) -> None:
    """A notification repeated within one batch: one alert, count 2, two relay events, and
    the first result still shows the alert as it was after the first notification."""
    services = Services.build(db.uow, clock)
    am, _ = await set_up_guild(services, db.uow, GUILD, clock.now(), follow=False)
    signal = AlertSignal(
        AlertSource.ALERTMANAGER, SignalAction.TRIGGER, "x", "x am", "t", episode_key="e1"
    )
    async with db.uow() as uow:
        first, second = await ingest_batch(uow, [(am, [signal]), (am, [signal])], clock.now())
        await uow.commit()
    assert [first[0].outcome, second[0].outcome] == [Outcome.NEW, Outcome.REPEAT]
    assert first[0].alert is not None and second[0].alert is not None
    assert (first[0].alert.count, second[0].alert.count) == (1, 2)
    assert first[0].alert.id == second[0].alert.id
    [stored] = db.store.alerts.values()
    assert stored.count == 2
    assert [e.event.topic for e in db.store.outbox] == [Topic.ALERT_CHANGED] * 2


async def test_resolve_then_trigger_in_one_request_is_stored(db: FakeDatabase, clock) -> None:
    """Events v2 resolve then trigger of an open stream in one batch: the old alert is closed
    before the new one is stored (storage allows one open alert per stream)."""
    services = Services.build(db.uow, clock)
    _, events = await set_up_guild(services, db.uow, GUILD, clock.now(), follow=False)

    def sig(action: SignalAction) -> AlertSignal:
        return AlertSignal(AlertSource.EVENTS, action, "db", "db agent", "down")

    await run(db.uow, [(events, [sig(SignalAction.TRIGGER)])], clock.now(), batched=True)
    [results] = await run(
        db.uow,
        [(events, [sig(SignalAction.RESOLVE), sig(SignalAction.TRIGGER)])],
        clock.now(),
        batched=True,
    )
    assert [r.outcome for r in results] == [Outcome.RESOLVED, Outcome.NEW]
    assert [a.state.value for a in db.store.alerts.values()] == ["resolved", "firing"]
