"""Turn driver failures into the core's errors: unreachable → StorageUnavailableError, broken
rule (a named unique constraint) → ConflictError. Anything else is a bug and propagates."""

from __future__ import annotations

import re
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import Index, UniqueConstraint, make_url
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import URL
from sqlalchemy.ext.asyncio import AsyncSession

from bot.adapters.db.tables import metadata
from bot.core.errors import ConflictError, StorageUnavailableError

RULE_MESSAGES: dict[str, str] = {
    "uq_incidents_guild_id_number": "Another incident in this server already has that number.",
    "uq_role_assignments_one_active_commander": "That incident already has an active commander.",
    "uq_timeline_entries_incident_id_seq": "Another timeline entry already has that number.",
    "uq_timeline_entries_incident_id_message_id": (
        "That message is already on the incident's timeline."
    ),
    "uq_action_items_incident_id_seq": "Another action item already has that number.",
    "uq_alerts_guild_id_source_stream_key_episode_key": "That alert episode is already recorded.",
    "uq_alerts_one_firing_per_stream": "That monitor already has an open alert.",
    "uq_webhooks_token_hash": "A webhook with that token already exists.",
    "uq_reminders_one_pending": "That reminder is already scheduled.",
    "uq_status_pages_slug": "That status page slug is taken; choose another.",
    "uq_status_components_guild_id_name": "There is already a component with that name.",
    "uq_public_incidents_code": "That public incident id is already used.",
    "uq_public_incidents_incident_id": "That incident is already on the status page.",
    "uq_maintenances_code": "That maintenance id is already used.",
    "uq_cert_watches_guild_id_host_port": "That host and port are already watched here.",
}
"""Every unique constraint that encodes a rule, with the sentence a user reads when it fires."""


def _sqlite_signatures() -> dict[str, str]:
    """SQLite names the columns, not the constraint: map "t.a, t.b" back to the name."""
    signatures: dict[str, str] = {}
    for table in metadata.tables.values():
        uniques: list[UniqueConstraint | Index] = [
            c for c in table.constraints if isinstance(c, UniqueConstraint)
        ]
        uniques += [i for i in table.indexes if i.unique]
        for constraint in uniques:
            columns = ", ".join(f"{table.name}.{column.name}" for column in constraint.columns)
            signatures[columns] = str(constraint.name)
    return signatures


_SQLITE_SIGNATURES = _sqlite_signatures()
_PG_UNIQUE = re.compile(r'unique constraint "([^"]+)"')


def violated_constraint(error: sa_exc.IntegrityError) -> str | None:
    """The name of the unique constraint an IntegrityError broke, when it can be told."""
    cause = getattr(error.orig, "__cause__", None)
    name = getattr(cause, "constraint_name", None)  # asyncpg
    if name:
        return str(name)
    message = str(error.orig)
    if match := _PG_UNIQUE.search(message):
        return match.group(1)
    prefix = "UNIQUE constraint failed: "
    if message.startswith(prefix):
        return _SQLITE_SIGNATURES.get(message[len(prefix) :].strip())
    return None


def conflict(error: sa_exc.IntegrityError) -> ConflictError | None:
    """A ConflictError for a broken rule, or None for integrity errors that are bugs."""
    name = violated_constraint(error)
    if name in RULE_MESSAGES:
        return ConflictError(RULE_MESSAGES[name])
    return None


def session_url(session: AsyncSession) -> URL:
    """The URL a session talks to, for error messages."""
    return session.get_bind().engine.url


def _reason(error: BaseException, url: URL | None) -> str:
    """A short human reason for a failure to connect."""
    if isinstance(error, ConnectionRefusedError):
        return "connection refused"
    if isinstance(error, socket.gaierror):
        host = url.host if url is not None else None
        return f"unknown host {host}" if host else "unknown host"
    if isinstance(error, TimeoutError):
        return "timed out"
    if isinstance(error, sa_exc.DBAPIError):
        said = str(error.orig).strip()
        message = said.splitlines()[0] if said else ""
        if url is not None and url.get_backend_name() == "sqlite" and url.database:
            parent = Path(url.database).expanduser().parent
            if url.database != ":memory:" and not parent.is_dir():
                return f"directory {parent} does not exist"
        return message or type(error.orig).__name__
    if isinstance(error, OSError):
        return error.strerror or str(error) or type(error).__name__
    return str(error) or type(error).__name__


SQLITE_OUTAGES = {
    "database or disk is full": "the disk is full",
    "attempt to write a readonly database": "the database is read-only",
    "disk i/o error": "a disk I/O error",
    "unable to open database file": "the database file cannot be opened",
    "no such table": "Opsroom's tables are missing (run `opsroom migrate`)",
}
"""SQLite messages that mean "this database cannot take writes now", not a bug: each becomes
a StorageUnavailableError (a 503 with Retry-After, one line in Discord) with this reason."""

PG_OUTAGES = {
    "53": "the database server is out of resources (disk, memory or connections)",
    "42P01": "Opsroom's tables are missing (run `opsroom migrate`)",
    "3D000": "the database does not exist",
    "57P": "the database server is shutting down or starting",
}
"""PostgreSQL SQLSTATEs (or their prefixes) with the same meaning. Not 25006 (a write in a
READ ONLY transaction): Opsroom's own readers are read-only, so that one is a bug to see."""


def _outage(error: sa_exc.DBAPIError) -> str | None:
    """The reason, when a driver error is one of the known outages above."""
    said = str(error.orig).lower()
    for fragment, reason in SQLITE_OUTAGES.items():
        if fragment in said:
            return reason
    for source in (error.orig, getattr(error.orig, "__cause__", None)):
        state = getattr(source, "sqlstate", None) or getattr(source, "pgcode", None)
        if isinstance(state, str):
            for prefix, reason in PG_OUTAGES.items():
                if state.startswith(prefix):
                    return reason
    return None


def unavailable(
    error: BaseException, url: URL | str | None = None, *, connecting: bool = False
) -> StorageUnavailableError | None:
    """A StorageUnavailableError when `error` means the database cannot be used right now."""
    if isinstance(url, str):
        url = make_url(url)
    where = "cannot reach the database"
    if url is not None:
        where += f" {url.render_as_string(hide_password=True)}"
    if isinstance(error, OSError):
        return StorageUnavailableError(f"{where}: {_reason(error, url)}")
    if isinstance(error, sa_exc.TimeoutError):  # pool exhausted
        return StorageUnavailableError(f"{where}: every connection is busy, try again")
    if not isinstance(error, sa_exc.DBAPIError) or isinstance(error, sa_exc.IntegrityError):
        return None
    if "database is locked" in str(error.orig):  # SQLite's busy_timeout ran out
        return StorageUnavailableError(f"{where}: the database is busy, try again")
    if connecting:
        return StorageUnavailableError(f"{where}: {_reason(error, url)}")
    if (reason := _outage(error)) is not None:
        return StorageUnavailableError(f"{where}: {reason}")
    if error.connection_invalidated:
        return StorageUnavailableError(f"{where}: the connection was lost")
    return None


@contextmanager
def storage_errors(url: URL | None = None, *, connecting: bool = False) -> Iterator[None]:
    """Re-raise driver errors inside the block as the core's errors where they have a meaning."""
    try:
        yield
    except sa_exc.IntegrityError as error:
        translated: Exception | None = conflict(error)
        if translated is None:
            raise
        raise translated from error
    except (sa_exc.SQLAlchemyError, OSError) as error:
        translated = unavailable(error, url, connecting=connecting)
        if translated is None:
            raise
        raise translated from error
