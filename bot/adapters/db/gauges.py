"""What `/metrics` reads from the database at each scrape: open incidents and firing alerts
nobody acknowledged, over all guilds (read-only: it never waits for SQLite's write lock)."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.adapters.db.engine import read_only_engine
from bot.adapters.db.errors import storage_errors
from bot.adapters.db.tables import alerts, incidents
from bot.core.alerts import AlertState
from bot.core.model import OPEN_STATUSES


async def open_counts(engine: AsyncEngine) -> tuple[int, int]:
    """(open incidents, unacknowledged firing alerts), in one read-only transaction."""
    open_incidents = (
        select(func.count())
        .select_from(incidents)
        .where(incidents.c.status.in_(sorted(s.value for s in OPEN_STATUSES)))
    )
    unacknowledged = (
        select(func.count())
        .select_from(alerts)
        .where((alerts.c.state == AlertState.FIRING.value) & alerts.c.acknowledged_at.is_(None))
    )
    with storage_errors(engine.url):
        async with read_only_engine(engine).begin() as connection:
            found = await connection.scalar(open_incidents)
            firing = await connection.scalar(unacknowledged)
    return int(found or 0), int(firing or 0)
