"""The public status page under load, against `/healthz` of the same process in the same run.

    python bench/statuspage.py                       # SQLite, 5 rounds of 3 s per target
    python bench/statuspage.py --pg-url postgresql+asyncpg://u:p@127.0.0.1:5432/db

A real `opsroom run --role web` process serves a page seeded through the real services
(an active incident with three public updates, five components in two groups, a scheduled
maintenance and 30 resolved incidents in the last 90 days). `wrk` (1 thread, 32
connections) fetches, in interleaved rounds: `/healthz` (the baseline: the cheapest answer
the same server gives), `/status/acme` (HTML, 32 KB), the same with `Accept-Encoding: gzip`
(compressed once per version), `/status/acme/api/v2/summary.json`, and the HTML with
`If-None-Match` (304s). The page is rendered once per change, so each request
costs one dictionary lookup, plus a version read at most once a second.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import shutil
import subprocess
import sys
import tempfile
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import Server, free_port, median, print_machine, spread, table, wait_http  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
GUILD = 1_180_000_000_000_000_001
TARGET = 0.5


async def seed(url: str) -> None:
    """The page, through the real services, into a migrated database."""
    from sqlalchemy import text

    from bot.adapters.db import SqlUnitOfWork, create_engine, session_factory, upgrade_to_head
    from bot.core.model import IncidentRole, Member, Person, Severity, Status
    from bot.core.services import IncidentRef, Services
    from bot.core.statuspage import Impact

    if url.startswith("postgresql"):
        engine = create_engine(url)
        async with engine.begin() as connection:
            await connection.execute(text("DROP SCHEMA public CASCADE"))
            await connection.execute(text("CREATE SCHEMA public"))
        await engine.dispose()
    await upgrade_to_head(url)
    engine = create_engine(url)
    sessions = session_factory(engine)

    class Clock:
        current = datetime.now(UTC) - timedelta(days=80)

        def now(self) -> datetime:
            return self.current

    clock = Clock()
    services = Services.build(lambda: SqlUnitOfWork(sessions, clock=clock), clock)
    admin = Member(Person(1, "admin"), frozenset({900}), manage_guild=True)
    await services.guilds.configure(GUILD, admin, responder_role_id=900)
    await services.statuspage.enable(GUILD, admin, "acme", "Acme Status")
    for name, group in [("API", "Core"), ("Web", "Core"), ("Login", "Core"), ("Email", None)]:
        await services.statuspage.add_component(GUILD, admin, name, group)
    await services.statuspage.add_component(GUILD, admin, "CDN", "Edge")

    async def incident(title: str, updates: int, resolve: bool) -> None:
        found = await services.incidents.declare(GUILD, admin, title="x", severity=Severity.SEV2)
        ref = IncidentRef(number=found.number)
        await services.incidents.assign_role(GUILD, admin, ref, admin.person, IncidentRole.COMMS)
        await services.statuspage.publish(GUILD, admin, ref, title, "API, Web", Impact.MAJOR)
        for n in range(updates):
            await services.incidents.post_update(GUILD, admin, ref, f"Update {n}.", public=True)
        if resolve:
            await services.incidents.set_status(GUILD, admin, ref, Status.RESOLVED)

    for n in range(30):
        clock.current += timedelta(days=2, hours=n)
        await incident(f"Past incident {n}", 2, True)
    clock.current = datetime.now(UTC) - timedelta(minutes=30)
    await incident("Elevated API errors", 3, False)
    await services.statuspage.schedule_maintenance(GUILD, admin, "DB upgrade", "+1d", "+1d1h")
    await engine.dispose()


def wrk(url: str, duration: int, connections: int, header: str | None = None) -> float:
    """Requests per second that wrk measured."""
    argv = ["wrk", "-t1", f"-c{connections}", f"-d{duration}s", "--latency", url]
    if header:
        argv[1:1] = ["-H", header]
    out = subprocess.run(argv, capture_output=True, text=True, check=True).stdout
    found = re.search(r"Requests/sec:\s+([\d.]+)", out)
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if found is None or non2xx is not None:
        raise RuntimeError(f"wrk failed or saw errors:\n{out}")
    return float(found.group(1))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--pg-url", help="PostgreSQL URL (its public schema is recreated)")
    parser.add_argument("--duration", type=int, default=3)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--connections", type=int, default=32)
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is not installed: apt-get install -y wrk")
    with tempfile.TemporaryDirectory() as workdir:
        url = args.pg_url or f"sqlite+aiosqlite:///{workdir}/bench.db"
        asyncio.run(seed(url))
        port = free_port()
        env = {
            "OPSROOM_DATABASE_URL": url,
            "OPSROOM_HTTP_PORT": str(port),
            "OPSROOM_LOG_LEVEL": "WARNING",
        }
        opsroom = str(Path(sys.executable).with_name("opsroom"))
        server = Server([opsroom, "run", "--role", "web"], env=env, cwd=Path(workdir))
        try:
            base = f"http://127.0.0.1:{port}"
            wait_http(f"{base}/healthz", timeout=60)
            page = f"{base}/status/acme"
            with urllib.request.urlopen(page) as response:
                etag = response.headers["ETag"]
            targets = {
                "/healthz (baseline)": (f"{base}/healthz", None),
                "/status/acme (HTML)": (page, None),
                "/status/acme, gzip (as browsers ask)": (page, "Accept-Encoding: gzip"),
                "summary.json": (f"{page}/api/v2/summary.json", None),
                "HTML, If-None-Match (304)": (page, f"If-None-Match: {etag}"),
            }
            results: dict[str, list[float]] = {name: [] for name in targets}
            for _ in range(args.rounds):
                for name, (target, header) in targets.items():
                    results[name].append(wrk(target, args.duration, args.connections, header))
        finally:
            print(server.stop(), file=sys.stderr, end="")
    print_machine()
    print(f"load average at the end: {os.getloadavg()[0]:.2f}\n")
    baseline = results["/healthz (baseline)"]
    rows, ratios = [], {}
    for name, values in results.items():
        # Each round's figure against the baseline of the same round: the machine's load
        # moves both, so the ratio is steadier than either.
        ratios[name] = [v / b for v, b in zip(values, baseline, strict=True)]
        rows.append([name, spread(values), spread(ratios[name], "{:.2f}")])
    print(table(["target", "requests/s, median (min–max)", "× /healthz in the same round"], rows))
    page_ratio = median(ratios["/status/acme (HTML)"])
    verdict = "met" if page_ratio >= TARGET else "missed"
    print(f"\ntarget ≥ {TARGET}× /healthz for the page: {verdict} ({page_ratio:.2f}×)")


if __name__ == "__main__":
    os.chdir(ROOT)
    main()
