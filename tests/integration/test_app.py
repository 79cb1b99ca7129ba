"""The `opsroom` process end to end: migrate, webhook create, run, and its startup failures."""

from __future__ import annotations

import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from bot.adapters.db import SqlUnitOfWork, create_engine, session_factory
from bot.core.alerts import AlertSource
from bot.core.model import Member, Person, Severity
from bot.core.services import Services
from tests.fakes import FakeClock
from tests.integration.databases import postgres_url_or_skip, reset_public_schema
from tests.paths import FIXTURES


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def opsroom_env(tmp_path: Path, **settings: str) -> dict[str, str]:
    """A clean environment: no developer OPSROOM_* variables, SQLite in tmp_path by default."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("OPSROOM_")}
    env["OPSROOM_DATABASE_URL"] = f"sqlite+aiosqlite:///{tmp_path / 'opsroom.db'}"
    env.update({f"OPSROOM_{k.upper()}": v for k, v in settings.items()})
    return env


def opsroom(tmp_path: Path, *args: str, **settings: str) -> subprocess.CompletedProcess[str]:
    """Run `python -m bot ARGS` to completion in tmp_path."""
    return subprocess.run(
        [sys.executable, "-m", "bot", *args],
        cwd=tmp_path,
        env=opsroom_env(tmp_path, **settings),
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_migrate_creates_every_table_in_an_empty_sqlite_file(tmp_path):
    """`opsroom migrate` on a file that does not exist yet leaves a WAL database at head."""
    result = opsroom(tmp_path, "migrate")
    assert result.returncode == 0, result.stderr
    with sqlite3.connect(tmp_path / "opsroom.db") as db:
        tables = {row[0] for row in db.execute("select name from sqlite_master where type='table'")}
        mode = db.execute("pragma journal_mode").fetchone()[0]
    assert {"incidents", "timeline_entries", "alerts", "webhooks", "alembic_version"} <= tables
    assert mode == "wal"
    assert opsroom(tmp_path, "migrate").returncode == 0  # a second run changes nothing


async def test_migrate_on_postgresql(tmp_path):
    """`opsroom migrate` brings an empty PostgreSQL schema to head."""
    url = postgres_url_or_skip()
    await reset_public_schema(url)
    result = opsroom(tmp_path, "migrate", database_url=url)
    assert result.returncode == 0, result.stderr
    password = url.split("@")[0].rsplit(":", 1)[-1]
    assert "is up to date" in result.stdout and f":{password}@" not in result.stdout


async def test_webhook_create_prints_a_working_url_once(tmp_path):
    """The printed URL carries a token that authenticates for its source and guild."""
    result = opsroom(
        tmp_path,
        "webhook",
        "create",
        "--guild",
        "42",
        "--source",
        "alertmanager",
        "--name",
        "prod",
        public_url="https://ops.example.org/",
    )
    assert result.returncode == 0, result.stderr
    url = result.stdout.strip()
    prefix = "https://ops.example.org/hooks/alertmanager/"
    assert url.startswith(prefix) and "shown only once" in result.stderr
    engine = create_engine(opsroom_env(tmp_path)["OPSROOM_DATABASE_URL"])
    try:
        sessions = session_factory(engine)
        services = Services.build(lambda: SqlUnitOfWork(sessions), FakeClock())
        webhook = await services.webhooks.authenticate(url.removeprefix(prefix))
    finally:
        await engine.dispose()
    assert (webhook.guild_id, webhook.source, webhook.name) == (
        42,
        AlertSource.ALERTMANAGER,
        "prod",
    )


def test_run_without_token_names_the_setting(tmp_path):
    """No token: one line naming OPSROOM_DISCORD_TOKEN, exit 2, no traceback."""
    result = opsroom(tmp_path, "run")
    assert result.returncode == 2
    assert "OPSROOM_DISCORD_TOKEN" in result.stderr and "Traceback" not in result.stderr


def test_run_with_unreachable_database_names_the_setting(tmp_path):
    """A database nobody answers for: exit 2 naming OPSROOM_DATABASE_URL, password hidden."""
    result = opsroom(
        tmp_path,
        "run",
        "--role",
        "web",
        database_url="postgresql+asyncpg://u:sekrit@127.0.0.1:1/x",
    )
    assert result.returncode == 2, result.stderr
    assert "OPSROOM_DATABASE_URL" in result.stderr
    assert "sekrit" not in result.stderr and "Traceback" not in result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("opsroom:")]
    assert len(errors) == 1 and errors[0].startswith("opsroom: OPSROOM_DATABASE_URL: ")


def test_run_with_port_in_use_names_the_setting(tmp_path):
    """A busy port: exit 2 naming OPSROOM_HTTP_PORT, no traceback."""
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = str(busy.getsockname()[1])
        result = opsroom(tmp_path, "run", "--role", "web", http_port=port)
    assert result.returncode == 2, result.stderr
    assert "OPSROOM_HTTP_PORT" in result.stderr and "already in use" in result.stderr
    assert "Traceback" not in result.stderr


def _get(url: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def test_run_serves_health_webhooks_and_stops_cleanly_on_sigterm(tmp_path):
    """`opsroom run --role web` answers health, takes a webhook, and exits 0 on SIGTERM."""
    port = free_port()
    created = opsroom(
        tmp_path,
        "webhook",
        "create",
        "--guild",
        "9",
        "--source",
        "alertmanager",
        public_url=f"http://127.0.0.1:{port}",
    )
    hook_url = created.stdout.strip()
    process = subprocess.Popen(
        [sys.executable, "-m", "bot", "run", "--role", "web"],
        cwd=tmp_path,
        env=opsroom_env(tmp_path, http_port=str(port)),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                status, _ = _get(f"http://127.0.0.1:{port}/healthz")
                break
            except OSError:
                assert process.poll() is None, process.communicate()[1]
                time.sleep(0.2)
        else:
            pytest.fail("opsroom run did not answer /healthz within 30 s")
        assert status == 200
        assert _get(f"http://127.0.0.1:{port}/readyz")[0] == 200
        body = (FIXTURES / "alertmanager" / "alertmanager-0.25-firing.json").read_bytes()
        post = urllib.request.Request(
            hook_url, data=body, headers={"Content-Type": "application/json"}, method="POST"
        )
        with urllib.request.urlopen(post, timeout=10) as response:
            assert response.status == 202
        assert b"opsroom_" in _get(f"http://127.0.0.1:{port}/metrics")[1]
    finally:
        process.send_signal(signal.SIGTERM)
        _, stderr = process.communicate(timeout=30)
    assert process.returncode == 0, stderr
    assert "Traceback" not in stderr
    with sqlite3.connect(tmp_path / "opsroom.db") as db:
        stored = db.execute("select count(*) from alerts where guild_id = 9").fetchone()[0]
    assert stored == 2  # the fixture's group holds two firing alerts


async def test_export_writes_the_postmortem_draft(tmp_path):
    """`opsroom export` renders a stored incident to a file; an unknown one is one line, exit 1."""
    assert opsroom(tmp_path, "migrate").returncode == 0
    engine = create_engine(opsroom_env(tmp_path)["OPSROOM_DATABASE_URL"])
    try:
        sessions = session_factory(engine)
        services = Services.build(lambda: SqlUnitOfWork(sessions), FakeClock())
        admin = Member(Person(1, "alice"), manage_guild=True)
        await services.incidents.declare(7, admin, title="Mail queue stuck", severity=Severity.SEV2)
    finally:
        await engine.dispose()
    result = opsroom(tmp_path, "export", "--guild", "7", "--incident", "#1", "-o", "pm.md")
    assert result.returncode == 0, result.stderr
    draft = (tmp_path / "pm.md").read_text()
    assert draft.startswith("# #1 Mail queue stuck") and "## 4. Timeline" in draft
    missing = opsroom(tmp_path, "export", "--guild", "7", "--incident", "5")
    assert missing.returncode == 2 and "Traceback" not in missing.stderr
    assert (
        missing.stderr.strip().splitlines()[-1]
        == "opsroom: There is no incident #5 in this server."
    )
