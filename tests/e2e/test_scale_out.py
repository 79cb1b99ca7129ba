"""Scale-out on PostgreSQL: two `opsroom run --role web` processes receive the webhooks and
one `opsroom run --role bot` process holds the gateway and relays — every alert stored once
and shown in Discord exactly once, however the deliveries are spread or repeated.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections import Counter
from pathlib import Path

import aiohttp
import pytest
from sqlalchemy import text

from bot.adapters.db import SqlUnitOfWork, session_factory
from bot.core.alerts import AlertSource
from tests.e2e.discord_double import DiscordDouble
from tests.e2e.opsroom import Crew, OpsroomDatabase, OpsroomProcess
from tests.e2e.storm import (
    all_resolved,
    assert_each_shown_once,
    group,
    pending_events,
    post_groups,
    resolved,
    shown_counts,
    stored_alerts,
    webhook_server,
)
from tests.integration.databases import postgres_url_or_skip, reset_public_schema

FAST = pytest.mark.discord_double(message_limit=(5, 1.0))  # Discord's 5 per 5 s, sped up
PROMPTLY = 10.0  # seconds; well under the 30 s poll a bot process used to wait for others


def unexpected_failures(stderr: str) -> list[str]:
    """Log records with an error or a traceback, except the expected race between web
    processes: both stored the same alert, the database's unique constraint refused one
    (ConflictError), and the writer retried (answering 503 if it still lost)."""
    records = re.split(r"\n(?=\d{4}-\d\d-\d\d \d\d:)", stderr)
    return [
        record
        for record in records
        if (" ERROR " in record or "Traceback" in record)
        and not record.rstrip().splitlines()[-1].startswith("bot.core.errors.ConflictError")
    ]


async def wait_empty_outbox(database: OpsroomDatabase, within: float = 20.0) -> None:
    """Poll until every outbox event is delivered."""
    deadline = time.monotonic() + within
    while (left := await pending_events(database.uow_factory)) != 0:
        assert time.monotonic() < deadline, f"{left} outbox events still pending"
        await asyncio.sleep(0.05)


@FAST
async def test_two_web_processes_and_one_bot_relay_every_alert_exactly_once(
    discord_double: DiscordDouble, tmp_path: Path
) -> None:
    """2 web + 1 bot, an HA pair posting to both, others to one: every alert relayed once."""
    url = postgres_url_or_skip()
    await reset_public_schema(url)  # empty: the three processes migrate it together
    double = discord_double
    crew = Crew.join(double)
    bot = OpsroomProcess(double, tmp_path, url, role="bot")
    webs = [OpsroomProcess(double, tmp_path, url, role="web") for _ in range(2)]
    processes = [bot, *webs]
    database: OpsroomDatabase | None = None
    try:
        await asyncio.gather(*(p.start() for p in processes))
        await asyncio.gather(*(p.wait_ready() for p in processes))
        # One Discord client: the bot process logged in and opened the one gateway session.
        assert len(double.requests_to("GET /users/@me")) == 1
        assert len(double.gateway.identifies) == 1
        await crew.setup()
        database = await OpsroomDatabase(url).open()
        assert database.services is not None
        _, token = await database.services.webhooks.create(
            double.guild.id, AlertSource.ALERTMANAGER, "prometheus", None
        )
        async with aiohttp.ClientSession() as http:
            async with http.post(f"{bot.url}/hooks/alertmanager/{token}", json=group(0)) as r:
                assert r.status == 404  # the bot process takes no webhooks
            async with http.get(f"{webs[0].url}/readyz") as r:
                assert (await r.json())["status"] == "ok"

        a, b = (web.url for web in webs)
        shared = [group(m, size=1 if m < 2 else 5) for m in range(12)]  # the HA pair's groups
        only_a = [group(m) for m in range(100, 106)]
        only_b = [group(m) for m in range(200, 206)]
        sends = [(a, g) for g in shared] + [(b, g) for g in shared]
        sends += [(a, g) for g in only_a] + [(b, g) for g in only_b]
        started = time.monotonic()
        statuses = await post_groups(sends, token, retry_5xx=True)  # as Alertmanager retries
        assert statuses == [202] * len(sends)
        await double.wait_until(
            lambda: shown_counts(double), PROMPTLY - (time.monotonic() - started), "a first card"
        )
        labels = await stored_alerts(database.uow_factory, double.guild.id)
        fingerprints = Counter(labels.values())
        everything = {a["fingerprint"] for _, g in sends for a in g["alerts"]}
        assert set(fingerprints) == everything and set(fingerprints.values()) == {1}
        await double.wait_until(
            lambda: set(shown_counts(double)) >= set(labels), 30.0, "every alert in #alerts"
        )

        # Both of the pair resolve the shared groups; each web process resolves its own.
        sends = [(a, resolved(g)) for g in shared] + [(b, resolved(g)) for g in shared]
        sends += [(b, resolved(g)) for g in only_a] + [(a, resolved(g)) for g in only_b]
        assert await post_groups(sends, token, retry_5xx=True) == [202] * len(sends)
        await double.wait_until(
            lambda: all_resolved(double, labels), 40.0, "every alert shown resolved"
        )
        await wait_empty_outbox(database)
        assert_each_shown_once(double, labels)
        assert double.limiter.provoked_429s == 0
        assert len(await stored_alerts(database.uow_factory, double.guild.id)) == len(labels)
        for process in processes:
            assert await process.terminate() == 0, process.stderr
            assert not unexpected_failures(process.stderr), process.stderr
    finally:
        for process in processes:
            await process.stop_quietly()
        if database is not None:
            await database.close()


class GatedUnitOfWork(SqlUnitOfWork):
    """A unit of work whose commit waits for the test's gate (the first writer of a race)."""

    gate: asyncio.Event
    waiting: asyncio.Event

    async def commit(self) -> None:
        self.waiting.set()
        await self.gate.wait()
        await super().commit()


async def lock_waits(database: OpsroomDatabase) -> int:
    """Backends of this database waiting for a lock (the second writer, on the first's row)."""
    async with database.engine.connect() as connection:
        query = text(
            "SELECT count(*) FROM pg_stat_activity "
            "WHERE datname = current_database() AND wait_event_type = 'Lock'"
        )
        return int((await connection.execute(query)).scalar_one())


async def post_one(url: str, token: str, payload: dict) -> tuple[int, dict]:
    async with (
        aiohttp.ClientSession() as http,
        http.post(f"{url}/hooks/alertmanager/{token}", json=payload) as response,
    ):
        return response.status, await response.json()


async def test_two_web_writers_racing_for_one_alert_store_it_once() -> None:
    """Two web writers store one alert at once: the loser answers 503 or "repeat"; stored once."""
    url = postgres_url_or_skip()
    database = await (await OpsroomDatabase(url).open()).empty()
    first = await OpsroomDatabase(url).open()  # each web process has its own engine and pool
    second = await OpsroomDatabase(url).open()
    try:
        assert database.services and first.services and second.services
        _, token = await database.services.webhooks.create(
            1, AlertSource.ALERTMANAGER, "prometheus", None
        )
        gate, waiting = asyncio.Event(), asyncio.Event()
        sessions = session_factory(first.engine)

        def gated() -> GatedUnitOfWork:
            uow = GatedUnitOfWork(sessions)
            uow.gate, uow.waiting = gate, waiting
            return uow

        payload = group(7, size=1)
        async with (
            webhook_server(first.services, gated) as a,
            webhook_server(second.services, second.uow_factory) as b,
        ):
            task_a = asyncio.create_task(post_one(a, token, payload))
            await asyncio.wait_for(waiting.wait(), 10.0)  # A inserted, not committed
            task_b = asyncio.create_task(post_one(b, token, payload))
            deadline = time.monotonic() + 10.0
            while await lock_waits(database) == 0:  # B's insert waits on A's row
                assert time.monotonic() < deadline and not task_b.done(), "B never waited"
                await asyncio.sleep(0.02)
            gate.set()
            status_a, body_a = await task_a
            status_b, body_b = await task_b
            assert (status_a, body_a["outcomes"]) == (202, {"new": 1})
            assert status_b in (202, 503), (status_b, body_b)
            if status_b == 503:  # the sender retries, and finds the alert stored
                status_b, body_b = await post_one(b, token, payload)
            assert (status_b, body_b["outcomes"]) == (202, {"repeat": 1})
        stored = await stored_alerts(database.uow_factory, 1)
        assert list(stored.values()) == [payload["alerts"][0]["fingerprint"]]
    finally:
        for db in (database, first, second):
            await db.close()
