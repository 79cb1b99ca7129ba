"""Alembic environment: async engines, batch mode (SQLite), the URL passed in, never read here.

The URL comes from, in order: `config.attributes["url"]` (bot.adapters.db.migrate), the
command line (`alembic -x url=sqlite+aiosqlite:///./opsroom.db upgrade head`), or
`sqlalchemy.url` in alembic.ini. When the caller hands over a live connection in
`config.attributes["connection"]`, that connection is used as it is.
"""

from __future__ import annotations

import asyncio
import logging.config
from typing import Any

from alembic import context
from sqlalchemy.engine import Connection
from sqlalchemy.pool import NullPool

from bot.adapters.db.engine import create_engine
from bot.adapters.db.tables import metadata

config = context.config
target_metadata = metadata

if config.config_file_name is not None and config.attributes.get("configure_logging", True):
    logging.config.fileConfig(config.config_file_name, disable_existing_loggers=False)


def database_url() -> str:
    """The URL to migrate, from the caller, `-x url=…`, or alembic.ini, in that order."""
    url = (
        config.attributes.get("url")
        or context.get_x_argument(as_dictionary=True).get("url")
        or config.get_main_option("sqlalchemy.url")
    )
    if not url:
        raise RuntimeError(
            "no database URL: run `alembic -x url=sqlite+aiosqlite:///./opsroom.db upgrade head`"
            " or use `opsroom migrate`"
        )
    return str(url)


def configure(**kwargs: Any) -> None:
    """The options shared by online and offline runs."""
    context.configure(
        target_metadata=target_metadata,
        render_as_batch=True,  # scripts that work on SQLite work everywhere
        compare_type=True,
        **kwargs,
    )


def run_migrations_offline() -> None:
    """Write the SQL instead of running it (`alembic upgrade head --sql`)."""
    configure(url=database_url(), literal_binds=True, dialect_opts={"paramstyle": "named"})
    with context.begin_transaction():
        context.run_migrations()


def do_run_migrations(connection: Connection) -> None:
    """Run the migrations on a synchronous connection, in one transaction."""
    configure(connection=connection)
    with context.begin_transaction():
        context.run_migrations()
        if connection.dialect.name == "sqlite":
            # Foreign keys are off while migrating; prove the result still honours them.
            broken = connection.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
            if broken:
                raise RuntimeError(f"migration left rows that break foreign keys: {broken[:5]}")


async def run_async_migrations() -> None:
    """Own an engine for this run (foreign keys off: SQLite batch rebuilds must not cascade)."""
    engine = create_engine(database_url(), foreign_keys=False, poolclass=NullPool)
    try:
        async with engine.connect() as connection:
            await connection.run_sync(do_run_migrations)
    finally:
        await engine.dispose()


def run_migrations_online() -> None:
    """Use the caller's connection if there is one, else open our own."""
    connection = config.attributes.get("connection")
    if connection is not None:
        do_run_migrations(connection)
    else:
        asyncio.run(run_async_migrations())


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
