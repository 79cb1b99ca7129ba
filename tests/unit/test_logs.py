"""Tests for bot.logs: text and JSON-lines output on stderr."""

from __future__ import annotations

import json
import logging

import pytest

from bot.logs import setup_logging


@pytest.fixture(autouse=True)
def restore_logging():
    """Put the root logger back as it was after each test."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


def test_json_format_is_one_object_per_line(capsys):
    """Each record is one JSON line with an ISO UTC timestamp, level, logger and message."""
    setup_logging("INFO", "json")
    logging.getLogger("opsroom.test").info("hello %s", "world")
    (line,) = capsys.readouterr().err.splitlines()
    entry = json.loads(line)
    assert entry["level"] == "INFO"
    assert entry["logger"] == "opsroom.test"
    assert entry["message"] == "hello world"
    assert entry["timestamp"].endswith("Z") and "T" in entry["timestamp"]
    assert "exc_info" not in entry


def test_json_format_carries_the_traceback(capsys):
    """An exception's traceback goes into `exc_info` and the line stays one line."""
    setup_logging("INFO", "json")
    try:
        raise ValueError("bad payload")
    except ValueError:
        logging.getLogger("opsroom.test").exception("parse failed")
    (line,) = capsys.readouterr().err.splitlines()
    entry = json.loads(line)
    assert entry["level"] == "ERROR"
    assert "ValueError: bad payload" in entry["exc_info"]


def test_text_format_and_level(capsys):
    """Text lines carry level, logger and message; records below the level are dropped."""
    setup_logging("warning", "text")
    log = logging.getLogger("opsroom.test")
    log.info("hidden")
    log.warning("shown")
    (line,) = capsys.readouterr().err.splitlines()
    assert line.endswith("WARNING  opsroom.test: shown")


def test_setup_twice_does_not_duplicate_output(capsys):
    """Calling setup_logging again replaces its handler instead of adding another."""
    setup_logging("INFO", "text")
    setup_logging("INFO", "json")
    logging.getLogger("opsroom.test").info("once")
    assert len(capsys.readouterr().err.splitlines()) == 1


def test_unknown_format_is_refused():
    """Only text and json exist."""
    with pytest.raises(ValueError, match="xml"):
        setup_logging("INFO", "xml")


def test_noisy_library_loggers_are_quieted(capsys):
    """alembic's per-plugin INFO lines are hidden; its warnings still show."""
    setup_logging("INFO", "text")
    logging.getLogger("alembic.runtime.plugins").info("setup plugin x")
    logging.getLogger("alembic.runtime.plugins").warning("real problem")
    (line,) = capsys.readouterr().err.splitlines()
    assert line.endswith("real problem")
