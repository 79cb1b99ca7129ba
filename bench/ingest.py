"""Webhook ingest: committed alerts/s and p50/p99 latency against a bare aiohttp handler.

    python bench/ingest.py                      # SQLite and PostgreSQL, 3 rounds of 4 s each
    python bench/ingest.py --targets sqlite --duration 10 --rounds 5

Every server runs in a process of its own on loopback, and all are driven by the same
client: `wrk` at 32 connections with a Lua script POSTing the Alertmanager 0.25 firing
group from tests/fixtures (two alerts per request).

- `bare`: an aiohttp handler that reads the body and answers 202 — the baseline.
- `sqlite` / `postgres`: the real Opsroom web app (what `opsroom run --role web` serves,
  built by `build_web_app` on `open_runtime`) on a fresh SQLite file / a fresh schema in
  the bench's own PostgreSQL database, with 32 webhook tokens (one per sender) made through
  WebhookService. The per-webhook rate limit (20 requests/s) is lifted: it guards against
  one runaway sender and would otherwise be all this measures.
- `nostore` (diagnostic, not a product configuration): the same app with the writer's
  `submit` stubbed to answer at once without storing — the ceiling of the HTTP, token,
  parsing and answer path alone, to show where the time goes.

Variants: `new` gives every alert of every request a fingerprint and startsAt of its own
(every alert is a NEW row); `dedupe` cycles over 100 groups, so after the first 100
requests every alert is a repeat of a stored episode.

Rounds are interleaved (bare, sqlite new, sqlite dedupe, postgres new, …, then again) so
that noise from other work on the machine spreads over all of them; the table shows the
median and the range. After every run the database is checked: the alerts' summed counts
grew by exactly 2 × the 202s the server sent (read from its /metrics), which is at least
2 × the 202s wrk saw (a few more may be answered after wrk stopped reading).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import (  # noqa: E402
    DEFAULT_PG_URL,
    FIXTURES,
    GUILD,
    Server,
    free_port,
    median,
    print_machine,
    servers,
    spread,
    table,
)

FIXTURE = FIXTURES / "alertmanager" / "alertmanager-0.25-firing.json"
ALERTS_PER_REQUEST = 2
DEDUPE_GROUPS = 100
TARGET_RATIO = 0.5
TARGET_P99_MS = 25.0

LUA = r"""
-- Opsroom bench client: args = mode ("new" | "dedupe"), run id, source, tokens (a,b,…).
local threads = {}
local template = [==[@BODY@]==]

function setup(thread)
  thread:set("tid", #threads)
  table.insert(threads, thread)
end

function init(args)
  mode, run = args[1], tonumber(args[2])
  paths = {}
  for token in string.gmatch(args[4], "[^,]+") do
    table.insert(paths, "/hooks/" .. args[3] .. "/" .. token)
  end
  n, s202, sother = 0, 0, 0
  headers = {["Content-Type"] = "application/json"}
end

function request()
  n = n + 1
  local a, b, starts
  if mode == "new" then
    local base = string.format("%02x%02x%011x", run % 256, tid % 256, n)
    a, b = base .. "0", base .. "1"
    starts = string.format("%09d", n % 1000000000)
  else
    local g = n % @GROUPS@
    local base = string.format("%02xff%011x", run % 256, g)
    a, b = base .. "0", base .. "1"
    starts = "106785656"
  end
  local body = string.format(template, starts, a, starts, b)
  return wrk.format("POST", paths[n % #paths + 1], headers, body)
end

function response(status, hdrs, body)
  if status == 202 then s202 = s202 + 1 else sother = sother + 1 end
end

function done(summary, latency, requests)
  local s202_all, other_all = 0, 0
  for _, t in ipairs(threads) do
    s202_all = s202_all + t:get("s202")
    other_all = other_all + t:get("sother")
  end
  local e = summary.errors
  io.write(string.format(
    'BENCH {"requests":%d,"duration_us":%d,"s202":%d,"other":%d,"connect":%d,"read":%d,' ..
    '"write":%d,"status":%d,"timeout":%d,"p50_us":%d,"p90_us":%d,"p99_us":%d,' ..
    '"max_us":%d,"mean_us":%.1f}\n',
    summary.requests, summary.duration, s202_all, other_all, e.connect, e.read, e.write,
    e.status, e.timeout, latency:percentile(50), latency:percentile(90),
    latency:percentile(99), latency.max, latency.mean))
end
"""


def lua_script() -> str:
    """The client script with the fixture inlined as a format string (4 `%s` slots)."""
    body = FIXTURE.read_text().replace("%", "%%")
    slots = [
        ('"startsAt": "2026-11-21T09:28:07.106785656Z"', '"startsAt": "2026-11-21T09:28:07.%sZ"'),
        ('"fingerprint": "e94c744ae3d44df8"', '"fingerprint": "%s"'),
        ('"startsAt": "2026-11-21T09:28:07.120276674Z"', '"startsAt": "2026-11-21T09:28:07.%sZ"'),
        ('"fingerprint": "82f18647108e0b7e"', '"fingerprint": "%s"'),
    ]
    for old, new in slots:
        if body.count(old) != 1:
            raise SystemExit(f"{FIXTURE} no longer contains {old} exactly once")
        body = body.replace(old, new)
    return LUA.replace("@BODY@", body).replace("@GROUPS@", str(DEDUPE_GROUPS))


# --- the servers (each runs as `python bench/ingest.py --serve …` in its own process) ------


def serve_bare(port: int) -> None:
    """The baseline: read the body, answer 202, nothing else."""
    from aiohttp import web

    async def hook(request: web.Request) -> web.Response:
        await request.read()
        return web.Response(status=202)

    async def main() -> None:
        app = web.Application(client_max_size=16 * 1024 * 1024)
        app.router.add_post("/hooks/{source}/{token}", hook)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", port).start()
        print(json.dumps({"port": port, "token": "bare", "pid": os.getpid()}), flush=True)
        await _until_terminated()
        await runner.cleanup()

    asyncio.run(main())


def serve_opsroom(
    port: int, database_url: str, auth_cache: float, webhooks: int, no_store: bool
) -> None:
    """The Opsroom web app as `opsroom run --role web` builds it, per-webhook limit lifted."""
    from aiohttp import web

    from bot.adapters.http.ratelimit import TokenBucketLimiter
    from bot.adapters.http.server import WRITER_KEY, build_web_app
    from bot.app import open_runtime
    from bot.config import load_settings
    from bot.core.alerts import AlertSource
    from bot.logs import setup_logging

    settings = load_settings(database_url=database_url, http_port=port)
    setup_logging(settings.log_level, settings.log_format)

    async def main() -> None:
        async with open_runtime(settings) as runtime:
            tokens = []
            for n in range(webhooks):
                _webhook, token = await runtime.services.webhooks.create(
                    GUILD, AlertSource.ALERTMANAGER, f"sender {n + 1}", actor=None
                )
                tokens.append(token)
            app = build_web_app(
                services=runtime.services,
                uow_factory=runtime.uow_factory,
                metrics=runtime.metrics,
                readiness_checks={"database": runtime.database_problem},
                rate_limiter=TokenBucketLimiter(rate=1e9, burst=10**9),
                auth_cache_seconds=auth_cache,
            )
            if no_store:  # diagnostic: everything but the database
                app[WRITER_KEY].submit = _answer_without_storing  # type: ignore[method-assign]
            runner = web.AppRunner(app, access_log=None)
            await runner.setup()
            await web.TCPSite(runner, "127.0.0.1", port).start()
            ready = {"port": port, "token": ",".join(tokens), "pid": os.getpid()}
            print(json.dumps(ready), flush=True)
            await _until_terminated()
            await runner.cleanup()

    asyncio.run(main())


async def _answer_without_storing(webhook: Any, signals: Any) -> list[Any]:
    """The `nostore` writer: every notification "new", nothing stored."""
    from bot.core.alerts import Outcome
    from bot.core.services import Ingested

    return [Ingested(Outcome.NEW, None) for _ in signals]


async def _until_terminated() -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()


# --- the database side -------------------------------------------------------------------


def reset_postgres(url: str) -> None:
    """Empty the bench database (its own; never the test database)."""
    if url.rsplit("/", 1)[-1] in ("opsroom_test", "opsroom_ci"):
        raise SystemExit("refusing to wipe a test database; give the bench its own")
    asyncio.run(_pg(url, "DROP SCHEMA public CASCADE; CREATE SCHEMA public;"))


async def _pg(url: str, sql: str) -> Any:
    import asyncpg

    connection = await asyncpg.connect(url.replace("postgresql+asyncpg://", "postgresql://"))
    try:
        if sql.lstrip().upper().startswith("SELECT"):
            return await connection.fetchrow(sql)
        return await connection.execute(sql)
    finally:
        await connection.close()


COUNT_SQL = "SELECT count(*), coalesce(sum(count), 0), (SELECT count(*) FROM outbox) FROM alerts"


def db_counts(url: str) -> tuple[int, int, int]:
    """(alert rows, summed notification counts, outbox events) in the database."""
    if url.startswith("sqlite"):
        path = url.split("///", 1)[1]
        with sqlite3.connect(path) as connection:
            rows, total, events = connection.execute(COUNT_SQL).fetchone()
    else:
        rows, total, events = asyncio.run(_pg(url, COUNT_SQL))
    return int(rows), int(total), int(events)


def server_202s(port: int) -> int:
    """How many webhook requests the server answered 202, from its /metrics."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as response:
        text = response.read().decode()
    pattern = r'opsroom_webhook_requests_total\{source="alertmanager",status="202"\} ([0-9.e+]+)'
    match = re.search(pattern, text)
    return int(float(match.group(1))) if match else 0


def wait_idle(port: int, timeout: float = 30.0) -> None:
    """Wait until the writer's queue is empty and the 202 count stops moving."""
    deadline = time.monotonic() + timeout
    last = -1
    while time.monotonic() < deadline:
        now = server_202s(port)
        if now == last:
            return
        last = now
        time.sleep(0.3)


# --- the client --------------------------------------------------------------------------


@dataclass
class Target:
    name: str
    server: Server
    database_url: str | None = None
    runs: dict[str, list[dict[str, Any]]] = field(default_factory=dict)


def run_wrk(
    script: Path, port: int, token: str, mode: str, run_id: int, args: argparse.Namespace
) -> dict[str, Any]:
    """One wrk run; the Lua script's summary as a dict."""
    command = [
        "wrk",
        f"-t{args.threads}",
        f"-c{args.connections}",
        f"-d{args.duration}s",
        "--latency",
        "--timeout",
        "10s",
        "-s",
        str(script),
        f"http://127.0.0.1:{port}",
        "--",
        mode,
        str(run_id),
        "alertmanager",
        token,
    ]
    output = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    line = next(x for x in output.splitlines() if x.startswith("BENCH "))
    result: dict[str, Any] = json.loads(line[len("BENCH ") :])
    result["rps"] = result["s202"] / (result["duration_us"] / 1e6)
    return result


def measure(target: Target, script: Path, mode: str, run_id: int, args: argparse.Namespace):
    """One run against one target, with the database check for Opsroom targets."""
    port, token = target.server.info["port"], target.server.info["token"]
    before = None
    if target.database_url is not None:
        wait_idle(port)
        before = (db_counts(target.database_url), server_202s(port))
    result = run_wrk(script, port, token, mode, run_id, args)
    if target.database_url is not None and before is not None:
        wait_idle(port)
        (rows0, total0, events0), served0 = before
        rows1, total1, events1 = db_counts(target.database_url)
        served = server_202s(port) - served0
        result["served_202"] = served
        result["stored"] = total1 - total0
        result["new_rows"] = rows1 - rows0
        result["events"] = events1 - events0
        result["check"] = (
            result["stored"] == served * ALERTS_PER_REQUEST
            and result["events"] == result["stored"]
            and served >= result["s202"]
            and (mode != "new" or result["new_rows"] == result["stored"])
        )
    target.runs.setdefault(mode, []).append(result)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--targets", default="nostore,sqlite,postgres")
    parser.add_argument("--variants", default="new,dedupe")
    parser.add_argument("--duration", type=int, default=4, help="seconds per wrk run")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--warmup", type=int, default=1, help="seconds per warm-up run")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--threads", type=int, default=1, help="wrk threads")
    parser.add_argument("--pg-url", default=os.environ.get("OPSROOM_BENCH_PG_URL", DEFAULT_PG_URL))
    parser.add_argument(
        "--auth-cache",
        type=float,
        default=5.0,
        help="seconds a token lookup is cached (the app's default is 5; 0 looks up every time)",
    )
    parser.add_argument(
        "--webhooks",
        type=int,
        default=32,
        help="webhooks (tokens) the requests cycle through: one per sender by default",
    )
    parser.add_argument("--serve", choices=["bare", "opsroom"], help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--db", help=argparse.SUPPRESS)
    parser.add_argument("--no-store", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve == "bare":
        return serve_bare(args.port)
    if args.serve == "opsroom":
        return serve_opsroom(args.port, args.db, args.auth_cache, args.webhooks, args.no_store)
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is not installed: apt-get install -y wrk")

    started = time.monotonic()
    workdir = Path(tempfile.mkdtemp(prefix="opsroom-bench-ingest-"))
    script = workdir / "client.lua"
    script.write_text(lua_script())
    me = [sys.executable, str(Path(__file__).resolve()), "--serve"]
    wanted = [t.strip() for t in args.targets.split(",") if t.strip()]
    variants = [v.strip() for v in args.variants.split(",") if v.strip()]
    env = {"OPSROOM_LOG_LEVEL": "INFO"}
    with servers() as running:
        targets = []
        port = free_port()
        running.append(Server([*me, "bare", "--port", str(port)], cwd=workdir))
        targets.append(Target("bare", running[-1]))
        for name in wanted:
            extra = []
            if name == "sqlite":
                url = f"sqlite+aiosqlite:///{workdir / 'bench.db'}"
            elif name == "nostore":
                url, extra = f"sqlite+aiosqlite:///{workdir / 'nostore.db'}", ["--no-store"]
            elif name == "postgres":
                url = args.pg_url
                reset_postgres(url)
            else:
                raise SystemExit(f"unknown target {name}")
            port = free_port()
            argv = [*me, "opsroom", "--port", str(port), "--db", url, *extra]
            argv += ["--auth-cache", str(args.auth_cache), "--webhooks", str(args.webhooks)]
            running.append(Server(argv, env=env, cwd=workdir))
            targets.append(Target(name, running[-1], None if extra else url))
        for target in targets:
            target.server.wait_ready()
            # Warm up both paths (imports, compiled statements, pools, caches); this also
            # leaves the 100 groups stored that the dedupe runs repeat.
            for mode, run_id in (("dedupe", 0), ("new", 255)):
                run_wrk(
                    script,
                    target.server.info["port"],
                    target.server.info["token"],
                    mode,
                    run_id,
                    argparse.Namespace(**{**vars(args), "duration": args.warmup}),
                )
        run_id = 1
        for round_no in range(args.rounds):
            for target in targets:
                for mode in ["new"] if target.name in ("bare", "nostore") else variants:
                    # dedupe runs all repeat the 100 groups the warm-up stored (run id 0)
                    result = measure(target, script, mode, run_id if mode == "new" else 0, args)
                    run_id += 1
                    print(
                        f"round {round_no + 1} {target.name:8} {mode:6} "
                        f"{result['rps']:8.0f} req/s  p50 {result['p50_us'] / 1000:6.2f} ms  "
                        f"p99 {result['p99_us'] / 1000:6.2f} ms  non-202 {result['other']}"
                        + (
                            f"  db check {'ok' if result['check'] else 'FAILED'}"
                            if "check" in result
                            else ""
                        ),
                        file=sys.stderr,
                    )
        for target in targets:
            problems = [ln for ln in target.server.stderr().splitlines() if "Traceback" in ln]
            if problems:
                print(f"{target.name}: server logged {len(problems)} traceback(s)", file=sys.stderr)
    report(targets, args, time.monotonic() - started)
    shutil.rmtree(workdir, ignore_errors=True)


def report(targets: list[Target], args: argparse.Namespace, elapsed: float) -> None:
    """The Markdown table: each Opsroom figure against the bare handler of the same run."""
    bare_rps = median([r["rps"] for r in targets[0].runs["new"]])
    print_machine()
    print(
        f"wrk -t{args.threads} -c{args.connections} -d{args.duration}s, {args.rounds} rounds, "
        f"{ALERTS_PER_REQUEST} alerts/request, {args.webhooks} webhooks, token cache "
        f"{args.auth_cache:g} s; median (min–max); took {elapsed:.0f} s\n"
    )
    names = {
        "bare": "bare aiohttp handler (baseline)",
        "nostore": "opsroom, writer stubbed (diagnostic)",
        "sqlite": "opsroom on SQLite",
        "postgres": "opsroom on PostgreSQL",
    }
    rows = []
    for target in targets:
        for mode, runs in target.runs.items():
            rps = [r["rps"] for r in runs]
            ratio = median(rps) / bare_rps
            p99 = median([r["p99_us"] / 1000 for r in runs])
            if target.database_url is None:
                verdict, check = "—", "—"
            else:
                verdict = " · ".join(
                    [
                        "throughput met" if ratio >= TARGET_RATIO else f"{ratio:.2f}× MISSED",
                        "p99 met"
                        if p99 < TARGET_P99_MS
                        else f"p99 MISSED by {p99 - TARGET_P99_MS:.0f} ms",
                    ]
                )
                check = "ok" if all(r["check"] for r in runs) else "FAILED"
            rows.append(
                [
                    names.get(target.name, target.name),
                    mode if target.database_url else "—",
                    spread(rps),
                    spread([x * ALERTS_PER_REQUEST for x in rps]) if target.database_url else "—",
                    spread([r["p50_us"] / 1000 for r in runs], "{:.1f}"),
                    spread([r["p99_us"] / 1000 for r in runs], "{:.1f}"),
                    f"{ratio:.2f}",
                    sum(r["other"] + r["connect"] + r["read"] + r["timeout"] for r in runs),
                    check,
                    verdict,
                ]
            )
    print(
        table(
            [
                "server",
                "variant",
                "202/s",
                "alerts committed/s",
                "p50 ms",
                "p99 ms",
                "× bare",
                "errors",
                "db check",
                f"target (≥ {TARGET_RATIO}× bare, p99 < {TARGET_P99_MS:.0f} ms)",
            ],
            rows,
        )
    )


if __name__ == "__main__":
    main()
