"""Storage that cannot take alerts: a full disk, a read-only filesystem, a missing schema, a
database file replaced under the running server. Each is a 503 with Retry-After (the
sender retries), `/readyz` says why, and the server recovers when the storage does."""

from __future__ import annotations

import errno
import json
import os
import sqlite3
import subprocess
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from sqlalchemy import text

from bot.adapters.db import (
    SqlUnitOfWork,
    create_engine,
    head_revision,
    session_factory,
    upgrade_to_head,
)
from bot.adapters.db.readiness import DatabaseReadiness
from bot.core.alerts import AlertSource
from bot.core.errors import StorageUnavailableError
from bot.core.services import Services
from tests.fakes import FakeClock
from tests.integration.databases import Database, sqlite_url
from tests.integration.http.conftest import Hooks, HooksFactory

JSON = {"Content-Type": "application/json"}
AM = AlertSource.ALERTMANAGER


def group(name: str, size: int) -> bytes:
    """An Alertmanager notification of `size` firing alerts: enough rows to need new pages."""
    alerts = [
        {
            "status": "firing",
            "labels": {"alertname": name, "instance": f"host-{i}", "job": "node"},
            "annotations": {"summary": f"{name} on host-{i} " + "x" * 200},
            "startsAt": "2025-03-14T09:00:00Z",
            "fingerprint": f"{name}-{i}",
        }
        for i in range(size)
    ]
    return json.dumps({"version": "4", "status": "firing", "alerts": alerts}).encode()


@pytest.fixture
def tiny_fs(tmp_path: Path) -> Iterator[Path]:
    """A 4 MiB tmpfs to fill up (needs root and mount(8); skipped, saying why, without)."""
    where = tmp_path / "fs"
    where.mkdir()
    try:
        mounted = subprocess.run(
            ["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(where)],
            capture_output=True,
            text=True,
            check=False,
        )
    except FileNotFoundError:
        pytest.skip("cannot mount a tiny filesystem: mount(8) is not installed")
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tiny filesystem: {mounted.stderr.strip() or 'not root'}")
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], check=False, capture_output=True)


@pytest.fixture
def database_url(tmp_path: Path) -> str:
    """These tests are about SQLite files; no PostgreSQL variant."""
    return sqlite_url(tmp_path / "opsroom.db")


@pytest.fixture
async def tiny_hooks(
    tiny_fs: Path, make_hooks: HooksFactory, clock: FakeClock
) -> AsyncIterator[tuple[Hooks, Services, Path]]:
    """A webhook server whose SQLite database lives on the tiny filesystem."""
    url = sqlite_url(tiny_fs / "opsroom.db")
    await upgrade_to_head(url)
    engine = create_engine(url)
    sessions = session_factory(engine)

    def units() -> SqlUnitOfWork:
        return SqlUnitOfWork(sessions, clock=clock)

    services = Services.build(units, clock)
    hooks = await make_hooks(
        services=services, writer_uow_factory=units, read_uow_factory=units, auth_cache_seconds=0
    )
    try:
        yield hooks, services, tiny_fs
    finally:
        await engine.dispose()


def fill(directory: Path) -> Path:
    """Write a file until the filesystem is full."""
    filler = directory / "filler"
    with filler.open("wb") as out:
        try:
            while True:
                out.write(b"\0" * 65536)
                out.flush()
        except OSError as exc:
            assert exc.errno == errno.ENOSPC
    return filler


async def test_disk_full_is_503_then_recovers(tiny_hooks: tuple[Hooks, Services, Path]) -> None:
    """A full disk: 503 + Retry-After for webhooks and a StorageUnavailableError saying so to
    Discord's commands; with room again, the sender's retry is stored."""
    hooks, services, where = tiny_hooks
    _, token = await services.webhooks.create(1, AM, None, None)
    url = f"/hooks/alertmanager/{token}"
    assert (await hooks.client.post(url, data=group("Warm", 1), headers=JSON)).status == 202
    filler = fill(where)
    try:
        full = await hooks.client.post(url, data=group("Full", 300), headers=JSON)
        assert (full.status, full.headers["Retry-After"]) == (503, "5")
        assert await full.json() == {"error": "temporarily unavailable"}
        with pytest.raises(StorageUnavailableError, match="the disk is full"):
            for _ in range(50):  # until the WAL's spare pages are used up too
                await services.webhooks.create(1, AM, "x" * 100, None)
    finally:
        filler.unlink()
    retried = await hooks.client.post(url, data=group("Full", 300), headers=JSON)
    assert (retried.status, (await retried.json())["outcomes"]) == (202, {"new": 300})


async def test_read_only_database_is_503(make_hooks: HooksFactory, database: Database) -> None:
    """A database the process may only read (a read-only volume, file or mount): webhooks
    get 503 + Retry-After, and the error says "read-only", not a traceback."""
    path = database.url.removeprefix("sqlite+aiosqlite:///")
    engine = create_engine(f"sqlite+aiosqlite:///file:{path}?mode=ro&uri=true")
    try:
        read_only = session_factory(engine)
        hooks = await make_hooks(writer_uow_factory=lambda: SqlUnitOfWork(read_only))
        _, token = await hooks.webhook(AM)
        refused = await hooks.client.post(
            f"/hooks/alertmanager/{token}", data=group("RO", 5), headers=JSON
        )
        assert (refused.status, refused.headers["Retry-After"]) == (503, "5")
        services = Services.build(lambda: SqlUnitOfWork(read_only), FakeClock())
        with pytest.raises(StorageUnavailableError, match="the database is read-only"):
            await services.webhooks.create(1, AM, None, None)
    finally:
        await engine.dispose()


@pytest.fixture
async def ready_hooks(
    make_hooks: HooksFactory, database: Database
) -> tuple[Hooks, DatabaseReadiness, Path]:
    """A server on the SQLite test database whose /readyz uses Opsroom's database check."""
    readiness = DatabaseReadiness(database.engine, head_revision())
    hooks = await make_hooks(
        readiness_checks={"database": readiness.problem}, storage_guard=readiness.file_problem
    )
    return hooks, readiness, Path(database.url.removeprefix("sqlite+aiosqlite:///"))


async def unready(hooks: Hooks) -> str:
    """/readyz's 503 reason for the database (asserting the 503 and its Retry-After)."""
    response = await hooks.client.get("/readyz")
    assert (response.status, response.headers["Retry-After"]) == (503, "5")
    return (await response.json())["failing"]["database"]


async def test_replaced_database_file_is_unready_and_refuses_webhooks(
    ready_hooks: tuple[Hooks, DatabaseReadiness, Path],
) -> None:
    """The database file replaced by another under the running server: /readyz 503 names
    it, and webhooks get 503 instead of a 202 for a write into the unlinked file."""
    hooks, _, path = ready_hooks
    _, token = await hooks.webhook(AM)
    url = f"/hooks/alertmanager/{token}"
    assert (await hooks.client.get("/readyz")).status == 200
    assert (await hooks.client.post(url, data=group("Before", 1), headers=JSON)).status == 202
    other = path.with_name("other.db")
    sqlite3.connect(other).close()
    os.replace(other, path)
    assert "was replaced after Opsroom opened it" in await unready(hooks)
    refused = await hooks.client.post(url, data=group("After", 1), headers=JSON)
    assert (refused.status, refused.headers["Retry-After"]) == (503, "5")
    path.unlink()
    assert "was deleted after Opsroom opened it" in await unready(hooks)


async def test_schema_missing_or_behind_is_unready(
    ready_hooks: tuple[Hooks, DatabaseReadiness, Path], database: Database
) -> None:
    """/readyz checks Opsroom's alembic revision: behind it, or no schema at all, is 503;
    a webhook to a database without tables is a 503 too, never a 500."""
    hooks, _, _ = ready_hooks
    _, token = await hooks.webhook(AM)
    async with database.engine.begin() as connection:
        await connection.execute(text("UPDATE alembic_version SET version_num = '0001'"))
    assert await unready(hooks) == (
        f"the database schema is at revision 0001; this Opsroom needs {head_revision()}"
    )
    async with database.engine.begin() as connection:
        await connection.execute(text("DROP TABLE alembic_version"))
        await connection.execute(text("DROP TABLE outbox"))
    assert "Opsroom's tables are missing (run `opsroom migrate`)" in await unready(hooks)
    refused = await hooks.client.post(
        f"/hooks/alertmanager/{token}", data=group("X", 1), headers=JSON
    )
    assert (refused.status, refused.headers["Retry-After"]) == (503, "5")
