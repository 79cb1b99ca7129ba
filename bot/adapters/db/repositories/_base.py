"""What every SQL repository shares: error translation, dialect upserts, counters, Persons."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import Executable, Result, RowMapping, Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from bot.adapters.db.errors import session_url, storage_errors
from bot.adapters.db.tables import counters
from bot.core.errors import NotFoundError
from bot.core.model import Person


def _writes(statement: Executable) -> bool:
    """Whether a statement changes rows."""
    return bool(getattr(statement, "is_dml", False))


class SqlRepository:
    """Base of the `Sql…Repository` classes: one AsyncSession, statements run through here.

    A repository whose writes move timers it does not name one by one gets `writes_timers`
    (the unit of work's set of touched timer keys) and `timer_wildcard`: every INSERT,
    UPDATE or DELETE it runs adds that key.
    """

    writes_timers: set[str] | None = None
    timer_wildcard: str | None = None

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def _execute(
        self,
        statement: Executable,
        params: Mapping[str, Any] | Sequence[Mapping[str, Any]] | None = None,
    ) -> Result[Any]:
        """Run a statement (with a list of parameter sets: once per set, in one driver call),
        turning unreachable databases and broken rules into core errors.

        Statements go to the session's connection: they are SQL Core, and skipping the ORM
        session's per-statement bookkeeping saves about a third of the cost on SQLite.
        """
        with storage_errors(session_url(self._session)):
            connection = await self._session.connection()
            result = await connection.execute(statement, params)
        if self.writes_timers is not None and self.timer_wildcard and _writes(statement):
            self.writes_timers.add(self.timer_wildcard)
        return result

    @property
    def _dialect(self) -> str:
        """The database's dialect name: `sqlite` or `postgresql`."""
        return self._session.get_bind().dialect.name

    def _upsert(self, table: Table) -> Any:
        """The dialect's INSERT that knows ON CONFLICT (SQLite and PostgreSQL spell it alike)."""
        if self._dialect == "postgresql":
            return postgresql.insert(table)
        return sqlite.insert(table)

    async def _next_number(self, scope: str) -> int:
        """Allocate the next number in `scope` (1, 2, 3…) race-free, in this transaction.

        The counter row is locked until commit, so concurrent units of work take turns and
        never see the same value; a rolled-back transaction gives its number back.
        """
        statement = (
            self._upsert(counters)
            .values(scope=scope, value=1)
            .on_conflict_do_update(
                index_elements=[counters.c.scope], set_={"value": counters.c.value + 1}
            )
            .returning(counters.c.value)
        )
        return int((await self._execute(statement)).scalar_one())

    async def _insert_returning_id(self, table: Table, values: Mapping[str, Any]) -> int:
        """Insert one row and give back its surrogate key."""
        result = await self._execute(table.insert().values(**values).returning(table.c.id))
        return int(result.scalar_one())

    async def _update_by_id(
        self, table: Table, row_id: int | None, values: Mapping[str, Any], what: str
    ) -> None:
        """Update one row by id; a missing row is a NotFoundError naming `what`."""
        if row_id is None:
            raise ValueError(f"cannot save a {what} that was never added")
        result = await self._execute(table.update().where(table.c.id == row_id).values(**values))
        if result.rowcount == 0:  # type: ignore[attr-defined]
            raise NotFoundError(f"That {what} no longer exists.")


def person_values(prefix: str, person: Person | None) -> dict[str, Any]:
    """The two columns of a (possibly absent) Person."""
    return {
        f"{prefix}_id": person.id if person else None,
        f"{prefix}_name": person.name if person else None,
    }


def person_from(row: RowMapping, prefix: str) -> Person | None:
    """A Person read back from its two columns, or None when they are NULL."""
    person_id = row[f"{prefix}_id"]
    if person_id is None:
        return None
    return Person(id=int(person_id), name=row[f"{prefix}_name"])


def required_person(row: RowMapping, prefix: str) -> Person:
    """A Person from columns declared NOT NULL."""
    person = person_from(row, prefix)
    assert person is not None, f"{prefix} is NOT NULL"
    return person
