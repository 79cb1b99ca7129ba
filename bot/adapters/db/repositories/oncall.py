"""The on-call rotation (one row per guild) and its overrides and aways."""

from __future__ import annotations

import builtins
from datetime import datetime
from typing import Any

from sqlalchemy import RowMapping, delete, select

from bot.adapters.db.repositories._base import (
    SqlRepository,
    person_from,
    person_values,
    required_person,
)
from bot.adapters.db.tables import oncall_rotations, oncall_shifts
from bot.core.model import Person
from bot.core.oncall import Rotation, Shift, ShiftKind

_OPEN_SHIFT = oncall_shifts.c.ended_at.is_(None)


def _rotation(row: RowMapping) -> Rotation:
    return Rotation(
        guild_id=row["guild_id"],
        members=[Person(int(i), str(n)) for i, n in row["members"]],
        every_days=row["every_days"],
        next_handoff_local=datetime.fromisoformat(row["next_handoff_local"]),
        next_handoff_at=row["next_handoff_at"],
        current_index=row["current_index"],
        created_at=row["created_at"],
        holder_id=row["holder_id"],
    )


def _shift(row: RowMapping) -> Shift:
    return Shift(
        id=row["id"],
        guild_id=row["guild_id"],
        kind=ShiftKind(row["kind"]),
        person=required_person(row, "person"),
        backup=person_from(row, "backup"),
        starts_at=row["starts_at"],
        ends_at=row["ends_at"],
        ended_at=row["ended_at"],
    )


def _shift_values(shift: Shift) -> dict[str, Any]:
    return {
        "guild_id": shift.guild_id,
        "kind": shift.kind.value,
        **person_values("person", shift.person),
        **person_values("backup", shift.backup),
        "starts_at": shift.starts_at,
        "ends_at": shift.ends_at,
        "ended_at": shift.ended_at,
    }


class SqlOncallRepository(SqlRepository):
    """Rotations and shifts; their due times are the scheduler's on-call timers."""

    async def rotation(self, guild_id: int) -> Rotation | None:
        query = select(oncall_rotations).where(oncall_rotations.c.guild_id == guild_id)
        row = (await self._execute(query)).mappings().first()
        return _rotation(row) if row else None

    async def save_rotation(self, rotation: Rotation) -> None:
        values = {
            "guild_id": rotation.guild_id,
            "members": [[m.id, m.name] for m in rotation.members],
            "every_days": rotation.every_days,
            "next_handoff_local": rotation.next_handoff_local.isoformat(timespec="minutes"),
            "next_handoff_at": rotation.next_handoff_at,
            "current_index": rotation.current_index,
            "holder_id": rotation.holder_id,
            "created_at": rotation.created_at,
        }
        insert = self._upsert(oncall_rotations).values(**values)
        update = {k: v for k, v in values.items() if k not in ("guild_id", "created_at")}
        await self._execute(
            insert.on_conflict_do_update(index_elements=[oncall_rotations.c.guild_id], set_=update)
        )

    async def delete_rotation(self, guild_id: int) -> None:
        await self._execute(delete(oncall_rotations).where(oncall_rotations.c.guild_id == guild_id))

    async def due_rotations(self, now: datetime) -> builtins.list[Rotation]:
        query = select(oncall_rotations).where(oncall_rotations.c.next_handoff_at <= now)
        return [_rotation(row) for row in (await self._execute(query)).mappings()]

    async def add_shift(self, shift: Shift) -> None:
        shift.id = await self._insert_returning_id(oncall_shifts, _shift_values(shift))

    async def save_shift(self, shift: Shift) -> None:
        await self._update_by_id(oncall_shifts, shift.id, _shift_values(shift), "shift")

    async def shifts(self, guild_id: int) -> builtins.list[Shift]:
        """The guild's shifts not ended yet (current and future)."""
        query = (
            select(oncall_shifts)
            .where((oncall_shifts.c.guild_id == guild_id) & _OPEN_SHIFT)
            .order_by(oncall_shifts.c.starts_at, oncall_shifts.c.id)
        )
        return [_shift(row) for row in (await self._execute(query)).mappings()]

    async def due_shifts(self, now: datetime) -> builtins.list[Shift]:
        """Shifts whose end came and that are not marked ended yet."""
        query = select(oncall_shifts).where(_OPEN_SHIFT & (oncall_shifts.c.ends_at <= now))
        return [_shift(row) for row in (await self._execute(query)).mappings()]

    async def timers(self, limit: int) -> builtins.list[tuple[str, datetime]]:
        """(key, due time) of the soonest handoffs and shift ends."""
        handoffs = (
            select(oncall_rotations.c.guild_id, oncall_rotations.c.next_handoff_at)
            .order_by(oncall_rotations.c.next_handoff_at)
            .limit(limit)
        )
        ends = (
            select(oncall_shifts.c.id, oncall_shifts.c.ends_at)
            .where(_OPEN_SHIFT)
            .order_by(oncall_shifts.c.ends_at)
            .limit(limit)
        )
        found = [
            (f"handoff:{row['guild_id']}", row["next_handoff_at"])
            for row in (await self._execute(handoffs)).mappings()
        ]
        found += [
            (f"shift:{row['id']}", row["ends_at"]) for row in (await self._execute(ends)).mappings()
        ]
        return found
