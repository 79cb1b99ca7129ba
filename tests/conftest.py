"""Suite-wide pytest hooks: in CI, a skipped integration test is a failure.

Convention: a test (or fixture, or module) that skips because an integration dependency is
missing (PostgreSQL, Alertmanager, ...) must give a reason starting with "integration:",
e.g. ``pytest.skip("integration: OPSROOM_TEST_DATABASE_URL is not set")``. With
``OPSROOM_REQUIRE_INTEGRATION=1`` (set by .ci/run) such a skip is reported as a failure, so
CI cannot go green by silently skipping the tests that matter. Other skips are left alone.
"""

from __future__ import annotations

import os

import pytest

INTEGRATION_PREFIX = "integration:"


def _integration_required() -> bool:
    """True when OPSROOM_REQUIRE_INTEGRATION asks for integration skips to fail."""
    return os.environ.get("OPSROOM_REQUIRE_INTEGRATION", "").strip().lower() in ("1", "true")


def _skip_reason(report: pytest.TestReport | pytest.CollectReport) -> str | None:
    """Return the reason of a skipped report, without pytest's "Skipped: " prefix."""
    if not report.skipped or hasattr(report, "wasxfail"):
        return None
    if isinstance(report.longrepr, tuple) and len(report.longrepr) == 3:
        return str(report.longrepr[2]).removeprefix("Skipped: ")
    return None


def _fail_integration_skip(report: pytest.TestReport | pytest.CollectReport) -> None:
    """Turn an "integration:" skip into a failure when integration tests are required."""
    reason = _skip_reason(report)
    if reason is None or not reason.startswith(INTEGRATION_PREFIX):
        return
    if not _integration_required():
        return
    report.outcome = "failed"
    report.longrepr = f"OPSROOM_REQUIRE_INTEGRATION=1 but the test was skipped: {reason}"


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]):
    """Fail tests skipped (in setup or call) for a missing integration dependency."""
    report = yield
    _fail_integration_skip(report)
    return report


@pytest.hookimpl(wrapper=True)
def pytest_make_collect_report(collector: pytest.Collector):
    """Fail modules skipped at import time for a missing integration dependency."""
    report = yield
    _fail_integration_skip(report)
    return report


@pytest.fixture
def clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path) -> pytest.MonkeyPatch:
    """Remove every OPSROOM_* variable and work in an empty directory (no developer .env)."""
    for name in list(os.environ):
        if name.upper().startswith("OPSROOM_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    return monkeypatch
