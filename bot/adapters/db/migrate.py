"""Run alembic from code: the URL is passed in, the scripts are found inside the package.

Each call opens its own engine (foreign keys off on SQLite, so batch table rebuilds do not
cascade deletes), hands the connection to `migrations/env.py` and disposes of it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Connection
from sqlalchemy.pool import NullPool

import migrations
from bot.adapters.db.engine import create_engine
from bot.adapters.db.errors import storage_errors

log = logging.getLogger(__name__)

T = TypeVar("T")

SCRIPT_LOCATION = Path(migrations.__file__).parent


def alembic_config(url: str) -> Config:
    """An alembic Config for `url` that needs no alembic.ini and leaves logging alone."""
    config = Config()
    config.set_main_option("script_location", str(SCRIPT_LOCATION))
    config.attributes["url"] = url  # attributes, not options: no %-interpolation of the URL
    config.attributes["configure_logging"] = False
    return config


def head_revision() -> str | None:
    """The newest revision the scripts know."""
    return ScriptDirectory.from_config(alembic_config("")).get_current_head()


async def _with_connection(url: str, work: Callable[[Config, Connection], T]) -> T:
    """Run `work` on a fresh connection to `url`, translating an unreachable database."""
    engine = create_engine(url, foreign_keys=False, poolclass=NullPool)
    try:
        with storage_errors(engine.url, connecting=True):
            connection = await engine.connect()
        try:
            config = alembic_config(url)

            def run(sync_connection: Connection) -> T:
                config.attributes["connection"] = sync_connection
                return work(config, sync_connection)

            with storage_errors(engine.url):
                return await connection.run_sync(run)
        finally:
            await connection.close()
    finally:
        await engine.dispose()


async def upgrade_to_head(url: str) -> None:
    """Bring the database at `url` up to the newest schema (a no-op when it is there)."""
    head = head_revision()

    def upgrade(config: Config, connection: Connection) -> None:
        current = MigrationContext.configure(connection).get_current_revision()
        connection.rollback()  # end the read's transaction: alembic begins its own
        if current == head:
            return  # up to date: nothing to say
        log.info("migrating database from %s to %s", current or "an empty schema", head)
        command.upgrade(config, "head")

    await _with_connection(url, upgrade)


async def downgrade_to(url: str, revision: str = "base") -> None:
    """Take the database back to `revision` (`base` drops every table): for development."""
    await _with_connection(url, lambda config, _: command.downgrade(config, revision))


async def current_revision(url: str) -> str | None:
    """The revision the database is at, or None when it was never migrated."""

    def read(_: Config, connection: Connection) -> str | None:
        return MigrationContext.configure(connection).get_current_revision()

    return await _with_connection(url, read)
