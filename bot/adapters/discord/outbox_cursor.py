"""Where the notifier is in the outbox: the highest event id it read, and the ids it jumped.

Reading after a cursor makes the outbox read linear: events already in hand are never read
again, however many there are. On PostgreSQL a transaction can commit after a later one
took a higher id; the ids the cursor jumped over (`holes`) are looked for again for a few
seconds, and a rescan from the start (the notifier's slow poll) catches anything later.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Collection

from bot.core.events import StoredEvent
from bot.core.ports import UnitOfWorkFactory

PAGE = 500  # outbox rows read at a time
HOLE_SECONDS = 5.0  # how long an id skipped by the cursor may still commit (PostgreSQL)
HOLE_SPAN = 1000  # a wider jump in ids is not a hole but ids never used


class OutboxCursor:
    """Pages of pending events after the cursor, and once more behind it where asked."""

    def __init__(self, uow_factory: UnitOfWorkFactory) -> None:
        self._uow_factory = uow_factory
        self.position = 0  # the highest event id read
        self.holes: dict[int, float] = {}  # ids skipped by the cursor → when first missed
        self.behind = False  # the last page was full: more events wait to be read

    def reset(self) -> None:
        """Start from the beginning again (after a stop: nothing is in hand)."""
        self.position = 0
        self.holes.clear()
        self.behind = False

    async def _page(self, after: int) -> list[StoredEvent]:
        async with self._uow_factory().reading() as uow:
            return await uow.outbox.pending(PAGE, after=after)

    async def next_page(self) -> list[StoredEvent]:
        """The next page after the cursor, which moves past it."""
        before = self.position
        events = await self._page(before)
        self.behind = len(events) >= PAGE
        if events:
            self.position = events[-1].id
            if before:
                self._note_holes(before, events)
        return events

    async def behind_cursor(
        self, *, rescan: bool, held: Collection[int]
    ) -> AsyncIterator[list[StoredEvent]]:
        """Pages of pending events below the cursor that are not `held`: all of them for a
        rescan, else those in the holes still young enough to commit."""
        if rescan:
            after, upto = 0, self.position
        else:
            now = time.monotonic()
            for hole, since in list(self.holes.items()):
                if now - since > HOLE_SECONDS:
                    del self.holes[hole]
            if not self.holes:
                return
            after, upto = min(self.holes) - 1, max(self.holes)
        while True:
            events = [e for e in await self._page(after) if e.id <= upto]
            if not events:
                return
            after = events[-1].id
            for event in events:
                self.holes.pop(event.id, None)
            yield [e for e in events if e.id not in held]

    def _note_holes(self, before: int, events: list[StoredEvent]) -> None:
        """Ids the cursor jumped over may belong to transactions that commit later."""
        now = time.monotonic()
        expected = before + 1
        for event in events:
            if 0 < event.id - expected <= HOLE_SPAN:
                for missing in range(expected, event.id):
                    self.holes.setdefault(missing, now)
            expected = event.id + 1
