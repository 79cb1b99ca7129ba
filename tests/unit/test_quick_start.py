"""The README's quick start works as written: its test alert is a valid Events v2 trigger,
and it stays within 150 lines."""

from __future__ import annotations

import re
from pathlib import Path

from bot.adapters.http.parsers import events
from bot.core.alerts import SignalAction

README = Path(__file__).resolve().parents[2] / "README.md"


def test_the_test_alert_parses_as_a_trigger():
    text = README.read_text(encoding="utf-8")
    match = re.search(
        r"curl -X POST 'URL' -H 'Content-Type: application/json' -d '(.+?)'", text, re.S
    )
    assert match, "the quick start's curl command is missing"
    body = " ".join(match.group(1).split()).encode()
    (signal,) = events.parse("application/json", body, {})
    assert signal.action is SignalAction.TRIGGER and signal.title == "Test: disk 97% full"


def test_the_readme_is_at_most_150_lines():
    assert len(README.read_text(encoding="utf-8").splitlines()) <= 150
