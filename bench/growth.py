"""Cost against history: every command's core call, the ingest batch and the scheduler's
re-plan on a database with 10,000 closed incidents and 1,000,000 alerts, as a ratio to the
same operation on a small database, measured in the same run.

    python bench/growth.py                               # SQLite, ≈ 2 minutes
    python bench/growth.py --pg-url postgresql+asyncpg://…/opsroom_bench_x --pg-large-url …

Both databases are built by `bench/populate.py` (same shape; the small one has 10 closed
incidents and one episode per stream), so the only difference is the history. Each
operation runs `--repeats` times per round, rounds interleaved small/large; the figure is
the median. Operations, each "before" (what the code did until this change, reproduced
here) and "after" (what it does now):

- `/incident list status:closed`: before, every closed incident read and rendered (the old
  `incidents.list`); after, one page of 25 (`incidents.page`);
- `/incident list`, `/incident show`, `/timeline add`, `/incident update`: the core call
  (one code path, so before = after);
- re-plan after a commit that moved one reminder: before, the full plan (`replan`, the
  soonest 1,000 timers of each kind re-read and compared); after, `replan_changed` of the
  one key the commit touched;
- ingest batch: 32 Alertmanager alerts of known streams (new episodes of streams with
  history) through `ingest_signals` and commit; before, with the two partial indexes
  dropped (the queries then fall back to the unique index over every episode); after,
  with them.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import gc
import os
import shutil
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from _common import print_machine, spread, table  # noqa: E402
from populate import GUILD, NOW, populate  # noqa: E402
from sqlalchemy import text  # noqa: E402

from bot.adapters.db import SqlUnitOfWork, create_engine, session_factory  # noqa: E402
from bot.adapters.scheduling import OpsroomScheduler  # noqa: E402
from bot.core.alerts import AlertSignal, AlertSource, SignalAction  # noqa: E402
from bot.core.model import OPEN_STATUSES, Member, Person, Status  # noqa: E402
from bot.core.services import IncidentRef, Services, ingest_signals  # noqa: E402
from tests.fakes import FakeClock  # noqa: E402

ALICE = Member(Person(1_190_000_000_000_000_011, "alice"), manage_guild=True)
PARTIAL = ("ix_alerts_stream_attached", "ix_alerts_stream_firing")
PARTIAL_DDL = {
    "ix_alerts_stream_attached": "CREATE INDEX ix_alerts_stream_attached ON alerts "
    "(guild_id, source, stream_key) WHERE incident_id IS NOT NULL",
    "ix_alerts_stream_firing": "CREATE INDEX ix_alerts_stream_firing ON alerts "
    "(guild_id, source, stream_key) WHERE state = 'firing'",
}


class Db:
    """One populated database with services and a scheduler over it."""

    def __init__(self, name: str, url: str, open_number: int) -> None:
        self.name, self.url, self.open_number = name, url, open_number
        self.engine = create_engine(url)
        sessions = session_factory(self.engine)
        self.clock = FakeClock(NOW)
        self.touched: set[str] = set()
        self.uow = lambda: SqlUnitOfWork(sessions, clock=self.clock, on_timers=self.touched.update)
        self.services = Services.build(self.uow, self.clock)
        # No safety sweep during the run: it would re-plan in the middle of measurements.
        self.scheduler = OpsroomScheduler.for_services(
            self.services, clock=self.clock, safety_interval=3600
        )
        self.batch = 0

    async def start(self) -> None:
        await self.scheduler.start()
        async with self.uow() as uow:
            (self.webhook,) = await uow.webhooks.list(GUILD)

    async def stop(self) -> None:
        await self.scheduler.shutdown()
        await self.engine.dispose()

    async def partial_indexes(self, present: bool) -> None:
        async with self.engine.begin() as connection:
            for name in PARTIAL:
                await connection.execute(text(f"DROP INDEX IF EXISTS {name}"))
                if present:
                    await connection.execute(text(PARTIAL_DDL[name]))
            if present:
                await connection.execute(text("ANALYZE alerts"))
        if self.engine.dialect.name == "sqlite":
            # Building an index over a million rows fills the WAL; copy it back now, or the
            # next timed commits pay for the checkpoint.
            plain = sqlite3.connect(self.url.split("///", 1)[1])
            plain.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            plain.close()

    async def ingest(self) -> None:
        """32 new episodes of 32 streams that have history, in one unit of work."""
        self.batch += 1
        k = (self.batch + 1) // 2  # odd batches fire k's episodes, even ones resolve them
        signals = [
            AlertSignal(
                AlertSource.ALERTMANAGER,
                SignalAction.TRIGGER if self.batch % 2 else SignalAction.RESOLVE,
                f"stream-{1000 + (k * 32 + n) % 900}",
                "HighLatency",
                "High latency",
                episode_key=f"bench-{k}-{n}",
            )
            for n in range(32)
        ]
        async with self.uow() as uow:
            await ingest_signals(uow, self.webhook, signals, NOW)
            await uow.commit()

    async def replan_after_update(self, incremental: bool) -> float:
        """An update moves one nudge; the scheduler re-plans (the update itself not timed)."""
        self.touched.clear()
        await self.services.incidents.post_update(
            GUILD, ALICE, IncidentRef(self.open_number), "still rolling back"
        )
        started = time.perf_counter()
        if incremental:
            await self.scheduler.replan_changed(set(self.touched))
        else:
            await self.scheduler.replan()
        return time.perf_counter() - started


def operations(db: Db) -> dict[str, tuple[Callable[[], Awaitable[Any]], ...]]:
    """Operation → (before, after) callables; one callable where the code path is one."""
    s, ref = db.services, IncidentRef(db.open_number)
    closed = {Status.CLOSED}
    return {
        "/incident list status:closed": (
            lambda: s.incidents.list(GUILD, closed),
            lambda: s.incidents.page(GUILD, closed),
        ),
        "/incident list (open)": (lambda: s.incidents.page(GUILD, OPEN_STATUSES),),
        "/incident show": (lambda: s.incidents.get(GUILD, ref),),
        "/timeline add": (lambda: s.timeline.add(GUILD, ALICE, ref, "checked the replica"),),
        "/incident update": (lambda: s.incidents.post_update(GUILD, ALICE, ref, "rolling back"),),
    }


async def timed(work: Callable[[], Awaitable[Any]], repeats: int) -> list[float]:
    """Seconds per call (or what the call says it took); garbage from the operation before
    is collected first, so its cost is not charged to this one."""
    gc.collect()
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        result = await work()
        elapsed = time.perf_counter() - started
        times.append(result if isinstance(result, float) else elapsed)
    return times


async def measure(dbs: list[Db], rounds: int, repeats: int) -> dict[tuple[str, str, str], list]:
    """(operation, variant, db) → every timing in seconds."""
    found: dict[tuple[str, str, str], list[float]] = {}
    for db in dbs:
        await db.start()
    try:
        for round_ in range(rounds + 1):  # round 0 warms caches up and is not counted
            if round_ == 1:
                found.clear()
            for db in dbs:
                for name, variants in operations(db).items():
                    for variant, work in zip(("before", "after"), variants, strict=False):
                        key = (name, variant if len(variants) > 1 else "same", db.name)
                        found.setdefault(key, []).extend(await timed(work, repeats))
                for variant, incremental in (("before", False), ("after", True)):
                    key = ("re-plan after a commit", variant, db.name)
                    plan = functools.partial(db.replan_after_update, incremental)
                    found.setdefault(key, []).extend(await timed(plan, repeats))
                for variant, present in (("before", False), ("after", True)):
                    await db.partial_indexes(present)
                    key = ("ingest batch, 32 alerts of known streams", variant, db.name)
                    found.setdefault(key, []).extend(await timed(db.ingest, repeats))
    finally:
        for db in dbs:
            await db.stop()
    return found


def report(found: dict[tuple[str, str, str], list[float]], backend: str) -> None:
    rows = []
    names = list(dict.fromkeys(key[0] for key in found))
    for name in names:
        for variant in ("before", "after", "same"):
            small, large = found.get((name, variant, "small")), found.get((name, variant, "large"))
            if not small or not large:
                continue
            ratio = statistics.median(large) / statistics.median(small)
            rows.append(
                [
                    name,
                    variant,
                    spread([t * 1000 for t in small], "{:.2f}"),
                    spread([t * 1000 for t in large], "{:.2f}"),
                    f"{ratio:.2f}×",
                    "met" if ratio <= 2 or variant == "before" else "MISSED",
                ]
            )
    headers = ["operation", "code", f"small {backend}, ms", f"large {backend}, ms"]
    print(table([*headers, "large ÷ small", "target ≤ 2×"], rows))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--incidents", type=int, default=10_000)
    parser.add_argument("--alerts", type=int, default=1_000_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument("--pg-url", help="PostgreSQL URL for the small database (wiped)")
    parser.add_argument("--pg-large-url", help="PostgreSQL URL for the large database (wiped)")
    parser.add_argument("--keep", help="directory to keep the SQLite files in (reused if there)")
    args = parser.parse_args()
    print_machine()
    shape = {"streams": 2_000, "open_": 100, "firing": 1_000}
    if args.pg_url and args.pg_large_url:
        backend = "PostgreSQL"
        urls = {"small": args.pg_url, "large": args.pg_large_url}
        for url in urls.values():
            asyncio.run(_reset_pg(url))
    else:
        backend = "SQLite"
        where = Path(args.keep or tempfile.mkdtemp(prefix="opsroom-growth-"))
        where.mkdir(parents=True, exist_ok=True)
        urls = {name: str(where / f"{name}.db") for name in ("small", "large")}
    sizes = {"small": (10, 2_000), "large": (args.incidents, args.alerts)}
    for name, target in urls.items():
        incidents_, alerts_ = sizes[name]
        if "://" not in target and Path(target).exists():
            print(f"{name}: reusing {target}")
            continue
        seconds = populate(target, incidents_=incidents_, alerts_=alerts_, **shape)
        print(f"{name}: {incidents_} closed incidents, {alerts_} alerts in {seconds:.1f} s")
    full = {n: (u if "://" in u else f"sqlite+aiosqlite:///{u}") for n, u in urls.items()}
    # The first open incident of sev1 (numbers ≡ 0 mod 4): it has an update cadence.
    dbs = [Db(name, full[name], (sizes[name][0] // 4 + 1) * 4) for name in ("small", "large")]
    found = asyncio.run(measure(dbs, args.rounds, args.repeats))
    report(found, backend)
    if not args.keep and backend == "SQLite":
        shutil.rmtree(Path(urls["small"]).parent, ignore_errors=True)


async def _reset_pg(url: str) -> None:
    for forbidden in ("opsroom_test", "opsroom_ci"):
        if url.rstrip("/").endswith("/" + forbidden):
            raise SystemExit(f"refusing to wipe {forbidden}")
    engine = create_engine(url)
    try:
        async with engine.begin() as connection:
            await connection.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
            await connection.execute(text("CREATE SCHEMA public"))
    finally:
        await engine.dispose()


if __name__ == "__main__":
    os.environ.setdefault("OPSROOM_LOG_LEVEL", "WARNING")
    main()
