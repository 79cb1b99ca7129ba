"""Tests for the suite's rule: with OPSROOM_REQUIRE_INTEGRATION=1, integration skips fail."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parents[1]

SAMPLE = """
import pytest


def test_needs_postgres():
    pytest.skip("integration: OPSROOM_TEST_DATABASE_URL is not set")


@pytest.fixture
def alertmanager():
    pytest.skip("integration: prometheus-alertmanager is not installed")


def test_needs_alertmanager(alertmanager):
    pass


@pytest.mark.skip(reason="not relevant on this platform")
def test_ordinary_skip():
    pass
"""

SAMPLE_MODULE_SKIP = """
import pytest

pytest.skip("integration: asyncpg missing", allow_module_level=True)


def test_never_collected():
    pass
"""


def _run_pytest(
    tmp_path: Path, sample: str, require: str | None
) -> subprocess.CompletedProcess[str]:
    """Run pytest on a sample test module beside a copy of tests/conftest.py."""
    shutil.copy(TESTS / "conftest.py", tmp_path / "conftest.py")
    (tmp_path / "test_sample.py").write_text(sample)
    env = {k: v for k, v in os.environ.items() if k != "OPSROOM_REQUIRE_INTEGRATION"}
    if require is not None:
        env["OPSROOM_REQUIRE_INTEGRATION"] = require
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "-p",
            "no:warnings",
            "-rA",
            str(tmp_path),
        ],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_integration_skips_are_skips_by_default(tmp_path):
    """Without OPSROOM_REQUIRE_INTEGRATION, integration tests skip as usual."""
    result = _run_pytest(tmp_path, SAMPLE, None)
    assert result.returncode == 0, result.stdout
    assert "3 skipped" in result.stdout


@pytest.mark.parametrize("value", ["1", "true"])
def test_integration_skips_fail_when_required(tmp_path, value):
    """With OPSROOM_REQUIRE_INTEGRATION=1, "integration:" skips fail; other skips do not."""
    result = _run_pytest(tmp_path, SAMPLE, value)
    assert result.returncode == 1, result.stdout
    assert "1 failed, 1 skipped, 1 error" in result.stdout
    assert "SKIPPED [1] test_sample.py" in result.stdout
    assert result.stdout.count("OPSROOM_REQUIRE_INTEGRATION=1 but the test was skipped") >= 2


def test_module_level_integration_skip_fails_when_required(tmp_path):
    """A module skipped at import for a missing integration dependency is a collection error."""
    skipped = _run_pytest(tmp_path, SAMPLE_MODULE_SKIP, None)
    assert "1 skipped" in skipped.stdout
    result = _run_pytest(tmp_path, SAMPLE_MODULE_SKIP, "1")
    assert result.returncode == 2, result.stdout
    assert "but the test was skipped: integration: asyncpg missing" in result.stdout
