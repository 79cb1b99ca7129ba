"""Alembic migrations against empty SQLite and PostgreSQL databases."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Column, Integer, MetaData, inspect
from sqlalchemy.engine import Connection

from bot.adapters.db import (
    create_engine,
    current_revision,
    downgrade_to,
    head_revision,
    upgrade_to_head,
)
from bot.adapters.db.tables import metadata
from bot.core.errors import StorageUnavailableError
from tests.integration.databases import reset_public_schema

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(params=["sqlite", "postgresql"])
async def empty_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    """An empty database: a new SQLite file, or the PostgreSQL test database with its schema
    wiped (no CREATEDB needed), left migrated to head again afterwards for the other tests."""
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path}/migrate.db"
        return
    url: str = request.getfixturevalue("migrated_postgres_url")
    await reset_public_schema(url)
    try:
        yield url
    finally:
        await reset_public_schema(url)
        await upgrade_to_head(url)


def differences(connection: Connection, target: MetaData = metadata) -> list[Any]:
    """What autogenerate would change to make the database match `target`."""
    context = MigrationContext.configure(connection, opts={"compare_type": True})
    return list(compare_metadata(context, target))


async def schema_differences(url: str, target: MetaData = metadata) -> list[Any]:
    """compare_metadata between the database at `url` and `target`."""
    engine = create_engine(url)
    try:
        async with engine.connect() as connection:
            return await connection.run_sync(differences, target)
    finally:
        await engine.dispose()


async def table_names(url: str) -> set[str]:
    """The tables that exist in the database."""
    engine = create_engine(url)
    try:
        async with engine.connect() as connection:
            return set(await connection.run_sync(lambda c: inspect(c).get_table_names()))
    finally:
        await engine.dispose()


async def test_upgrade_an_empty_database_to_head(empty_url: str) -> None:
    """An empty database goes to head and then holds every table of the schema."""
    assert await current_revision(empty_url) is None
    await upgrade_to_head(empty_url)
    assert head_revision() is not None
    assert await current_revision(empty_url) == head_revision()
    assert await table_names(empty_url) == set(metadata.tables) | {"alembic_version"}


async def test_models_and_migrations_agree(empty_url: str) -> None:
    """After upgrading, autogenerate finds no difference between tables.py and the database."""
    await upgrade_to_head(empty_url)
    assert await schema_differences(empty_url) == []


async def test_the_comparison_notices_drift(empty_url: str) -> None:
    """The agreement check can fail: an extra column and a dropped index are both reported."""
    await upgrade_to_head(empty_url)
    drifted = MetaData(naming_convention=metadata.naming_convention)
    for table in metadata.tables.values():
        table.to_metadata(drifted)
    drifted.tables["meta"].append_column(Column("extra", Integer))
    incidents = drifted.tables["incidents"]
    incidents.indexes.discard(
        next(i for i in incidents.indexes if (i.name or "").endswith("channel_id"))
    )
    found = await schema_differences(empty_url, drifted)
    kinds = {diff[0] if isinstance(diff, tuple) else diff[0][0] for diff in found}
    assert kinds == {"add_column", "remove_index"}


async def test_upgrade_twice_is_a_no_op(empty_url: str) -> None:
    """Upgrading a database that is already at head changes nothing."""
    await upgrade_to_head(empty_url)
    await upgrade_to_head(empty_url)
    assert await current_revision(empty_url) == head_revision()


async def test_downgrade_to_base_then_upgrade_again(empty_url: str) -> None:
    """Downgrading to base removes every table; upgrading again restores the same schema."""
    await upgrade_to_head(empty_url)
    await downgrade_to(empty_url, "base")
    assert await current_revision(empty_url) is None
    assert await table_names(empty_url) <= {"alembic_version"}
    await upgrade_to_head(empty_url)
    assert await current_revision(empty_url) == head_revision()
    assert await schema_differences(empty_url) == []


async def test_sqlite_ends_in_wal_mode(tmp_path: Path) -> None:
    """A migrated SQLite file is in WAL mode even for a plain sqlite3 connection."""
    path = tmp_path / "wal.db"
    await upgrade_to_head(f"sqlite+aiosqlite:///{path}")
    with sqlite3.connect(path) as connection:
        assert connection.execute("PRAGMA journal_mode").fetchone() == ("wal",)
        assert connection.execute("PRAGMA foreign_key_check").fetchall() == []


async def test_migrating_an_unreachable_database_is_storage_unavailable() -> None:
    """`opsroom migrate` against a dead server gets StorageUnavailableError, not a traceback."""
    with pytest.raises(StorageUnavailableError, match="connection refused"):
        await upgrade_to_head("postgresql+asyncpg://opsroom:opsroom@127.0.0.1:1/opsroom")


def test_alembic_command_line_takes_the_url_from_x_argument(tmp_path: Path) -> None:
    """Developers can run `alembic -x url=… upgrade head` from the repository root."""
    path = tmp_path / "cli.db"
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "alembic",
            "-x",
            f"url=sqlite+aiosqlite:///{path}",
            "upgrade",
            "head",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    with sqlite3.connect(path) as connection:
        assert connection.execute("SELECT version_num FROM alembic_version").fetchone() == (
            head_revision(),
        )
