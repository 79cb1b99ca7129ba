"""`AlertRepository.unshown`: the alerts never posted anywhere (stored before setup)."""

from __future__ import annotations

from collections.abc import Callable

from bot.adapters.db import SqlUnitOfWork
from tests.integration.test_repositories import GUILD, OTHER_GUILD, make_alert

CHANNEL = 1_500_000_000_000_000_001


async def test_unshown_lists_only_this_guilds_never_posted_alerts(
    uow_factory: Callable[[], SqlUnitOfWork],
) -> None:
    """Posted and "being posted" alerts are excluded; other guilds' too; ids in order."""
    alerts = [make_alert(f"m-{n}") for n in range(4)] + [make_alert("x", guild_id=OTHER_GUILD)]
    async with uow_factory() as uow:
        for alert in alerts:
            await uow.alerts.add(alert)
        await uow.alerts.set_relay([alerts[1].id or 0], CHANNEL, 99)  # shown
        await uow.alerts.set_relay([alerts[2].id or 0], CHANNEL, None)  # being posted
        await uow.commit()
    async with uow_factory() as uow:
        assert await uow.alerts.unshown(GUILD) == [alerts[0].id, alerts[3].id]
        assert await uow.alerts.unshown(OTHER_GUILD) == [alerts[4].id]
