"""Resident memory of `opsroom run --role web` before and after an alert storm, against a bare
`python -c 'import aiohttp, sqlalchemy, discord'` process.

    python bench/memory.py                  # 1,000 alerts from 100 monitors, then 10,000 more
    python bench/memory.py --more 0         # only the 1,000

RSS is VmRSS from /proc/<pid>/status (VmHWM, the peak, too). The web process is the real
command, `opsroom run --role web`, on a fresh SQLite file with webhook tokens made through
WebhookService; it is measured idle (after start-up and migrations), after 1,000 alerts
from 100 monitors (100 Alertmanager groups of 10 alerts: every monitor fires 10 separate
episodes), and after 10,000 more through 10 more webhooks (steady state: does it grow?).
Requests go out 10 (then 32) at a time and stay within each webhook's rate limit; every
202 is checked against the alerts stored.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import GUILD, free_port, print_machine, rss_kib, table, wait_http  # noqa: E402

TARGET_MIB = 150
BASELINE_CODE = (
    "import aiohttp, sqlalchemy, discord, sys; print('ready', flush=True); sys.stdin.read()"
)


def status_kib(pid: int, field: str) -> int:
    """A `VmXxx:` line of /proc/<pid>/status, in KiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise RuntimeError(f"no {field} for pid {pid}")


def baseline_rss() -> int:
    """RSS of a bare interpreter that imported what Opsroom's web process builds on."""
    process = subprocess.Popen(
        [sys.executable, "-c", BASELINE_CODE], stdin=subprocess.PIPE, stdout=subprocess.PIPE
    )
    try:
        assert process.stdout is not None
        process.stdout.readline()
        time.sleep(0.3)
        return rss_kib(process.pid)
    finally:
        process.kill()
        process.wait()


def make_tokens(env: dict[str, str], count: int, workdir: Path) -> list[str]:
    """`count` Alertmanager webhook tokens, made by WebhookService in a process of its own."""
    code = (
        "import asyncio, json, sys\n"
        "from bot.app import open_runtime\n"
        "from bot.config import load_settings\n"
        "from bot.core.alerts import AlertSource\n"
        "async def main():\n"
        "    async with open_runtime(load_settings()) as runtime:\n"
        "        tokens = []\n"
        f"        for n in range({count}):\n"
        "            _, token = await runtime.services.webhooks.create(\n"
        f"                {GUILD}, AlertSource.ALERTMANAGER, f'monitor group {{n}}', actor=None)\n"
        "            tokens.append(token)\n"
        "    print(json.dumps(tokens))\n"
        "asyncio.run(main())\n"
    )
    output = subprocess.run(
        [sys.executable, "-c", code], env=env, cwd=workdir, capture_output=True, text=True
    )
    if output.returncode != 0:
        raise SystemExit(f"making webhook tokens failed:\n{output.stderr}")
    return list(json.loads(output.stdout.strip().splitlines()[-1]))


def group(monitors: range, episode: int) -> bytes:
    """An Alertmanager 0.25 notification: these monitors' alerts of one episode, firing."""
    starts = (datetime(2026, 3, 1, tzinfo=UTC) + timedelta(minutes=episode)).strftime(
        "%Y-%m-%dT%H:%M:%S.%f000Z"
    )
    alerts = [
        {
            "status": "firing",
            "labels": {
                "alertname": "HighLatency",
                "instance": f"host-{m:03d}",
                "job": "node",
                "severity": "critical" if m % 3 == 0 else "warning",
            },
            "annotations": {
                "summary": f"p99 latency above 2 s on host-{m:03d}",
                "runbook_url": "https://runbooks.example.com/latency",
            },
            "startsAt": starts,
            "endsAt": "0001-01-01T00:00:00Z",
            "generatorURL": f"http://prometheus.local/graph?g0.expr=latency&host={m}",
            "fingerprint": f"{m:016x}",
        }
        for m in monitors
    ]
    body = {
        "receiver": "opsroom",
        "status": "firing",
        "alerts": alerts,
        "groupLabels": {"alertname": "HighLatency"},
        "commonLabels": {"alertname": "HighLatency", "job": "node"},
        "commonAnnotations": {},
        "externalURL": "http://alertmanager.local:9093",
        "version": "4",
        "groupKey": '{}:{alertname="HighLatency"}',
        "truncatedAlerts": 0,
    }
    return json.dumps(body).encode()


async def storm(port: int, requests: list[tuple[str, bytes]], concurrency: int) -> dict[str, int]:
    """POST every (token, body); a 429 waits its Retry-After and tries again."""
    import aiohttp

    counts = {"202": 0, "429": 0, "other": 0}
    queue: asyncio.Queue[tuple[str, bytes]] = asyncio.Queue()
    for item in requests:
        queue.put_nowait(item)

    async def sender(session: aiohttp.ClientSession) -> None:
        while not queue.empty():
            token, body = queue.get_nowait()
            while True:
                url = f"http://127.0.0.1:{port}/hooks/alertmanager/{token}"
                headers = {"Content-Type": "application/json"}
                async with session.post(url, data=body, headers=headers) as response:
                    await response.read()
                    if response.status == 429:
                        counts["429"] += 1
                        await asyncio.sleep(float(response.headers.get("Retry-After", "1")))
                        continue
                    counts["202" if response.status == 202 else "other"] += 1
                    break

    async with aiohttp.ClientSession() as session:
        await asyncio.gather(*(sender(session) for _ in range(concurrency)))
    return counts


def stored_alerts(path: Path) -> int:
    with sqlite3.connect(path) as connection:
        return int(connection.execute("SELECT count(*) FROM alerts").fetchone()[0])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--monitors", type=int, default=100)
    parser.add_argument("--episodes", type=int, default=10, help="per monitor: 100 × 10 = 1,000")
    parser.add_argument("--more", type=int, default=10_000, help="alerts after the first storm")
    args = parser.parse_args()
    per_group = 10
    opsroom = shutil.which("opsroom", path=str(Path(sys.executable).parent)) or "opsroom"

    started = time.monotonic()
    base = baseline_rss()
    workdir = Path(tempfile.mkdtemp(prefix="opsroom-bench-memory-"))
    db = workdir / "opsroom.db"
    port = free_port()
    env = {
        **os.environ,
        "OPSROOM_DATABASE_URL": f"sqlite+aiosqlite:///{db}",
        "OPSROOM_HTTP_PORT": str(port),
        "OPSROOM_LOG_LEVEL": "WARNING",
    }
    env.pop("OPSROOM_DISCORD_TOKEN", None)
    more_groups = args.more // per_group
    extra_hooks = max(1, -(-more_groups // 100)) if args.more else 0  # ≤ 100 requests each
    tokens = make_tokens(env, 1 + extra_hooks, workdir)
    log = (workdir / "web.log").open("w")
    web = subprocess.Popen(
        [opsroom, "run", "--role", "web"], env=env, cwd=workdir, stdout=log, stderr=log
    )
    rows: list[list[object]] = []
    try:
        wait_http(f"http://127.0.0.1:{port}/readyz", timeout=60)
        time.sleep(1.0)
        idle = rss_kib(web.pid)

        first = [
            (tokens[0], group(range(g, min(g + per_group, args.monitors)), episode))
            for episode in range(args.episodes)
            for g in range(0, args.monitors, per_group)
        ]
        t = time.perf_counter()
        counts = asyncio.run(storm(port, first, concurrency=10))
        storm_s = time.perf_counter() - t
        time.sleep(1.0)
        after = rss_kib(web.pid)
        peak = status_kib(web.pid, "VmHWM")
        alerts_first = stored_alerts(db)
        expected = args.monitors * args.episodes
        rows.append(["idle (started, migrated, ready)", idle, "—"])
        rows.append([f"after {alerts_first:,} alerts from {args.monitors} monitors", after, peak])
        checks = [f"first storm: {counts} in {storm_s:.1f} s, {alerts_first} alerts stored"]
        if counts["202"] * per_group != expected or alerts_first != expected:
            checks.append(f"MISMATCH: expected {expected} alerts")

        if args.more:
            groups_per_episode = -(-args.monitors // per_group)
            second = [
                (
                    tokens[1 + n // 100],  # at most 100 requests per webhook: its burst
                    group(
                        range(g * per_group, min((g + 1) * per_group, args.monitors)),
                        args.episodes + n // groups_per_episode,
                    ),
                )
                for n, g in ((n, n % groups_per_episode) for n in range(more_groups))
            ]
            t = time.perf_counter()
            counts = asyncio.run(storm(port, second, concurrency=32))
            storm_s = time.perf_counter() - t
            time.sleep(1.0)
            after_more = rss_kib(web.pid)
            peak = status_kib(web.pid, "VmHWM")
            total = stored_alerts(db)
            rows.append(
                [f"after {total - alerts_first:,} more ({total:,} stored)", after_more, peak]
            )
            checks.append(f"second storm: {counts} in {storm_s:.1f} s, {total} alerts stored")
            if total - alerts_first != more_groups * per_group:
                checks.append(f"MISMATCH: expected {more_groups * per_group} more alerts")
    finally:
        web.terminate()
        try:
            web.wait(20)
        except subprocess.TimeoutExpired:
            web.kill()
        log.close()
        shutil.rmtree(workdir, ignore_errors=True)

    print_machine()
    print(f"took {time.monotonic() - started:.0f} s; " + "; ".join(checks) + "\n")
    out = [
        [
            "bare `python -c 'import aiohttp, sqlalchemy, discord'` (baseline)",
            f"{base / 1024:.1f}",
            "—",
            "1.00",
            "—",
        ]
    ]
    for label, rss, hwm in rows:
        assert isinstance(rss, int)
        mib = rss / 1024
        out.append(
            [
                f"`opsroom run --role web`, {label}",
                f"{mib:.1f}",
                f"{hwm / 1024:.1f}" if isinstance(hwm, int) else "—",
                f"{rss / base:.2f}",
                "met" if mib < TARGET_MIB else f"MISSED by {mib - TARGET_MIB:.0f} MiB",
            ]
        )
    print(
        table(
            ["process", "RSS MiB", "peak (VmHWM) MiB", "× baseline", f"target (< {TARGET_MIB} MB)"],
            out,
        )
    )


if __name__ == "__main__":
    main()
