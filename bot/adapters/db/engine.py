"""Engines and sessions: SQLite tuned for one writer in WAL mode, PostgreSQL as it comes."""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy import event, text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from sqlalchemy.ext.asyncio import create_async_engine as _create_async_engine

from bot.adapters.db.errors import unavailable

log = logging.getLogger(__name__)

SQLITE_BUSY_TIMEOUT_MS = 5000


def create_engine(url: str, *, foreign_keys: bool = True, **kwargs: Any) -> AsyncEngine:
    """An async engine for `url`; on SQLite every connection gets Opsroom's pragmas.

    SQLite transactions start with `BEGIN IMMEDIATE`: a unit of work that reads and then
    writes would otherwise fail at once with "database is locked" when another writer got
    there first, instead of waiting `busy_timeout` for its turn. `foreign_keys=False` is
    for migrations only, where batch table rebuilds must not cascade deletes.
    """
    engine = _create_async_engine(url, **kwargs)
    if engine.dialect.name == "sqlite":
        _configure_sqlite(engine, foreign_keys=foreign_keys)
    return engine


def _configure_sqlite(engine: AsyncEngine, *, foreign_keys: bool) -> None:
    """Set the pragmas on each new connection and take over transaction start from the driver."""

    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy, not the sqlite3 module, decide when transactions begin.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute(f"PRAGMA foreign_keys={'ON' if foreign_keys else 'OFF'}")
            cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        finally:
            cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(connection: Connection) -> None:
        connection.exec_driver_sql("BEGIN IMMEDIATE")


def session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    """Sessions whose objects stay readable after commit (the core keeps using them)."""
    return async_sessionmaker(engine, expire_on_commit=False)


async def check_connection(engine: AsyncEngine) -> None:
    """Prove the database answers, or raise StorageUnavailableError saying why not."""
    try:
        async with engine.connect() as connection:
            await connection.execute(text("SELECT 1"))
    except Exception as exc:
        error = unavailable(exc, engine.url, connecting=True)
        if error is None:
            raise
        log.debug("database check failed", exc_info=True)
        raise error from exc
