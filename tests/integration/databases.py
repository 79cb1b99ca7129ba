"""Helpers for tests on real databases: URLs, schema resets, a hand-moved clock."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from bot.adapters.db import create_engine

PG_ENV = "OPSROOM_TEST_DATABASE_URL"


def postgres_url_or_skip() -> str:
    """The PostgreSQL URL under test, or skip the test saying how to enable it."""
    url = os.environ.get(PG_ENV)
    if not url:
        pytest.skip(f"integration: {PG_ENV} not set")
    return url


def sqlite_url(path: Path) -> str:
    """An aiosqlite URL for a database file."""
    return f"sqlite+aiosqlite:///{path}"


async def reset_public_schema(url: str) -> None:
    """Drop and recreate PostgreSQL's `public` schema: an empty database, whatever was there.

    Needs only ownership of the database (PostgreSQL 15's `public` belongs to its owner),
    not CREATEDB.
    """
    engine = create_engine(url)
    try:
        async with engine.begin() as connection:
            await connection.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
            await connection.execute(text("CREATE SCHEMA public"))
    finally:
        await engine.dispose()


@dataclass
class Database:
    """A migrated, empty database for one test."""

    backend: str
    url: str
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
