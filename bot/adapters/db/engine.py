"""Engines and sessions: SQLite tuned for one writer in WAL mode, PostgreSQL as it comes."""

from __future__ import annotations

import logging
import weakref
from typing import Any

from sqlalchemy import event, make_url, text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from sqlalchemy.ext.asyncio import create_async_engine as _create_async_engine

from bot.adapters.db.errors import unavailable

log = logging.getLogger(__name__)

LOCK_WAIT_MS = 2000
"""How long a transaction waits for another's lock before giving up with StorageBusyError:
below Discord's 3 s answer deadline, so a command stuck behind another process's write
still answers "busy, try again" in time (and a webhook sender gets a 503 to retry)."""
LONG_LOCK_WAIT_MS = 30_000  # migrations: wait for the other process rather than fail


def create_engine(
    url: str, *, foreign_keys: bool = True, lock_wait_ms: int = LOCK_WAIT_MS, **kwargs: Any
) -> AsyncEngine:
    """An async engine for `url`; on SQLite every connection gets Opsroom's pragmas.

    SQLite transactions start with `BEGIN IMMEDIATE`: a unit of work that reads and then
    writes would otherwise fail at once with "database is locked" when another writer got
    there first, instead of waiting `busy_timeout` for its turn. `lock_wait_ms` is that
    wait (PostgreSQL: `lock_timeout`; 0 there means no limit). `foreign_keys=False` is for
    migrations only, where batch table rebuilds must not cascade deletes.
    """
    if make_url(url).get_backend_name() == "postgresql":
        connect_args = dict(kwargs.pop("connect_args", {}))
        settings = dict(connect_args.get("server_settings", {}))
        settings.setdefault("lock_timeout", str(lock_wait_ms))
        connect_args["server_settings"] = settings
        kwargs["connect_args"] = connect_args
    engine = _create_async_engine(url, **kwargs)
    if engine.dialect.name == "sqlite":
        _configure_sqlite(engine, foreign_keys=foreign_keys, busy_timeout_ms=lock_wait_ms)
    return engine


def _configure_sqlite(engine: AsyncEngine, *, foreign_keys: bool, busy_timeout_ms: int) -> None:
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
            cursor.execute(f"PRAGMA busy_timeout={busy_timeout_ms}")
        finally:
            cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(connection: Connection) -> None:
        if connection.get_execution_options().get(READ_ONLY_OPTION):
            connection.exec_driver_sql("BEGIN")  # deferred: a snapshot, no write lock
        else:
            connection.exec_driver_sql("BEGIN IMMEDIATE")


READ_ONLY_OPTION = "opsroom_read_only"
_read_only_engines: weakref.WeakKeyDictionary[AsyncEngine, AsyncEngine] = (
    weakref.WeakKeyDictionary()
)


def read_only_engine(engine: AsyncEngine) -> AsyncEngine:
    """The same engine (and pool) with read-only transactions.

    On SQLite they begin deferred (`BEGIN`), so they read a WAL snapshot without queueing
    for the write lock behind the webhook writer; on PostgreSQL they are `READ ONLY`, so
    the database refuses a write. The options hold from the connection's first statement
    and are reset when it goes back to the pool.
    """
    if engine not in _read_only_engines:
        options: dict[str, Any] = {READ_ONLY_OPTION: True}
        if engine.dialect.name == "postgresql":
            options["postgresql_readonly"] = True
        _read_only_engines[engine] = engine.execution_options(**options)
    return _read_only_engines[engine]


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
