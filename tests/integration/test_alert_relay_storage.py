"""Where each alert is shown in Discord: written only by `set_relay`, read back by message."""

from __future__ import annotations

from collections.abc import Callable

from bot.adapters.db import SqlUnitOfWork
from tests.integration.test_repositories import GUILD, OTHER_GUILD, make_alert

UowFactory = Callable[[], SqlUnitOfWork]
CHANNEL = 1_500_000_000_000_000_001
DIGEST = 1_500_000_000_000_000_002


async def test_set_relay_and_by_relay_message(uow_factory: UowFactory) -> None:
    """Several alerts on one digest message come back by that message, in id order, per guild."""
    alerts = [make_alert(f"m-{n}") for n in range(3)] + [make_alert("x", guild_id=OTHER_GUILD)]
    async with uow_factory() as uow:
        for alert in alerts:
            await uow.alerts.add(alert)
        await uow.alerts.set_relay([a.id or 0 for a in alerts[:2]], CHANNEL, DIGEST)
        await uow.alerts.set_relay([alerts[3].id or 0], CHANNEL, DIGEST)
        await uow.commit()
    async with uow_factory() as uow:
        shown = await uow.alerts.by_relay_message(GUILD, DIGEST)
        third = await uow.alerts.get(alerts[2].id or 0)
    assert [a.id for a in shown] == [alerts[0].id, alerts[1].id]
    assert {(a.relay_channel_id, a.relay_message_id) for a in shown} == {(CHANNEL, DIGEST)}
    assert third is not None and third.relay_message_id is None


async def test_saving_an_older_copy_keeps_the_relay_ids(uow_factory: UowFactory) -> None:
    """A writer that read the alert before the relay posted cannot erase where it is shown."""
    alert = make_alert("m-1")
    async with uow_factory() as uow:
        await uow.alerts.add(alert)
        await uow.commit()
    async with uow_factory() as uow:
        await uow.alerts.set_relay([alert.id or 0], CHANNEL, DIGEST)
        await uow.commit()
    alert.count = 2  # the stale copy, without relay ids
    async with uow_factory() as uow:
        await uow.alerts.save(alert)
        await uow.commit()
    async with uow_factory() as uow:
        loaded = await uow.alerts.get(alert.id or 0)
    assert loaded is not None and loaded.count == 2
    assert (loaded.relay_channel_id, loaded.relay_message_id) == (CHANNEL, DIGEST)
