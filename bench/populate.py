"""Build a database with history: closed incidents and stored alert episodes, quickly.

    python bench/populate.py /tmp/big.db --incidents 10000 --alerts 1000000
    python bench/populate.py postgresql+asyncpg://u:p@host/db --incidents 10000

The schema comes from the migrations (`upgrade_to_head`); the rows are written with bulk
inserts (SQLite: `executemany` on one connection with `synchronous=OFF`; PostgreSQL:
`COPY`), so a million alerts take tens of seconds, not the hours ingest would. The data is
the same for the same arguments (no randomness): `--streams` Alertmanager streams, each
with `alerts / streams` resolved episodes, the latest few attached to a closed incident;
`--open` open incidents with a pending update nudge; `--firing` streams with a firing,
unacknowledged alert whose escalation is pending. The guild is set up with a webhook.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sqlite3
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bot.adapters.db import upgrade_to_head  # noqa: E402
from bot.adapters.db.tables import alerts, incidents, reminders  # noqa: E402

GUILD = 1_180_000_000_000_000_001
T0 = datetime(2025, 1, 1, tzinfo=UTC)
NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
ATTACHED_PER_INCIDENT = 5
CHUNK = 50_000


def incident_rows(count: int, open_count: int) -> Iterator[dict[str, Any]]:
    """`count` closed incidents, then `open_count` open ones (numbered 1…)."""
    for n in range(1, count + open_count + 1):
        closed = n <= count
        at = T0 + timedelta(minutes=40 * n)
        yield {
            "id": n,
            "guild_id": GUILD,
            "number": n,
            "title": f"{'Old' if closed else 'Open'} incident {n}: checkout latency",
            "severity": ("sev1", "sev2", "sev3", "sev4")[n % 4],
            "status": "closed" if closed else "investigating",
            "declared_by_id": 1_190_000_000_000_000_011,
            "declared_by_name": "alice",
            "started_at": at,
            "detected_at": at,
            "declared_at": at,
            "resolved_at": at + timedelta(minutes=30) if closed else None,
            "closed_at": at + timedelta(minutes=35) if closed else None,
            "summary": "",
        }


def alert_rows(
    total: int, streams: int, closed: int, firing: int, webhook_id: int
) -> Iterator[dict[str, Any]]:
    """Episodes of `streams` streams round-robin; episode e of stream s is attached to a
    closed incident for the latest episodes until each incident has its share."""
    per_stream = max(1, total // streams)
    attached_left = closed * ATTACHED_PER_INCIDENT
    alert_id = 0
    for e in range(per_stream):
        for s in range(streams):
            alert_id += 1
            at = T0 + timedelta(seconds=30 * alert_id)
            latest = e == per_stream - 1
            is_firing = latest and s < firing
            incident_id = None
            if not is_firing and e >= per_stream - 3 and attached_left > 0:
                incident_id = 1 + (attached_left % closed)
                attached_left -= 1
            yield {
                "id": alert_id,
                "guild_id": GUILD,
                "source": "alertmanager",
                "stream_key": f"stream-{s}",
                "episode_key": f"ep-{e}",
                "monitor": f"HighLatency instance=web-{s}",
                "title": f"High latency on web-{s}",
                "state": "firing" if is_firing else "resolved",
                "started_at": at,
                "received_at": at,
                "last_seen_at": at,
                "severity": "critical",
                "details": {"instance": f"web-{s}"},
                "count": 1,
                "resolved_at": None if is_firing else at + timedelta(minutes=5),
                "incident_id": incident_id,
                "webhook_id": webhook_id,
                "escalation_level": 0,
                "next_escalation_at": NOW + timedelta(minutes=5 + s % 60) if is_firing else None,
            }


def reminder_rows(closed: int, open_count: int) -> Iterator[dict[str, Any]]:
    """One pending update nudge per open incident."""
    for n in range(closed + 1, closed + open_count + 1):
        yield {
            "id": n,
            "guild_id": GUILD,
            "incident_id": n,
            "kind": "update_nudge",
            "subject_id": n,
            "due_at": NOW + timedelta(minutes=15 + n % 45),
            "created_at": NOW,
        }


def _sqlite_value(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S.%f")
    if isinstance(value, dict):
        return json.dumps(value)
    return value


def _chunks(rows: Iterator[dict[str, Any]]) -> Iterator[list[dict[str, Any]]]:
    chunk: list[dict[str, Any]] = []
    for row in rows:
        chunk.append(row)
        if len(chunk) >= CHUNK:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def write_sqlite(path: str, tables: list[tuple[Any, Iterator[dict[str, Any]]]]) -> None:
    connection = sqlite3.connect(path, isolation_level=None)
    connection.execute("PRAGMA synchronous=OFF")
    connection.execute("BEGIN")
    for table, rows in tables:
        for chunk in _chunks(rows):
            names = list(chunk[0])
            marks = ", ".join("?" * len(names))
            sql = f"INSERT INTO {table.name} ({', '.join(names)}) VALUES ({marks})"
            connection.executemany(sql, [[_sqlite_value(r[n]) for n in names] for r in chunk])
    connection.execute("COMMIT")
    connection.execute("ANALYZE")
    connection.close()


async def write_postgres(url: str, tables: list[tuple[Any, Iterator[dict[str, Any]]]]) -> None:
    import asyncpg

    plain = url.replace("postgresql+asyncpg://", "postgresql://")
    connection = await asyncpg.connect(plain)
    try:
        for table, rows in tables:
            for chunk in _chunks(rows):
                names = list(chunk[0])
                records = [
                    tuple(json.dumps(r[n]) if isinstance(r[n], dict) else r[n] for n in names)
                    for r in chunk
                ]
                await connection.copy_records_to_table(table.name, records=records, columns=names)
            await connection.execute(
                f"SELECT setval(pg_get_serial_sequence('{table.name}', 'id'), "
                f"(SELECT max(id) FROM {table.name}))"
            )
        await connection.execute("ANALYZE")
    finally:
        await connection.close()


async def prepare(url: str) -> int:
    """Migrate and set the guild up through the services; returns the webhook id."""
    from bot.adapters.db import SqlUnitOfWork, create_engine, session_factory
    from bot.core.alerts import AlertSource
    from bot.core.model import GuildConfig
    from bot.core.services import Services
    from tests.fakes import FakeClock

    await upgrade_to_head(url)
    engine = create_engine(url)
    try:
        sessions = session_factory(engine)
        services = Services.build(lambda: SqlUnitOfWork(sessions), FakeClock(NOW))
        async with SqlUnitOfWork(sessions) as uow:
            await uow.guilds.save(GuildConfig(GUILD, responder_role_id=9, timezone="UTC"))
            await uow.commit()
        webhook, _token = await services.webhooks.create(
            GUILD, AlertSource.ALERTMANAGER, "am", None
        )
        assert webhook.id is not None
        return webhook.id
    finally:
        await engine.dispose()


def populate(
    target: str, *, incidents_: int, alerts_: int, streams: int, open_: int, firing: int
) -> float:
    """Build the database at `target` (a path or a PostgreSQL URL); returns seconds taken."""
    started = time.monotonic()
    url = target if "://" in target else f"sqlite+aiosqlite:///{target}"
    webhook_id = asyncio.run(prepare(url))
    tables = [
        (incidents, incident_rows(incidents_, open_)),
        (alerts, alert_rows(alerts_, streams, incidents_, firing, webhook_id)),
        (reminders, reminder_rows(incidents_, open_)),
    ]
    if url.startswith("postgresql"):
        asyncio.run(write_postgres(url, tables))
    else:
        write_sqlite(url.split("///", 1)[1], tables)
    _set_counter(url, incidents_ + open_)  # so a declared incident gets the next number
    return time.monotonic() - started


def _set_counter(url: str, value: int) -> None:
    scope = f"incident:{GUILD}"
    if url.startswith("postgresql"):

        async def run() -> None:
            import asyncpg

            connection = await asyncpg.connect(
                url.replace("postgresql+asyncpg://", "postgresql://")
            )
            try:
                await connection.execute(
                    "INSERT INTO counters (scope, value) VALUES ($1, $2) "
                    "ON CONFLICT (scope) DO UPDATE SET value = excluded.value",
                    scope,
                    value,
                )
            finally:
                await connection.close()

        asyncio.run(run())
        return
    connection = sqlite3.connect(url.split("///", 1)[1])
    connection.execute(
        "INSERT OR REPLACE INTO counters (scope, value) VALUES (?, ?)", (scope, value)
    )
    connection.commit()
    connection.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("target", help="a SQLite file path (created) or a PostgreSQL URL")
    parser.add_argument("--incidents", type=int, default=10_000, help="closed incidents")
    parser.add_argument("--alerts", type=int, default=1_000_000)
    parser.add_argument("--streams", type=int, default=2_000)
    parser.add_argument("--open", type=int, default=100, help="open incidents (nudges pending)")
    parser.add_argument("--firing", type=int, default=1_000, help="streams firing (escalating)")
    args = parser.parse_args()
    seconds = populate(
        args.target,
        incidents_=args.incidents,
        alerts_=args.alerts,
        streams=args.streams,
        open_=args.open,
        firing=args.firing,
    )
    print(f"populated {args.target} in {seconds:.1f} s")


if __name__ == "__main__":
    main()
