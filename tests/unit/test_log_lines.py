"""One INFO line per incident change, with guild and incident as fields (JSON and text)."""

from __future__ import annotations

import io
import json
import logging
import sys

import pytest

from bot.core.model import Severity
from bot.core.services import IncidentRef
from bot.logs import setup_logging
from tests.unit.test_cli import restore_logging  # noqa: F401 (fixture)

pytestmark = pytest.mark.usefixtures("restore_logging")


@pytest.mark.parametrize("fmt", ["json", "text"])
async def test_each_incident_change_logs_one_line_with_its_guild_and_number(
    services, responder, fmt, monkeypatch
):
    """Declare and a status change: two INFO lines naming guild and incident."""
    stream = io.StringIO()
    monkeypatch.setattr(sys, "stderr", stream)
    setup_logging("INFO", fmt)
    logging.getLogger("bot.incidents").setLevel(logging.INFO)
    incident = await services.incidents.declare(
        100, responder, title="Database down", severity=Severity.SEV1
    )
    await services.incidents.resolve(100, responder, IncidentRef(number=incident.number), None)
    lines = [line for line in stream.getvalue().splitlines() if "Database down" in line]
    assert len(lines) == 2, stream.getvalue()
    if fmt == "json":
        first, second = (json.loads(line) for line in lines)
        assert (first["guild"], first["incident"], first["level"]) == (100, 1, "INFO")
        assert first["message"].startswith("#1 Database down by ")
        assert "Declared sev1" in first["message"] and second["incident"] == 1
    else:
        assert all(line.endswith("[guild=100 incident=1]") for line in lines)
