"""Is the database the one Opsroom migrated? Its schema revision, and for SQLite its file.

`SELECT 1` answers on an empty database, and on a SQLite file that was deleted or replaced
under the running process (its connections keep writing to the old, unlinked file, which
is gone after a restart). So readiness asks for Opsroom's alembic revision, and checks that
the file at the configured path is still the file that was opened (same device and inode).
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.adapters.db.errors import storage_errors
from bot.core.errors import StorageUnavailableError

log = logging.getLogger(__name__)
VERSION_QUERY = text("SELECT version_num FROM alembic_version")


def sqlite_file(engine: AsyncEngine) -> Path | None:
    """The file of a file-backed SQLite engine, else None (PostgreSQL, in-memory)."""
    url = engine.url
    if url.get_backend_name() != "sqlite" or url.database in (None, "", ":memory:"):
        return None
    if url.database.startswith("file:"):  # a URI filename: no stable path to compare
        return None
    return Path(url.database).expanduser().resolve()


def _identity(path: Path) -> tuple[int, int] | None:
    try:
        stat = os.stat(path)
    except FileNotFoundError:
        return None
    return stat.st_dev, stat.st_ino


class DatabaseReadiness:
    """Readiness of the database behind `engine`: reachable, at `revision`, the same file.

    Make it once the process has migrated and connected: the file seen then is the one
    every pooled connection has open.
    """

    def __init__(self, engine: AsyncEngine, revision: str | None) -> None:
        self._engine = engine
        self._revision = revision
        self._file = sqlite_file(engine)
        self._opened = _identity(self._file) if self._file is not None else None

    def file_problem(self) -> str | None:
        """Why the SQLite file at the path is not the one opened (None when it is, or when
        there is no file to check). One `stat`: cheap enough for every webhook batch."""
        if self._file is None or self._opened is None:
            return None
        now = _identity(self._file)
        if now is None:
            return f"the database file {self._file} was deleted after Opsroom opened it"
        if now != self._opened:
            return f"the database file {self._file} was replaced after Opsroom opened it"
        return None

    async def problem(self) -> str | None:
        """None when ready, else the reason (for `/readyz`)."""
        if (reason := self.file_problem()) is not None:
            return reason
        try:
            with storage_errors(self._engine.url, connecting=True):
                async with self._engine.connect() as connection:
                    with storage_errors(self._engine.url):
                        result = await connection.execute(VERSION_QUERY)
                        found = list(result.scalars().all())
        except StorageUnavailableError as exc:
            log.debug("database readiness check failed", exc_info=True)
            return str(exc)
        if self._revision is not None and found != [self._revision]:
            at = ", ".join(found) or "none"
            return f"the database schema is at revision {at}; this Opsroom needs {self._revision}"
        return None
