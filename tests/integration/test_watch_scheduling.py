"""The real scheduler (APScheduler) runs the heartbeat and certificate sweeps from the
stored plan: a moved clock makes their timers due, and they run without a manual sweep."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.adapters.scheduling import OpsroomScheduler
from bot.adapters.tls import TlsProbe
from bot.core.alerts import AlertSource
from bot.core.model import Member, Person
from bot.core.services import Services
from tests.fakes import FakeClock
from tests.tls_certs import Authority, tls_server

GUILD = 1_180_000_000_000_000_009
ADMIN = Member(Person(1_190_000_000_000_000_019, "carol"), manage_guild=True)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(datetime.now(UTC).replace(microsecond=0))


async def eventually(check: Callable[[], Awaitable[bool]], within: float = 10.0) -> None:
    """Wait until `check()` holds; the scheduler's jobs run on this loop."""
    deadline = asyncio.get_running_loop().time() + within
    while not await check():
        if asyncio.get_running_loop().time() > deadline:
            pytest.fail("the scheduler did not get there in time")
        await asyncio.sleep(0.02)


async def test_the_scheduler_runs_heartbeat_and_certificate_sweeps(
    uow_factory, clock: FakeClock, tmp_path: Path
) -> None:
    authority = Authority(tmp_path)
    probe = TlsProbe(allow_private=True, timeout=5.0, cafile=str(authority.cafile))
    services = Services.build(uow_factory, clock, probe=probe)
    scheduler = OpsroomScheduler.for_services(services, clock=clock, safety_interval=3600)
    async with tls_server(authority.issue(valid_for=timedelta(days=10))) as server:
        webhook, _ = await services.webhooks.create(
            GUILD, AlertSource.HEARTBEAT, "cron", None, heartbeat=(timedelta(minutes=5),) * 2
        )
        await services.certs.add(GUILD, ADMIN, "localhost", server.port)
        await scheduler.start()
        try:
            assert server.handshakes == 1
            planned = scheduler.planned()
            assert {f"heartbeat:{webhook.id}", "certificate:1"} <= set(planned)
            clock.advance(hours=6, minutes=1)
            await scheduler.replan()  # as a commit's wake-up would

            async def both_ran() -> bool:
                async with uow_factory() as uow:
                    beat = await uow.heartbeats.get(webhook.id)
                return server.handshakes == 2 and beat is not None and beat.missed_at is not None

            await eventually(both_ran)
        finally:
            await scheduler.shutdown()
