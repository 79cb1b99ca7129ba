"""An alert storm on the wire: the real webhook server and the real bot against the Discord
double with Discord's own message limit (5 per 5 s per channel)."""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web
from sqlalchemy import select

from bot.adapters.db.tables import alerts
from bot.adapters.http.ratelimit import TokenBucketLimiter
from bot.adapters.http.server import build_web_app
from bot.adapters.metrics import Metrics
from bot.core.alerts import AlertSource
from tests.e2e.discord_double import MESSAGE_ROUTE, DiscordDouble
from tests.e2e.opsroom import Crew, OpsroomDatabase, bot_posts
from tests.e2e.storm import group
from tests.e2e.storm import states as visible

MONITORS, PER_MONITOR = 60, 5


@pytest.fixture
async def database(tmp_path: Path) -> AsyncIterator[OpsroomDatabase]:
    """A migrated SQLite file, with services wired as `opsroom run` wires them."""
    db = await OpsroomDatabase(tmp_path / "opsroom.db").open()
    try:
        yield db
    finally:
        await db.close()


@pytest.fixture
async def webhook_server(database: OpsroomDatabase) -> AsyncIterator[tuple[str, Metrics]]:
    """The real webhook server on a loopback port (its writer commits wake the bot's relay)."""
    metrics = Metrics()
    assert database.services is not None
    app = build_web_app(
        services=database.services,
        uow_factory=database.uow_factory,
        metrics=metrics,
        readiness_checks={},
        rate_limiter=TokenBucketLimiter(rate=1000.0, burst=1000),  # the storm is the point
    )
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        yield f"http://127.0.0.1:{port}", metrics
    finally:
        await runner.cleanup()


async def stored_labels(database: OpsroomDatabase, guild_id: int) -> set[str]:
    """`A<id>` of every alert stored for the guild."""
    async with database.uow_factory() as uow:
        result = await uow.session.execute(select(alerts.c.id).where(alerts.c.guild_id == guild_id))
        return {f"A{alert_id}" for alert_id in result.scalars()}


async def pending(database: OpsroomDatabase) -> int:
    async with database.uow_factory() as uow:
        return len(await uow.outbox.pending(1000))


async def post_all(url: str, token: str, status: str) -> list[int]:
    """Every monitor's group at once, as a storm arrives."""
    async with aiohttp.ClientSession() as http:

        async def one(monitor: int) -> int:
            async with http.post(
                f"{url}/hooks/alertmanager/{token}", json=group(monitor, status)
            ) as r:
                return r.status

        return list(await asyncio.gather(*(one(m) for m in range(MONITORS))))


async def test_a_storm_of_300_alerts_is_all_visible_without_a_single_429(
    discord_double: DiscordDouble,
    database: OpsroomDatabase,
    webhook_server: tuple[str, Metrics],
) -> None:
    """300 alerts from 60 monitors, then all resolved: every one visible, no 429, few messages."""
    double = discord_double
    url, metrics = webhook_server
    crew = Crew.join(double)
    assert database.services is not None
    bot = database.bot(metrics=metrics)
    async with double.running(bot):
        await crew.setup()
        channel = double.channel("alerts")
        _, token = await database.services.webhooks.create(
            double.guild.id, AlertSource.ALERTMANAGER, "prometheus", None
        )
        started = time.monotonic()
        statuses = await post_all(url, token, "firing")
        assert statuses == [202] * MONITORS
        await double.wait_until(lambda: bot_posts(double, channel), 1.0, "the first alert")
        first_after = time.monotonic() - started
        expected = await stored_labels(database, double.guild.id)
        assert len(expected) == MONITORS * PER_MONITOR
        await double.wait_until(
            lambda: set(visible(double)) >= expected, 30.0, "every alert in #alerts"
        )
        creates = [
            r
            for r in double.requests_to(MESSAGE_ROUTE)
            if r.params["channel_id"] == str(channel.id)
        ]
        assert first_after < 1.0
        assert len(creates) <= 20
        assert all(
            r.json is None or r.json.get("allowed_mentions") == {"parse": []} for r in creates
        )
        assert not any(m.pinged_everyone or m.pinged_roles for m in bot_posts(double, channel))

        assert await post_all(url, token, "resolved") == [202] * MONITORS
        await double.wait_until(
            lambda: all("resolved" in line.casefold() for line in visible(double).values()),
            40.0,
            "every alert shown resolved",
        )
        await asyncio.sleep(0.5)
        assert await pending(database) == 0
        assert len(bot_posts(double, channel)) == len(creates)  # resolution only edits
    assert double.limiter.provoked_429s == 0
    text = metrics.render().decode()
    assert "opsroom_discord_rate_limited_total 0.0" in text
    sent = float(re.search(r"^opsroom_discord_messages_sent_total (\S+)$", text, re.M).group(1))
    assert sent >= len(creates)


async def test_a_429_is_counted_waited_out_and_the_card_posted_once(
    discord_double: DiscordDouble,
    database: OpsroomDatabase,
    webhook_server: tuple[str, Metrics],
) -> None:
    """Discord answers the card's post with a 429: retried after Retry-After, shown once."""
    double = discord_double
    url, metrics = webhook_server
    crew = Crew.join(double)
    assert database.services is not None
    async with double.running(database.bot(metrics=metrics)):
        await crew.setup()
        channel = double.channel("alerts")
        _, token = await database.services.webhooks.create(
            double.guild.id, AlertSource.ALERTMANAGER, "prometheus", None
        )
        double.limiter.inject(MESSAGE_ROUTE, status=429, retry_after=0.3)
        async with (
            aiohttp.ClientSession() as http,
            http.post(f"{url}/hooks/alertmanager/{token}", json=group(7)) as response,
        ):
            assert response.status == 202
        await double.wait_until(lambda: len(visible(double)) == PER_MONITOR, 10.0, "the alerts")
        await double.wait_until(lambda: "rate_limited_total 1.0" in metrics.render().decode())
    posts = [
        r for r in double.requests_to(MESSAGE_ROUTE) if r.params["channel_id"] == str(channel.id)
    ]
    assert [r.status for r in posts] == [429, 200, 200, 200, 200, 200]
    assert len(bot_posts(double, channel)) == PER_MONITOR
    assert double.limiter.injected_429s == 1 and double.limiter.provoked_429s == 0
