"""Keeping stored history bounded: delivered outbox events are deleted after a retention."""

from __future__ import annotations

from datetime import datetime, timedelta

from bot.core.services._base import Service

OUTBOX_RETENTION = timedelta(days=7)
"""How long a delivered event is kept: long enough to read what the relay did last week."""
PRUNE_BATCH = 1000  # rows per transaction, so a prune never holds the write lock for long
PRUNE_BATCHES = 100  # per run; a larger backlog (after an upgrade) goes over several runs


class HousekeepingService(Service):
    """Periodic clean-up, run by the scheduler; idempotent, any number of callers."""

    async def prune_outbox(self, now: datetime | None = None) -> int:
        """Delete events delivered more than `OUTBOX_RETENTION` ago, in bounded batches;
        returns how many went."""
        before = (now or self._clock.now()) - OUTBOX_RETENTION
        total = 0
        for _ in range(PRUNE_BATCHES):
            async with self._uow_factory() as uow:
                count = await uow.outbox.prune(before, PRUNE_BATCH)
                if count:  # nothing deleted: no commit, so nobody is woken for nothing
                    await uow.commit()
            total += count
            if count < PRUNE_BATCH:
                break
        return total
