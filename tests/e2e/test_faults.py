"""Faults on the wire: Discord answering 429 and 5xx, the gateway dropping, the process killed
with SIGKILL and the database going away — and after each, every alert and every timeline
entry is in Discord exactly once.

The Discord double plays Discord (tests/e2e/discord_double); the webhook server and the bot
are the real ones, in process or as `python -m bot run`.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from bot.adapters.discord.client import STORAGE_ERROR
from bot.core.alerts import AlertSource
from tests.e2e.discord_double import MESSAGE_ROUTE, DiscordDouble
from tests.e2e.discord_double import rest as double_rest
from tests.e2e.discord_double.wire import RequestRecord
from tests.e2e.opsroom import (
    Crew,
    OpsroomDatabase,
    OpsroomProcess,
    assert_thread_is_the_timeline,
    bot_posts,
    reply_text,
    the_thread,
    wait_for_entries,
)
from tests.e2e.storm import (
    all_resolved,
    assert_each_shown_once,
    group,
    pending_events,
    post_groups,
    resolved,
    shown_counts,
    states,
    stored_alerts,
    webhook_server,
)
from tests.e2e.tcp_proxy import TcpProxy
from tests.integration.databases import postgres_url_or_skip

EDIT_ROUTE = "PATCH /channels/{channel_id}/messages/{message_id}"
FAST = pytest.mark.discord_double(message_limit=(5, 1.0))  # Discord's 5 per 5 s, sped up
ENTRIES = 12


@dataclass
class Where:
    """The channels faults are aimed at."""

    alerts: dict[str, str]
    thread: dict[str, str]


Faults = Callable[[DiscordDouble, Where], Awaitable[None]]


@pytest.fixture
async def database(tmp_path: Path) -> AsyncIterator[OpsroomDatabase]:
    """A migrated SQLite file, with services wired as `opsroom run` wires them."""
    db = await OpsroomDatabase(tmp_path / "opsroom.db").open()
    try:
        yield db
    finally:
        await db.close()


def storm() -> list[dict[str, Any]]:
    """4 monitors with one alert, then 12 with five: cards first, then digests (64 alerts)."""
    return [group(m, size=1 if m < 4 else 5) for m in range(16)]


async def _nothing(double: DiscordDouble, where: Where) -> None:
    return None


async def storm_and_burst(
    double: DiscordDouble,
    database: OpsroomDatabase,
    *,
    before: Faults = _nothing,
    midway: Faults = _nothing,
) -> None:
    """An alert storm (64 alerts over 1.5 s) and 12 timeline entries at once, with `before`
    set up first and `midway` once both reach Discord; then every alert resolved. Every
    alert is shown in #alerts exactly once (resolved), every entry posted once in order."""
    services = database.services
    assert services is not None
    crew = Crew.join(double)
    async with (
        webhook_server(services, database.uow_factory) as url,
        double.running(database.bot()),
    ):
        await crew.setup()
        working = await crew.declare()
        thread = the_thread(double)
        await wait_for_entries(double, thread, 1)
        _, token = await services.webhooks.create(
            double.guild.id, AlertSource.ALERTMANAGER, "prometheus", None
        )
        where = Where(
            alerts={"channel_id": str(double.channel("alerts").id)},
            thread={"channel_id": str(thread.id)},
        )
        await before(double, where)
        payloads = storm()
        firing = asyncio.create_task(post_groups([(url, p) for p in payloads], token, gap=0.1))
        adds = [
            await crew.run(crew.carol, working, "timeline add", text=f"step {n}", wait=False)
            for n in range(ENTRIES // 2)
        ]
        await double.wait_until(
            lambda: bot_posts(double, "alerts") and len(bot_posts(double, thread)) >= 3,
            10.0,
            "the storm and the burst to reach Discord",
        )
        await midway(double, where)
        adds += [  # into whatever `midway` broke
            await crew.run(crew.carol, working, "timeline add", text=f"step {n}", wait=False)
            for n in range(ENTRIES // 2, ENTRIES)
        ]
        assert await firing == [202] * len(payloads)
        for record in adds:
            await double.wait_answered(record, within=30.0)
        stored = await stored_alerts(database.uow_factory, double.guild.id)
        assert len(stored) == sum(len(p["alerts"]) for p in payloads)
        await double.wait_until(
            lambda: set(shown_counts(double)) >= set(stored), 30.0, "every alert in #alerts"
        )
        ended = [(url, resolved(p)) for p in payloads]
        assert await post_groups(ended, token) == [202] * len(payloads)
        await double.wait_until(
            lambda: all_resolved(double, stored), 40.0, "every alert shown resolved"
        )
        entries = await database.entries(double.guild.id)
        assert len(entries) == 1 + ENTRIES
        await wait_for_entries(double, thread, len(entries), within=30.0)
        await wait_for(lambda: pending_events(database.uow_factory), 20.0, "an empty outbox")
    assert_each_shown_once(double, stored)
    assert_thread_is_the_timeline(double, thread, entries)
    assert double.limiter.provoked_429s == 0


async def wait_for(count: Callable[[], Awaitable[int]], within: float, what: str) -> None:
    """Poll an async count until it is zero."""
    deadline = asyncio.get_running_loop().time() + within
    while (left := await count()) != 0:
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"waited {within}s for {what}; {left} left")
        await asyncio.sleep(0.05)


# -- Discord answering 429 and 5xx --------------------------------------------------------


@FAST
async def test_429s_per_route_and_global_lose_and_repeat_nothing(
    discord_double: DiscordDouble, database: OpsroomDatabase
) -> None:
    """429s (with Via) on message create and edit, one global: waited out, all shown once."""
    double = discord_double
    limiter = double.limiter

    async def rate_limited(double: DiscordDouble, where: Where) -> None:
        limiter.inject(MESSAGE_ROUTE, status=429, count=2, retry_after=0.3, params=where.alerts)
        limiter.inject(MESSAGE_ROUTE, status=429, count=2, retry_after=0.3, params=where.thread)
        limiter.inject(MESSAGE_ROUTE, status=429, retry_after=0.5, scope="global")
        limiter.inject(EDIT_ROUTE, status=429, count=2, retry_after=0.3, params=where.alerts)

    await storm_and_burst(double, database, before=rate_limited)
    given = [(r.route, r.scope) for r in limiter.given]
    assert given.count((MESSAGE_ROUTE, "user")) == 4
    assert given.count((MESSAGE_ROUTE, "global")) == 1
    assert given.count((EDIT_ROUTE, "user")) == 2
    assert all(fault.used == fault.count for fault in limiter.faults)
    for record in double.requests:
        if record.status == 429:
            assert record.response_headers["Via"] and record.response["retry_after"] > 0


@FAST
async def test_5xx_on_message_creation_lose_and_repeat_nothing(
    discord_double: DiscordDouble, database: OpsroomDatabase
) -> None:
    """500, 502 and 503 on posts (some after Discord stored the message) and edits: once each."""
    double = discord_double
    limiter = double.limiter

    async def failing(double: DiscordDouble, where: Where) -> None:
        for channel in (where.alerts, where.thread):
            limiter.inject(MESSAGE_ROUTE, status=503, after_commit=True, params=channel)
            limiter.inject(MESSAGE_ROUTE, status=500, params=channel)
            limiter.inject(MESSAGE_ROUTE, status=503, params=channel)
            limiter.inject(MESSAGE_ROUTE, status=502, after_commit=True, params=channel)
        limiter.inject(EDIT_ROUTE, status=503, params=where.alerts)
        limiter.inject(EDIT_ROUTE, status=502, after_commit=True, params=where.alerts)

    await storm_and_burst(double, database, before=failing)
    assert all(fault.used == fault.count for fault in limiter.faults)


# -- the gateway ---------------------------------------------------------------------------


@FAST
async def test_a_dropped_gateway_mid_storm_loses_and_repeats_nothing(
    discord_double: DiscordDouble, database: OpsroomDatabase
) -> None:
    """A TCP abort of the gateway mid-storm and mid-burst: RESUME, every alert and entry once."""
    double = discord_double

    async def drop(double: DiscordDouble, where: Where) -> None:
        await double.gateway.drop()

    await storm_and_burst(double, database, midway=drop)
    assert any(r.accepted for r in double.gateway.resumes)
    assert len(double.gateway.identifies) == 1


# -- kill -9 of the real process mid-storm --------------------------------------------------


class KillOnPost:
    """Stands in front of the double's REST answers: once Discord has stored the `nth` post in
    a channel, wait for `hold` (the bot waits for its answer meanwhile), then kill -9 the
    process before it can read the answer: posted, but not recorded as posted."""

    def __init__(
        self,
        process: OpsroomProcess,
        channel_id: int,
        nth: int,
        hold: Callable[[], Awaitable[None]],
    ) -> None:
        self.process, self.channel_id, self.nth, self.hold = process, str(channel_id), nth, hold
        self.seen = 0
        self.fired: RequestRecord | None = None
        self.original = double_rest._answer

    async def __call__(self, double: DiscordDouble, record: RequestRecord) -> web.Response:
        response = await self.original(double, record)
        if (
            self.fired is None
            and record.route == MESSAGE_ROUTE
            and record.params.get("channel_id") == self.channel_id
            and record.status == 200
        ):
            self.seen += 1
            if self.seen == self.nth:
                self.fired = record
                await self.hold()
                self.process.kill()
                await self.process.wait()
        return response


async def fingerprints_stored(path: Path, guild_id: int) -> Counter[str]:
    """How many alerts the (stopped or running) process stored per Alertmanager fingerprint."""
    database = await OpsroomDatabase(path).open()
    try:
        return Counter((await stored_alerts(database.uow_factory, guild_id)).values())
    finally:
        await database.close()


@FAST
async def test_kill_9_mid_storm_then_restart_stores_and_shows_every_202_once(
    discord_double: DiscordDouble, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """kill -9 as Discord stores a card mid-storm: each 202 stored once, each alert shown once."""
    double = discord_double
    crew = Crew.join(double)
    path = tmp_path / "opsroom.db"
    process = OpsroomProcess(double, tmp_path, path)
    try:
        await process.start()
        await process.wait_ready()
        await crew.setup()
        database = await OpsroomDatabase(path).open()
        try:
            assert database.services is not None
            _, token = await database.services.webhooks.create(
                double.guild.id, AlertSource.ALERTMANAGER, "prometheus", None
            )
        finally:
            await database.close()
        url = f"http://127.0.0.1:{process.port}"
        # Three single alerts get cards. Discord stores the third, and before the bot hears
        # back, a flood of 5-alert groups is stored (202) and the process killed: the card's
        # alert is posted but not recorded, and after the restart it waits among 60 others.
        payloads = [group(m, size=1 if m < 3 else 5) for m in range(40)]
        statuses: dict[int, int | None] = {}

        async def flood_stored() -> None:
            await double.wait_until(
                lambda: sum(s == 202 for s in statuses.values()) >= 15, 10.0, "15 stored groups"
            )

        kill = KillOnPost(process, double.channel("alerts").id, nth=3, hold=flood_stored)
        monkeypatch.setattr(double_rest, "_answer", kill)
        singles = await send_until_refused(url, token, payloads[:3], statuses, gap=0.2)
        await send_until_refused(url, token, payloads[3:], statuses, first=3)
        assert singles == [202] * 3
        await double.wait_until(lambda: process.process.returncode is not None, 20.0, "kill -9")
        monkeypatch.setattr(double_rest, "_answer", kill.original)
        assert process.process is not None and process.process.returncode == -9

        accepted = [p for n, p in enumerate(payloads) if statuses[n] == 202]
        refused = [p for n, p in enumerate(payloads) if statuses[n] != 202]
        assert len(accepted) >= 3 and refused, statuses  # the kill came mid-storm
        stored = await fingerprints_stored(path, double.guild.id)
        assert all(n == 1 for n in stored.values()), stored
        for payload in accepted:  # a 202 means committed
            assert {a["fingerprint"] for a in payload["alerts"]} <= set(stored)
        # While the bot is down, the killed card's alert resolves (another receiver stores
        # it): Discord still holds that card as firing, and must end up showing it resolved.
        assert kill.fired is not None and kill.fired.json["nonce"].startswith("al")
        killed = "A" + kill.fired.json["nonce"].removeprefix("al")
        database = await OpsroomDatabase(path).open()
        try:
            assert database.services is not None
            killed_fingerprint = (await stored_alerts(database.uow_factory, double.guild.id))[
                killed
            ]
            (single,) = [p for p in payloads if p["alerts"][0]["fingerprint"] == killed_fingerprint]
            async with webhook_server(database.services, database.uow_factory) as receiver:
                assert await post_groups([(receiver, resolved(single))], token) == [202]
        finally:
            await database.close()

        await process.start()
        await process.wait_ready()
        # The senders retry what they were not told was stored, as Alertmanager does.
        again = await post_groups([(url, p) for p in refused], token, retry_5xx=True)
        assert again == [202] * len(refused)
        stored = await fingerprints_stored(path, double.guild.id)
        everything = {a["fingerprint"] for p in payloads for a in p["alerts"]}
        assert set(stored) == everything and set(stored.values()) == {1}
        database = await OpsroomDatabase(path).open()
        try:
            labels = await stored_alerts(database.uow_factory, double.guild.id)
            await double.wait_until(
                lambda: set(shown_counts(double)) >= set(labels), 30.0, "every alert shown"
            )
            await wait_for(lambda: pending_events(database.uow_factory), 20.0, "an empty outbox")
        finally:
            await database.close()
        assert_each_shown_once(double, labels)
        await double.wait_until(
            lambda: "resolved" in states(double)[killed].casefold(), 10.0, "the card resolved"
        )
        nonce = kill.fired.json["nonce"]
        resent = [r for r in double.requests_to(MESSAGE_ROUTE) if r.json.get("nonce") == nonce]
        assert len(resent) == 2 and resent[1].response["id"] == resent[0].response["id"]
        assert await process.terminate() == 0
        assert "Traceback" not in process.stderr, process.stderr
    finally:
        await process.stop_quietly()


async def send_until_refused(
    url: str,
    token: str,
    payloads: list[dict[str, Any]],
    statuses: dict[int, int | None],
    *,
    gap: float = 0.03,
    first: int = 0,
) -> list[int | None]:
    """POST the payloads, each `gap` s after the previous one started, noting each status in
    `statuses` (by index from `first`) as it comes: None where the process was gone."""
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as http:

        async def one(index: int, payload: dict[str, Any]) -> int | None:
            await asyncio.sleep(index * gap)
            status: int | None = None
            try:
                async with http.post(f"{url}/hooks/alertmanager/{token}", json=payload) as r:
                    status = r.status
            except (aiohttp.ClientError, TimeoutError):
                pass
            statuses[first + index] = status
            return status

        return list(await asyncio.gather(*(one(i, p) for i, p in enumerate(payloads))))


# -- the database going away ---------------------------------------------------------------


@FAST
async def test_database_outage_answers_503_and_a_clear_reply_and_recovers_alone(
    discord_double: DiscordDouble, tmp_path: Path
) -> None:
    """Database cut off: 503, storage replies, /readyz names it; restored: all recovers alone."""
    url = postgres_url_or_skip()
    double = discord_double
    crew = Crew.join(double)
    database = await (await OpsroomDatabase(url).open()).empty()
    proxy = await TcpProxy.for_url(url).start()
    process = OpsroomProcess(double, tmp_path, proxy.url(url))
    try:
        assert database.services is not None
        _, token = await database.services.webhooks.create(
            double.guild.id, AlertSource.ALERTMANAGER, "prometheus", None
        )
        await process.start()
        await process.wait_ready()
        await crew.setup()
        working = await crew.declare()
        thread = the_thread(double)
        await wait_for_entries(double, thread, 1)
        hook = [(process.url, group(1, size=1))]
        assert await post_groups(hook, token) == [202]
        await double.wait_until(lambda: len(shown_counts(double)) == 1, 10.0, "the first card")

        # An entry is stored but Discord refuses its post: it is pending when the cut comes.
        refusing = double.limiter.inject(
            MESSAGE_ROUTE, status=503, count=10**6, params={"channel_id": str(thread.id)}
        )
        before = await crew.run(crew.carol, working, "timeline add", text="before the cut")
        assert "added" in reply_text(before)
        await double.wait_until(lambda: refusing.used >= 1, 10.0, "the refused thread post")
        await proxy.cut()
        refusing.count = refusing.used  # Discord is fine again; the database is not

        assert await post_groups([(process.url, group(2, size=1))], token) == [503]
        status, body = await process.readiness()
        assert status == 503 and "database" in body["failing"], body
        for command, options in (("timeline add", {"text": "during"}), ("incident show", {})):
            record = await crew.run(crew.carol, working, command, **options)
            assert record.ephemeral and reply_text(record) == STORAGE_ERROR, reply_text(record)
        (card,) = bot_posts(double, "alerts")
        ack = next(c for c in card.custom_ids() if c.startswith("opsroom:alert:ack:"))
        record = await double.click(card, crew.carol, ack)
        assert record.ephemeral and reply_text(record) == STORAGE_ERROR, reply_text(record)
        assert "connection refused" in body["failing"]["database"]

        await proxy.restore()
        again = await post_groups([(process.url, group(2, size=1))], token, retry_5xx=True)
        assert again == [202]
        after = await crew.run(crew.carol, working, "timeline add", text="after the cut")
        assert "added" in reply_text(after), reply_text(after)
        assert await process.readyz() == 200
        entries = await database.entries(double.guild.id)
        assert [e.text for e in entries][-2:] == ["before the cut", "after the cut"]
        await wait_for_entries(double, thread, len(entries), within=40.0)
        await double.wait_until(lambda: len(shown_counts(double)) == 2, 20.0, "the second card")
        await wait_for(lambda: pending_events(database.uow_factory), 20.0, "an empty outbox")
        assert_thread_is_the_timeline(double, thread, entries)
        assert_each_shown_once(double, await stored_alerts(database.uow_factory, double.guild.id))
        assert await process.terminate() == 0
    finally:
        await process.stop_quietly()
        await proxy.stop()
        await database.close()
