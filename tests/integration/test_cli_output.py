"""What the CLI prints on a fresh machine: no alembic internals, "migrating" only when it
migrates, nothing from discord.py's voice support."""

from __future__ import annotations

import re
import subprocess
import sys

from bot.adapters.db.migrate import head_revision
from tests.integration.test_app import opsroom

NOISE = re.compile(r"Context impl|Will assume|Running upgrade|PyNaCl|davey|voice", re.I)


def test_migrate_says_migrating_once_and_nothing_of_alembic(tmp_path):
    """First run: one "migrating" line. Second run: no log line at all."""
    first = opsroom(tmp_path, "migrate")
    assert first.returncode == 0, first.stderr
    logged = first.stderr.strip().splitlines()
    assert (
        len(logged) == 1
        and f"migrating database from an empty schema to {head_revision()}" in logged[0]
    )
    assert not NOISE.search(first.stderr) and first.stdout.endswith("is up to date\n")
    second = opsroom(tmp_path, "migrate")
    assert second.returncode == 0 and second.stderr == "", second.stderr


def test_building_the_client_warns_of_no_voice_support(tmp_path):
    """discord.py's PyNaCl and davey warnings are turned off (Opsroom never joins voice)."""
    code = (
        "import logging, sys; logging.basicConfig(stream=sys.stderr, level=logging.DEBUG);"
        "from bot.adapters.discord.client import OpsroomBot;"
        "OpsroomBot(None, None, auto_sync=False, run_notifier=False)"
    )
    result = subprocess.run(
        [sys.executable, "-W", "error::RuntimeWarning", "-c", code],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert not NOISE.search(result.stderr), result.stderr
