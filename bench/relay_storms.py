"""Relay storms across guilds, before vs after, in the same run: fairness, a flood, a long
storm with resolutions, and escalation pings.

    python bench/relay_storms.py                          # every scenario, shortened
    python bench/relay_storms.py --scenarios guilds,flood --full
    python bench/relay_storms.py --database postgresql+asyncpg://u:p@127.0.0.1/db

Each scenario runs the real `python -m bot run --role all` twice against a Discord double
with Discord's message limit (5 per 5 s per channel): once on the code of `--before` (a git
revision of this repository, exported to a temporary directory and put first on the
process's PYTHONPATH) and once on the working tree. Guilds are set up by writing their
configuration (an #alerts channel each) before the process starts; each guild has its own
Alertmanager webhook token.

- `guilds`: 20 guilds each POST 100 groups of 10 alerts over `--window` s (20 s), while a
  quiet guild POSTs one alert every 2 s. Targets: every quiet-guild alert visible ≤ 5 s
  after its POST, every storming guild's ≤ 10 s, 0 × 429.
- `flood`: one guild POSTs one group of `--flood` alerts (50,000 with --full; 10,000 by
  default), then another guild one alert: visible ≤ 5 s.
- `long`: `--long-alerts` alerts from a tenth as many monitors over `--long-window` s, each
  group resolved 30 s after it fired (10,000 / 1,000 / 300 s with --full; 2,000 / 200 /
  60 s by default). Targets: every alert visible ≤ 10 s, ≤ 30 messages created, every
  resolution visible ≤ 30 s after its POST, 0 × 429, RSS < 150 MB.
- `pings`: 300 alerts in one guild with escalation after 1 minute: pings created at the
  first level (target 1), counted for 30 s after the first.

An alert is visible when a message in its guild's #alerts names it (card footer, digest
line or the digest's attached list: tests/e2e/storm.py), read every 50 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(REPO))

import aiohttp  # noqa: E402
from _common import median, print_machine, rss_kib, table  # noqa: E402
from sqlalchemy import select  # noqa: E402

from bot.adapters.db import SqlUnitOfWork, create_engine, session_factory  # noqa: E402
from bot.adapters.db.tables import alerts as alerts_table  # noqa: E402
from tests.e2e.discord_double import MESSAGE_ROUTE, DiscordDouble  # noqa: E402
from tests.e2e.opsroom import OpsroomDatabase, OpsroomProcess, bot_posts  # noqa: E402
from tests.e2e.storm import group, message_states, resolved  # noqa: E402

POLL = 0.05


@dataclass
class Watch:
    """When each alert (by fingerprint) was POSTed, first shown, and shown resolved."""

    sent: dict[str, float] = field(default_factory=dict)
    resolved_sent: dict[str, float] = field(default_factory=dict)
    seen: dict[str, float] = field(default_factory=dict)
    seen_resolved: dict[str, float] = field(default_factory=dict)
    guild_of: dict[str, int] = field(default_factory=dict)

    def latencies(self, fps: list[str]) -> list[float]:
        return [self.seen[f] - self.sent[f] for f in fps if f in self.seen]

    def resolution_latencies(self) -> list[float]:
        return [
            self.seen_resolved[f] - self.resolved_sent[f]
            for f in self.resolved_sent
            if f in self.seen_resolved
        ]


@dataclass
class Setup:
    double: DiscordDouble
    database: OpsroomDatabase
    process: OpsroomProcess
    channels: dict[int, Any]  # guild id → its #alerts
    tokens: dict[int, str]
    watch: Watch = field(default_factory=Watch)
    labels: dict[str, str] = field(default_factory=dict)  # A12 → fingerprint


@contextlib.asynccontextmanager
async def opsroom(args: argparse.Namespace, code: Path | None, guilds: int, **config: Any):
    """A double with `guilds` guilds set up, and the real process on `code` (None: here)."""
    workdir = Path(tempfile.mkdtemp(prefix="opsroom-bench-relay-"))
    url = args.database or workdir / "opsroom.db"
    async with DiscordDouble(message_limit=(5, 5.0)) as double:
        world = double.world
        found = [double.guild] + [
            world.add_guild(f"guild {n}", double.alice) for n in range(1, guilds)
        ]
        channels = {g.id: world.add_channel(g, "alerts") for g in found}
        guild_channels = {g.id: channels[g.id].id for g in found}
        database = OpsroomDatabase(url)
        tokens = await prepare(
            database.url, code, guild_channels, config, fresh=bool(args.database)
        )
        database.engine = create_engine(database.url)
        sessions = session_factory(database.engine)
        database.uow_factory = lambda: SqlUnitOfWork(sessions)
        process = OpsroomProcess(double, workdir, url)
        if code is not None:
            process.env["PYTHONPATH"] = str(code)
        setup = Setup(double, database, process, channels, tokens)
        stop = asyncio.Event()
        try:
            await process.start()
            await process.wait_ready(within=60)
            watcher = asyncio.create_task(watch(setup, stop))
            try:
                yield setup
            finally:
                stop.set()
                await watcher
        finally:
            with contextlib.suppress(Exception):
                await process.terminate()
            await process.stop_quietly()
            await database.close()
            if "Traceback" in process.stderr:
                print("opsroom logged a traceback:\n" + process.stderr[-2000:], file=sys.stderr)
            shutil.rmtree(workdir, ignore_errors=True)


PREPARE = """
import asyncio, json, sys
from sqlalchemy import text
from bot.adapters.db import SqlUnitOfWork, create_engine, session_factory, upgrade_to_head
from bot.core.alerts import AlertSource
from bot.core.clock import SystemClock
from bot.core.model import GuildConfig
from bot.core.services import Services

async def main(url, fresh, guilds, config):
    if fresh:  # a PostgreSQL database of its own: start from an empty schema
        engine = create_engine(url)
        async with engine.begin() as connection:
            await connection.execute(text("DROP SCHEMA public CASCADE"))
            await connection.execute(text("CREATE SCHEMA public"))
        await engine.dispose()
    await upgrade_to_head(url)
    engine = create_engine(url)
    sessions = session_factory(engine)
    services = Services.build(lambda: SqlUnitOfWork(sessions), SystemClock())
    async with SqlUnitOfWork(sessions) as uow:
        for guild_id, channel_id in guilds.items():
            saved = GuildConfig(int(guild_id), alerts_channel_id=channel_id, **config)
            await uow.guilds.save(saved)
        await uow.commit()
    tokens = {}
    for guild_id in guilds:
        _, tokens[guild_id] = await services.webhooks.create(
            int(guild_id), AlertSource.ALERTMANAGER, "prometheus", None
        )
    await engine.dispose()
    print(json.dumps(tokens))

asyncio.run(main(*json.loads(sys.argv[1])))
"""


async def prepare(
    url: str, code: Path | None, guilds: dict[int, int], config: dict[str, Any], *, fresh: bool
) -> dict[int, str]:
    """Migrate the database and set the guilds up with the code that will run on it (the
    baseline's schema is older), returning each guild's webhook token."""
    env = dict(os.environ)
    if code is not None:
        env["PYTHONPATH"] = str(code)
    argument = json.dumps([url, fresh, {str(k): v for k, v in guilds.items()}, config])
    done = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        PREPARE,
        argument,
        cwd=str(code or REPO),
        env=env,
        stdout=asyncio.subprocess.PIPE,
    )
    out, _ = await done.communicate()
    assert done.returncode == 0, "setting the database up failed"
    return {int(k): v for k, v in json.loads(out).items()}


async def watch(setup: Setup, stop: asyncio.Event) -> None:
    """Read every guild's #alerts; note when each alert is first shown, and shown resolved."""
    parsed: dict[tuple[int, int, int], dict[str, str]] = {}
    w = setup.watch
    last_labels = 0.0
    while not stop.is_set():
        now = time.monotonic()
        if now - last_labels > 0.2:
            setup.labels.update(await stored_labels(setup))
            last_labels = now
        for channel in setup.channels.values():
            for message in bot_posts(setup.double, channel):
                key = (message.id, len(message.edits), len(message.files))
                names = parsed.get(key)
                if names is None:
                    names = parsed[key] = message_states(message)
                for name, state in names.items():
                    fp = setup.labels.get(name)
                    if fp is None:
                        continue
                    w.seen.setdefault(fp, now)
                    if "resolved" in state.casefold():
                        w.seen_resolved.setdefault(fp, now)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), POLL)


async def stored_labels(setup: Setup) -> dict[str, str]:
    async with setup.database.uow_factory().reading() as uow:
        query = select(alerts_table.c.id, alerts_table.c.stream_key)
        return {f"A{r.id}": r.stream_key for r in await uow.session.execute(query)}  # type: ignore[attr-defined]


async def post(setup: Setup, http: aiohttp.ClientSession, guild_id: int, payload: dict) -> int:
    """POST one group for a guild, noting when each of its alerts was sent."""
    now = time.monotonic()
    is_resolved = payload["status"] == "resolved"
    for alert in payload["alerts"]:
        fp = alert["fingerprint"]
        (setup.watch.resolved_sent if is_resolved else setup.watch.sent)[fp] = now
        setup.watch.guild_of[fp] = guild_id
    url = f"{setup.process.url}/hooks/alertmanager/{setup.tokens[guild_id]}"
    async with http.post(url, json=payload) as response:
        return response.status


async def spread_posts(
    setup: Setup, schedule: list[tuple[float, int, dict]], statuses: list[int]
) -> None:
    """POST each (at s after start, guild, payload) on time."""
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=300)) as http:
        start = time.monotonic()

        async def one(at: float, guild_id: int, payload: dict) -> None:
            await asyncio.sleep(max(0.0, start + at - time.monotonic()))
            statuses.append(await post(setup, http, guild_id, payload))

        await asyncio.gather(*(one(*item) for item in schedule))


def created(setup: Setup) -> int:
    """Messages created in every #alerts."""
    ids = {str(c.id) for c in setup.channels.values()}
    return sum(
        1
        for r in setup.double.requests_to(MESSAGE_ROUTE)
        if r.params["channel_id"] in ids and r.status == 200
    )


def fps_of(payloads: list[dict]) -> list[str]:
    return [a["fingerprint"] for p in payloads for a in p["alerts"]]


async def settle(setup: Setup, fps: list[str], within: float, resolved_too: bool = False) -> None:
    """Wait until all these alerts are shown (and shown resolved), or `within` s passed."""
    w = setup.watch

    def done() -> bool:
        if not all(f in w.seen for f in fps):
            return False
        return not resolved_too or all(f in w.seen_resolved for f in fps)

    with contextlib.suppress(TimeoutError):
        await setup.double.wait_until(done, within)
    await asyncio.sleep(1.0)


async def scenario_guilds(args: argparse.Namespace, code: Path | None) -> dict[str, Any]:
    storming = 20
    async with opsroom(args, code, storming + 1) as s:
        guild_ids = list(s.channels)
        quiet, loud = guild_ids[0], guild_ids[1:]
        schedule: list[tuple[float, int, dict]] = []
        by_guild: dict[int, list[dict]] = {}
        for g, guild_id in enumerate(loud):
            for m in range(100):
                payload = group(1000 + g * 100 + m, size=10)
                by_guild.setdefault(guild_id, []).append(payload)
                schedule.append((args.window * m / 100, guild_id, payload))
        for n in range(int(args.window / 2)):
            payload = group(n, size=1)
            by_guild.setdefault(quiet, []).append(payload)
            schedule.append((n * 2.0 + 0.5, quiet, payload))
        statuses: list[int] = []
        await spread_posts(s, schedule, statuses)
        every = [f for payloads in by_guild.values() for f in fps_of(payloads)]
        await settle(s, every, args.drain)
        quiet_lat = s.watch.latencies(fps_of(by_guild[quiet]))
        loud_lat = s.watch.latencies([f for g in loud for f in fps_of(by_guild[g])])
        return {
            "202s": sum(x == 202 for x in statuses),
            "visible": f"{sum(f in s.watch.seen for f in every)}/{len(every)}",
            "quiet max s": max(quiet_lat, default=float("nan")),
            "quiet p50 s": median(quiet_lat) if quiet_lat else float("nan"),
            "storming max s": max(loud_lat, default=float("nan")),
            "storming p50 s": median(loud_lat) if loud_lat else float("nan"),
            "messages": created(s),
            "429s": s.double.limiter.provoked_429s,
            "429 scopes": sorted({r.scope for r in s.double.limiter.given if not r.injected}),
        }


async def scenario_flood(args: argparse.Namespace, code: Path | None) -> dict[str, Any]:
    async with opsroom(args, code, 2) as s:
        flooding, other = list(s.channels)
        big = group(1, size=args.flood)
        small = group(2, size=1)
        statuses: list[int] = []
        await spread_posts(s, [(0.0, flooding, big)], statuses)
        await spread_posts(s, [(0.5, other, small)], statuses)
        await settle(s, fps_of([small]), args.drain)
        other_lat = s.watch.latencies(fps_of([small]))
        await settle(s, fps_of([big]), args.drain)
        big_lat = s.watch.latencies(fps_of([big]))
        return {
            "202s": sum(x == 202 for x in statuses),
            "other guild's alert s": other_lat[0] if other_lat else float("nan"),
            "flood visible": f"{len(big_lat)}/{args.flood}",
            "flood all visible s": max(big_lat, default=float("nan")),
            "messages": created(s),
            "429s": s.double.limiter.provoked_429s,
        }


async def scenario_long(args: argparse.Namespace, code: Path | None) -> dict[str, Any]:
    monitors = args.long_alerts // 10
    async with opsroom(args, code, 1) as s:
        (guild_id,) = s.channels
        firing = [group(m, size=10) for m in range(monitors)]
        schedule = [(args.long_window * m / monitors, guild_id, p) for m, p in enumerate(firing)]
        schedule += [(at + 30.0, g, resolved(p)) for at, g, p in schedule]
        statuses: list[int] = []
        await spread_posts(s, schedule, statuses)
        every = fps_of(firing)
        await settle(s, every, args.drain, resolved_too=True)
        lat = s.watch.latencies(every)
        res = s.watch.resolution_latencies()
        rss = rss_kib(s.process.process.pid) / 1024  # type: ignore[union-attr]
        return {
            "202s": sum(x == 202 for x in statuses),
            "visible": f"{len(lat)}/{len(every)}",
            "all visible s": max(lat, default=float("nan")),
            "resolved shown": f"{len(res)}/{len(every)}",
            "resolution max s": max(res, default=float("nan")),
            "resolution p50 s": median(res) if res else float("nan"),
            "messages": created(s),
            "429s": s.double.limiter.provoked_429s,
            "RSS MiB": rss,
        }


async def scenario_pings(args: argparse.Namespace, code: Path | None) -> dict[str, Any]:
    async with opsroom(args, code, 1, escalation_minutes=1, oncall_role_id=None) as s:
        (guild_id,) = s.channels
        storm = [group(m, size=10) for m in range(30)]
        statuses: list[int] = []
        await spread_posts(s, [(0.0, guild_id, p) for p in storm], statuses)
        channel = s.channels[guild_id]

        def pings() -> list[Any]:
            return [m for m in bot_posts(s.double, channel) if m.content.startswith("🔔")]

        with contextlib.suppress(TimeoutError):
            await s.double.wait_until(lambda: pings(), 120)
        await asyncio.sleep(30.0)
        return {
            "202s": sum(x == 202 for x in statuses),
            "alerts": 300,
            "level-1 pings in 30 s": len(pings()),
            "messages": created(s),
            "429s": s.double.limiter.provoked_429s,
        }


SCENARIOS = {
    "guilds": scenario_guilds,
    "flood": scenario_flood,
    "long": scenario_long,
    "pings": scenario_pings,
}


def export(revision: str) -> Path:
    """The code of `revision`, in a temporary directory."""
    target = Path(tempfile.mkdtemp(prefix="opsroom-bench-before-"))
    archive = subprocess.run(
        ["git", "-C", str(REPO), "archive", revision], check=True, capture_output=True
    ).stdout
    subprocess.run(["tar", "-x", "-C", str(target)], input=archive, check=True)
    return target


def fmt(value: Any) -> str:
    return f"{value:.1f}" if isinstance(value, float) else str(value)


async def amain(args: argparse.Namespace) -> None:
    if args.full:
        args.flood, args.long_alerts, args.long_window = 50_000, 10_000, 300.0
    before = export(args.before)
    after = export(args.after) if args.after else None
    started = time.monotonic()
    results: dict[str, dict[str, dict[str, Any]]] = {}
    try:
        for name in args.scenarios.split(","):
            for label, code in (("before", before), ("after", after)):
                figures = await SCENARIOS[name](args, code)
                results.setdefault(name, {})[label] = figures
                print(f"{name} {label}: {figures}", file=sys.stderr)
    finally:
        shutil.rmtree(before, ignore_errors=True)
        if after is not None:
            shutil.rmtree(after, ignore_errors=True)
    print_machine()
    where = "PostgreSQL" if args.database else "SQLite"
    print(
        f"{where}; before = {args.before}, after = {args.after or 'the working tree'}; took "
        f"{time.monotonic() - started:.0f} s\n"
    )
    for name, runs in results.items():
        keys = list(runs["after"])
        rows = [[label, *(fmt(runs[label].get(k, "—")) for k in keys)] for label in runs]
        print(f"### {name}\n")
        print(table(["code", *keys], rows))
        print()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scenarios", default="guilds,flood,long,pings")
    parser.add_argument("--before", default="686650b", help="git revision of the baseline")
    parser.add_argument("--after", help="git revision to compare (default: the working tree)")
    parser.add_argument("--database", help="a PostgreSQL URL (default: a fresh SQLite file)")
    parser.add_argument("--full", action="store_true", help="the issue's full sizes")
    parser.add_argument("--window", type=float, default=20.0)
    parser.add_argument("--flood", type=int, default=10_000)
    parser.add_argument("--long-alerts", type=int, default=2_000)
    parser.add_argument("--long-window", type=float, default=60.0)
    parser.add_argument("--drain", type=float, default=90.0, help="max s to wait after POSTs")
    asyncio.run(amain(parser.parse_args()))


if __name__ == "__main__":
    main()
