"""Real databases for integration tests: SQLite always, PostgreSQL when a URL is given.

Every SQLite test gets a new file in its tmp_path, migrated to head with `upgrade_to_head`.

`OPSROOM_TEST_DATABASE_URL=postgresql+asyncpg://user:pw@host/db` points at a database the
tests may wipe: its `public` schema is dropped, recreated and migrated once per session,
and every table is truncated before each test.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import text

from bot.adapters.db import SqlUnitOfWork, create_engine, session_factory, upgrade_to_head
from bot.adapters.db.tables import metadata
from tests.fakes import FakeClock
from tests.integration.databases import (
    Database,
    postgres_url_or_skip,
    reset_public_schema,
    sqlite_url,
)

BACKENDS = ["sqlite", "postgresql"]


@pytest.fixture
def postgres_url() -> str:
    """The PostgreSQL URL under test (not migrated here), or skip."""
    return postgres_url_or_skip()


@pytest.fixture(scope="session")
def migrated_postgres_url() -> str:
    """The PostgreSQL test database, emptied and migrated to head once per session."""
    url = postgres_url_or_skip()

    async def prepare() -> None:
        await reset_public_schema(url)
        await upgrade_to_head(url)

    # In a thread of its own: the first test to ask may be async, inside a running loop.
    with ThreadPoolExecutor(max_workers=1) as thread:
        thread.submit(asyncio.run, prepare()).result()
    return url


@pytest.fixture(params=BACKENDS)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The database under test: a new SQLite file, or the (migrated) PostgreSQL database."""
    if request.param == "postgresql":
        return request.getfixturevalue("migrated_postgres_url")
    return sqlite_url(tmp_path / "opsroom.db")


@pytest.fixture
async def database(database_url: str) -> AsyncIterator[Database]:
    """An engine on an empty database at head: SQLite is migrated, PostgreSQL truncated."""
    backend = "postgresql" if database_url.startswith("postgresql") else "sqlite"
    engine = create_engine(database_url)
    if backend == "sqlite":
        await upgrade_to_head(database_url)
    else:
        names = ", ".join(f'"{table.name}"' for table in metadata.sorted_tables)
        async with engine.begin() as connection:
            await connection.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
    try:
        yield Database(backend, database_url, engine, session_factory(engine))
    finally:
        await engine.dispose()


@pytest.fixture
def clock() -> FakeClock:
    """A hand-moved clock shared by the test and its units of work (microseconds on purpose)."""
    return FakeClock(datetime(2025, 3, 14, 9, 26, 53, 589793, tzinfo=UTC))


@pytest.fixture
def uow_factory(database: Database, clock: FakeClock) -> Callable[[], SqlUnitOfWork]:
    """Makes a new SqlUnitOfWork on the test's database each time it is called."""
    return lambda: SqlUnitOfWork(database.sessions, clock=clock)
