"""Logging set-up: human-readable text, or one JSON object per line for log collectors."""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime

TEXT_FORMAT = "%(asctime)s %(levelname)-8s %(name)s: %(message)s"
_MARK = "_opsroom_handler"
# Chatty at INFO on every command ("Context impl SQLiteImpl.", each plugin, each revision:
# Opsroom says "migrating database from A to B" itself); kept to WARNING.
NOISY_LOGGERS = ("alembic",)


CONTEXT_FIELDS = ("guild", "incident")


class TextFormatter(logging.Formatter):
    """TEXT_FORMAT, with `guild=… incident=…` after the message when a record carries them."""

    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        context = [
            f"{field}={getattr(record, field)}"
            for field in CONTEXT_FIELDS
            if getattr(record, field, None) is not None
        ]
        if not context:
            return text
        first, newline, rest = text.partition("\n")
        return f"{first} [{' '.join(context)}]{newline}{rest}"


class JsonFormatter(logging.Formatter):
    """Format a record as one JSON line: timestamp (ISO 8601 UTC), level, logger, message."""

    def format(self, record: logging.LogRecord) -> str:
        """Render `record`, with its formatted traceback under `exc_info` when there is one."""
        timestamp = datetime.fromtimestamp(record.created, tz=UTC)
        entry: dict[str, object] = {
            "timestamp": timestamp.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for field in CONTEXT_FIELDS:  # log.info(..., extra={"guild": 1, "incident": 3})
            value = getattr(record, field, None)
            if value is not None:
                entry[field] = value
        if record.exc_info:
            entry["exc_info"] = self.formatException(record.exc_info)
        if record.stack_info:
            entry["stack_info"] = self.formatStack(record.stack_info)
        return json.dumps(entry, ensure_ascii=False, default=str)


class _StderrHandler(logging.StreamHandler):
    """Write to whatever `sys.stderr` is when a record is emitted (tests swap it)."""

    @property
    def stream(self):  # type: ignore[override]
        """The current standard error."""
        return sys.stderr

    @stream.setter
    def stream(self, value: object) -> None:
        """Ignore the stream StreamHandler.__init__ stores."""


def setup_logging(level: str, fmt: str) -> None:
    """Send all logs to stderr at `level` as `text` or `json`; calling it again replaces it."""
    if fmt not in ("text", "json"):
        raise ValueError(f"unknown log format {fmt!r}: expected 'text' or 'json'")
    handler = _StderrHandler()
    setattr(handler, _MARK, True)
    if fmt == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(TextFormatter(TEXT_FORMAT))
    root = logging.getLogger()
    for old in [h for h in root.handlers if getattr(h, _MARK, False)]:
        root.removeHandler(old)
        old.close()
    root.addHandler(handler)
    root.setLevel(level.upper())
    for name in NOISY_LOGGERS:
        logging.getLogger(name).setLevel(max(root.level, logging.WARNING))
    logging.captureWarnings(True)
