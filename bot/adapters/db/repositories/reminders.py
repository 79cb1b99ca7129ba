"""Reminders: rows with a due time, at most one pending per kind and subject.

Every write is a single conditional statement rather than read-modify-write, so two
transactions (a sweep and an `/incident update`, say) cannot undo each other: scheduling is
an upsert on the partial unique index of pending reminders, and firing claims the row only
while it is still pending and due.
"""

from __future__ import annotations

import builtins
from collections.abc import Collection, Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import RowMapping, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.adapters.db.repositories._base import SqlRepository
from bot.adapters.db.tables import reminders
from bot.core.reminders import Reminder, ReminderKind, Sweep, timer_key

_PENDING = reminders.c.fired_at.is_(None) & reminders.c.cancelled_at.is_(None)


def reminder_values(reminder: Reminder) -> dict[str, Any]:
    """Reminder → row (without id)."""
    return {
        "guild_id": reminder.guild_id,
        "incident_id": reminder.incident_id,
        "kind": reminder.kind.value,
        "subject_id": reminder.subject_id,
        "due_at": reminder.due_at,
        "created_at": reminder.created_at,
        "fired_at": reminder.fired_at,
        "cancelled_at": reminder.cancelled_at,
    }


def reminder_from_row(row: RowMapping) -> Reminder:
    """Row → Reminder."""
    return Reminder(
        id=row["id"],
        guild_id=row["guild_id"],
        incident_id=row["incident_id"],
        kind=ReminderKind(row["kind"]),
        subject_id=row["subject_id"],
        due_at=row["due_at"],
        created_at=row["created_at"],
        fired_at=row["fired_at"],
        cancelled_at=row["cancelled_at"],
    )


class SqlReminderRepository(SqlRepository):
    """Stored reminders for the clock's sweep; every write notes the timer it touched in
    `touched`, which the unit of work hands to the scheduler after commit."""

    def __init__(self, session: AsyncSession, touched: set[str] | None = None) -> None:
        super().__init__(session)
        self.touched = touched if touched is not None else set()

    def _touch(self, reminder_ids: Iterable[int]) -> None:
        self.touched.update(timer_key(Sweep.REMINDERS, int(i)) for i in reminder_ids)

    async def schedule(self, reminder: Reminder) -> None:
        """Add the pending reminder of its kind and subject, or move the one there is."""
        if not reminder.pending:
            raise ValueError("only a pending reminder can be scheduled")
        insert = self._upsert(reminders).values(**reminder_values(reminder))
        statement = insert.on_conflict_do_update(
            index_elements=[reminders.c.kind, reminders.c.subject_id],
            index_where=_PENDING,
            set_={"due_at": insert.excluded.due_at},
        ).returning(reminders.c.id, reminders.c.created_at)
        row = (await self._execute(statement)).one()
        reminder.id, reminder.created_at = int(row.id), row.created_at
        self._touch([reminder.id])

    async def cancel(self, kind: ReminderKind, subject_id: int, at: datetime) -> int:
        """Cancel the pending reminder of this kind and subject; returns how many (0 or 1)."""
        statement = (
            reminders.update()
            .where(
                (reminders.c.kind == ReminderKind(kind).value)
                & (reminders.c.subject_id == subject_id)
                & _PENDING
            )
            .values(cancelled_at=at)
            .returning(reminders.c.id)
        )
        cancelled = list((await self._execute(statement)).scalars())
        self._touch(cancelled)
        return len(cancelled)

    async def claim(self, reminder_id: int, at: datetime) -> bool:
        """Mark the reminder fired if it is still pending and due (the at-most-once guard)."""
        statement = (
            reminders.update()
            .where((reminders.c.id == reminder_id) & _PENDING & (reminders.c.due_at <= at))
            .values(fired_at=at)
        )
        claimed = (await self._execute(statement)).rowcount == 1  # type: ignore[attr-defined]
        if claimed:
            self._touch([reminder_id])
        return claimed

    async def get(self, reminder_id: int) -> Reminder | None:
        """The reminder with this id."""
        query = select(reminders).where(reminders.c.id == reminder_id)
        row = (await self._execute(query)).mappings().first()
        return reminder_from_row(row) if row else None

    async def due(self, now: datetime, limit: int = 100) -> builtins.list[Reminder]:
        """Pending reminders due at or before `now`, soonest first."""
        query = (
            select(reminders)
            .where(_PENDING & (reminders.c.due_at <= now))
            .order_by(reminders.c.due_at, reminders.c.id)
            .limit(limit)
        )
        return await self._all(query)

    async def upcoming(self, limit: int) -> builtins.list[Reminder]:
        """The `limit` soonest pending reminders, overdue ones included."""
        query = (
            select(reminders)
            .where(_PENDING)
            .order_by(reminders.c.due_at, reminders.c.id)
            .limit(limit)
        )
        return await self._all(query)

    async def pending_among(self, reminder_ids: Collection[int]) -> builtins.list[Reminder]:
        """Those of these reminders that are still pending, in any order."""
        if not reminder_ids:
            return []
        query = select(reminders).where(reminders.c.id.in_(sorted(reminder_ids)) & _PENDING)
        return await self._all(query)

    async def list(self, incident_id: int) -> builtins.list[Reminder]:
        """Every reminder of the incident, oldest first."""
        query = (
            select(reminders).where(reminders.c.incident_id == incident_id).order_by(reminders.c.id)
        )
        return await self._all(query)

    async def _all(self, query: Any) -> builtins.list[Reminder]:
        return [reminder_from_row(row) for row in (await self._execute(query)).mappings()]
