"""Read-only units of work: a snapshot without SQLite's write lock, READ ONLY on PostgreSQL."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest
from sqlalchemy import event, text
from sqlalchemy import exc as sa_exc

from bot.adapters.db import SqlUnitOfWork, create_engine, session_factory
from bot.core.alerts import AlertSource
from bot.core.webhooks import Webhook, hash_token
from tests.integration.databases import Database

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def webhook(token: str) -> Webhook:
    return Webhook(1, AlertSource.ALERTMANAGER, "am", hash_token(token), NOW)


@pytest.fixture
async def single_connection(database: Database) -> AsyncIterator[Database]:
    """The same database through a pool of exactly one connection, so every unit of work
    reuses the connection the one before it gave back."""
    engine = create_engine(database.url, pool_size=1, max_overflow=0)
    try:
        yield Database(database.backend, database.url, engine, session_factory(engine))
    finally:
        await engine.dispose()


async def test_reading_twin_is_read_only_and_cannot_commit(database: Database) -> None:
    """`reading()` gives a read-only unit of work on the same storage; commit() refuses."""
    writer = SqlUnitOfWork(database.sessions)
    reader = writer.reading()
    assert reader.read_only and not writer.read_only
    async with writer:
        await writer.webhooks.add(webhook("t1"))
        await writer.commit()
    async with reader:
        found = await reader.webhooks.by_hash(hash_token("t1"))
        assert found is not None and found.name == "am"
        with pytest.raises(RuntimeError, match="read-only"):
            await reader.commit()


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_sqlite_reader_does_not_wait_for_the_writer(database: Database) -> None:
    """While a unit of work holds SQLite's write lock, a read-only one reads the last
    committed state at once (a normal one would queue for busy_timeout, 5 s)."""
    async with SqlUnitOfWork(database.sessions) as setup:
        await setup.webhooks.add(webhook("committed"))
        await setup.commit()
    async with SqlUnitOfWork(database.sessions) as writer:  # BEGIN IMMEDIATE: holds the lock
        await writer.webhooks.add(webhook("uncommitted"))

        async def look_up(token: str) -> Webhook | None:
            async with SqlUnitOfWork(database.sessions, read_only=True) as reader:
                return await reader.webhooks.by_hash(hash_token(token))

        committed = await asyncio.wait_for(look_up("committed"), timeout=2)
        uncommitted = await asyncio.wait_for(look_up("uncommitted"), timeout=2)
        assert committed is not None and uncommitted is None


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_sqlite_transactions_begin_as_asked_on_a_reused_connection(
    single_connection: Database,
) -> None:
    """Deferred BEGIN for readers, BEGIN IMMEDIATE for everyone else, even on the very
    connection a reader just gave back (the option does not stick to the connection)."""
    begins: list[str] = []

    @event.listens_for(single_connection.engine.sync_engine, "before_cursor_execute")
    def _record(conn, cursor, statement, parameters, context, executemany):  # noqa: ANN001
        if statement.startswith("BEGIN"):
            begins.append(statement)

    sessions = single_connection.sessions
    for read_only in (False, True, False, True, False):
        async with SqlUnitOfWork(sessions, read_only=read_only) as uow:
            await uow.webhooks.by_hash("x")
    assert begins == ["BEGIN IMMEDIATE", "BEGIN", "BEGIN IMMEDIATE", "BEGIN", "BEGIN IMMEDIATE"]


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
async def test_postgresql_refuses_writes_in_a_reader_and_resets_the_connection(
    single_connection: Database,
) -> None:
    """On PostgreSQL the reader's transaction is READ ONLY; the next unit of work on the same
    connection writes normally."""
    sessions = single_connection.sessions
    async with SqlUnitOfWork(sessions, read_only=True) as reader:
        mode = (await reader.session.execute(text("SHOW transaction_read_only"))).scalar()
        assert mode == "on"
        with pytest.raises(sa_exc.DBAPIError, match="read-only transaction"):
            await reader.webhooks.add(webhook("nope"))
    async with SqlUnitOfWork(sessions) as writer:
        mode = (await writer.session.execute(text("SHOW transaction_read_only"))).scalar()
        assert mode == "off"
        await writer.webhooks.add(webhook("yes"))
        await writer.commit()
    async with SqlUnitOfWork(sessions, read_only=True) as reader:
        assert await reader.webhooks.by_hash(hash_token("yes")) is not None
