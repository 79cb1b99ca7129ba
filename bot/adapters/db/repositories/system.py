"""Process-wide key/values and the outbox of events waiting for Discord."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.adapters.db.repositories._base import SqlRepository
from bot.adapters.db.tables import meta, outbox
from bot.core.clock import SystemClock
from bot.core.events import Event, StoredEvent, Topic
from bot.core.ports import Clock


class SqlMetaRepository(SqlRepository):
    """Small string values by key, such as the hash of the last synced command tree."""

    async def get(self, key: str) -> str | None:
        """The stored value, or None."""
        result = await self._execute(select(meta.c.value).where(meta.c.key == key))
        return result.scalar_one_or_none()

    async def set(self, key: str, value: str) -> None:
        """Insert or replace."""
        statement = (
            self._upsert(meta)
            .values(key=key, value=value)
            .on_conflict_do_update(index_elements=[meta.c.key], set_={"value": value})
        )
        await self._execute(statement)


_INSERT = outbox.insert()


class SqlOutboxRepository(SqlRepository):
    """Events recorded in the same transaction as the change, delivered after commit."""

    def __init__(self, session: AsyncSession, clock: Clock | None = None) -> None:
        super().__init__(session)
        self._clock = clock or SystemClock()

    async def add(self, event: Event) -> None:
        """Record an event in this transaction; it becomes visible to the relay on commit."""
        await self._execute(
            outbox.insert().values(
                topic=event.topic.value,
                guild_id=event.guild_id,
                subject_id=event.subject_id,
                created_at=self._clock.now(),
            )
        )

    async def add_many(self, events: Sequence[Event]) -> None:
        """Record events in this transaction, in order, in one driver call."""
        if not events:
            return
        now = self._clock.now()
        rows = [
            {
                "topic": event.topic.value,
                "guild_id": event.guild_id,
                "subject_id": event.subject_id,
                "created_at": now,
            }
            for event in events
        ]
        await self._execute(_INSERT, rows)

    async def pending(self, limit: int = 100, after: int = 0) -> list[StoredEvent]:
        """The oldest undelivered events with an id above `after`, in recording order."""
        query = (
            select(outbox)
            .where(outbox.c.done_at.is_(None) & (outbox.c.id > after))
            .order_by(outbox.c.id)
            .limit(limit)
        )
        return [
            StoredEvent(
                id=row["id"],
                event=Event(
                    topic=Topic(row["topic"]),
                    guild_id=row["guild_id"],
                    subject_id=row["subject_id"],
                ),
                created_at=row["created_at"],
            )
            for row in (await self._execute(query)).mappings()
        ]

    async def prune(self, before: datetime, limit: int) -> int:
        """Delete up to `limit` events delivered before `before`, oldest first; how many."""
        oldest = (
            select(outbox.c.id)
            .where(outbox.c.done_at.is_not(None) & (outbox.c.done_at < before))
            .order_by(outbox.c.done_at)
            .limit(limit)
        )
        result = await self._execute(outbox.delete().where(outbox.c.id.in_(oldest)))
        return int(result.rowcount)  # type: ignore[attr-defined]

    async def mark_done(self, event_ids: Collection[int], at: datetime) -> None:
        """Mark delivered events so they are not sent again."""
        if not event_ids:
            return
        await self._execute(
            outbox.update()
            .where(outbox.c.id.in_(list(event_ids)) & outbox.c.done_at.is_(None))
            .values(done_at=at)
        )
