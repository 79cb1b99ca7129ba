"""Heartbeats through the real `opsroom run` process, as `#alerts` on the Discord double shows.

The heartbeat is made by the real `opsroom webhook create --source heartbeat`, pinged over
HTTP by GET, HEAD and POST, left silent past a short `every` (seconds, so the system clock
the process runs on gets there quickly), pinged back, and left silent across a restart.
The last test feeds it the real Alertmanager's always-firing Watchdog alert, which keeps it
green for several periods.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiohttp
from sqlalchemy import select

from bot.adapters.db.tables import alerts, heartbeats
from bot.core.alerts import AlertSource
from tests.alertmanager import (
    alert_body,
    alertmanager_binary,
    post_alerts,
    running_alertmanager,
    webhook_notifications,
)
from tests.e2e.discord_double import DiscordDouble, Message
from tests.e2e.opsroom import Crew, OpsroomDatabase, OpsroomProcess, bot_posts

TITLE = "Heartbeat backup missed"


async def poll(check: Callable[[], Awaitable[bool]], within: float, what: str) -> None:
    """Poll an async condition every 0.1 s, failing after `within` seconds."""
    deadline = asyncio.get_running_loop().time() + within
    while not await check():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"waited {within}s for {what}")
        await asyncio.sleep(0.1)


async def ping(url: str, method: str = "GET", **options) -> int:
    """One ping; the status."""
    async with (
        aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as http,
        http.request(method, url, **options) as response,
    ):
        return response.status


def heartbeat_cards(double: DiscordDouble) -> list[Message]:
    """The bot's alert cards in #alerts for the heartbeat."""
    return [m for m in bot_posts(double, "alerts") if m.embeds and TITLE in m.content]


async def stored(database: OpsroomDatabase) -> tuple[dict, list[dict]]:
    """The heartbeat row and the heartbeat's alerts, as the process stored them."""
    async with database.uow_factory() as uow:
        beat = (await uow.session.execute(select(heartbeats))).mappings().one()
        rows = await uow.session.execute(
            select(alerts)
            .where(alerts.c.source == AlertSource.HEARTBEAT.value)
            .order_by(alerts.c.id)
        )
        return dict(beat), [dict(r) for r in rows.mappings()]


async def test_pings_a_miss_the_resolving_ping_and_a_restart_while_missed(
    discord_double: DiscordDouble, tmp_path: Path
) -> None:
    """GET/HEAD/POST answer 202; silence fires one card; a ping turns it green; a deadline
    passed while the process was down fires once, after the grace, at start."""
    double = discord_double
    crew = Crew.join(double)
    process = OpsroomProcess(double, tmp_path, tmp_path / "opsroom.db")
    database = await OpsroomDatabase(tmp_path / "opsroom.db").open()
    try:
        await process.start()
        await process.wait_ready()
        await crew.setup()
        out = await process.command(
            "webhook", "create", "--guild", str(double.guild.id), "--source", "heartbeat",
            "--name", "backup", "--every", "3s", "--grace", "1s",
        )  # fmt: skip
        url = out.strip()
        assert url.startswith(f"{process.url}/hooks/heartbeat/")

        assert await ping(url, "GET") == 202
        assert await ping(url, "HEAD") == 202
        body = b"backup finished: 12 GiB in 4m"
        assert await ping(url, "POST", data=body, headers={"Content-Type": "text/plain"}) == 202
        beat, found = await stored(database)
        assert beat["last_ping_at"] is not None and found == []

        # Silent past every + grace: one card in #alerts, firing.
        await double.wait_until(lambda: len(heartbeat_cards(double)) == 1, 30.0, "the miss")
        [card] = heartbeat_cards(double)
        assert card.content.startswith("🔴")
        beat, found = await stored(database)
        assert len(found) == 1 and found[0]["state"] == "firing"
        assert beat["missed_at"] is not None

        # The next ping resolves it: the same card, edited green.
        headers = {"Content-Type": "application/json"}
        assert await ping(url, "POST", data=b"{}", headers=headers) == 202
        await double.wait_until(
            lambda: heartbeat_cards(double)[0].content.startswith("✅"), 30.0, "the card green"
        )
        assert len(heartbeat_cards(double)) == 1

        # Stopped right after a ping; its deadline passes while nobody listens.
        assert await ping(url) == 202
        assert await process.terminate() == 0
        beat, _ = await stored(database)
        due = beat["due_at"]
        await poll(lambda: _passed(due), 30.0, "the deadline to pass while stopped")
        started = datetime.now(UTC)
        await process.start()
        await process.wait_ready()
        await double.wait_until(
            lambda: len(heartbeat_cards(double)) == 2, 30.0, "the miss reported after start"
        )
        _, found = await stored(database)
        assert [a["state"] for a in found] == ["resolved", "firing"]
        # Fired once, and not before the grace counted from the start had passed.
        assert found[1]["received_at"] >= started + timedelta(seconds=1)
        assert len(heartbeat_cards(double)) == 2
    finally:
        await process.stop_quietly()
        await database.close()


async def _passed(moment: datetime) -> bool:
    return datetime.now(UTC) > moment


async def test_alertmanagers_watchdog_keeps_a_heartbeat_green(
    discord_double: DiscordDouble, tmp_path: Path
) -> None:
    """Alertmanager's always-firing Watchdog, re-sent every second to the heartbeat URL,
    keeps it from missing across several periods; when Alertmanager stops, it misses."""
    alertmanager_binary()  # skips before anything starts when it is not installed
    double = discord_double
    crew = Crew.join(double)
    process = OpsroomProcess(double, tmp_path, tmp_path / "opsroom.db")
    database = await OpsroomDatabase(tmp_path / "opsroom.db").open()
    try:
        await process.start()
        await process.wait_ready()
        await crew.setup()
        out = await process.command(
            "webhook", "create", "--guild", str(double.guild.id), "--source", "heartbeat",
            "--name", "backup", "--every", "4s", "--grace", "4s",
        )  # fmt: skip
        url = out.strip()
        created = datetime.now(UTC)
        watchdog = alert_body(
            {"alertname": "Watchdog", "severity": "none"},
            {"summary": "An alert that should always be firing"},
            created - timedelta(minutes=1),
            ends=created + timedelta(hours=1),
        )
        async with running_alertmanager(
            tmp_path, url, repeat_interval="1s", group_interval="1s"
        ) as alertmanager:
            await post_alerts(alertmanager, [watchdog])

            async def kept_alive() -> bool:
                beat, _ = await stored(database)
                last = beat["last_ping_at"]
                return last is not None and last > created + timedelta(seconds=20)

            await poll(kept_alive, 90.0, "Alertmanager to keep pinging for over two periods")
            sent, failed = await webhook_notifications(alertmanager)
            assert sent >= 5 and failed == 0, (sent, failed)
            _, found = await stored(database)
            assert found == [], found  # never missed while the Watchdog was delivered
            assert heartbeat_cards(double) == []
        # Alertmanager gone: the silence is noticed.
        await double.wait_until(lambda: len(heartbeat_cards(double)) == 1, 30.0, "the miss")
    finally:
        await process.stop_quietly()
        await database.close()
