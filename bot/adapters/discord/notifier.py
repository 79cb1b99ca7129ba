"""Deliver the outbox to Discord: every change the core recorded, in order, at least once.

Woken by `wake()` after each commit, with a slow poll as a safety net (a missed wake-up, or
events written by another process). An event is marked done only after its handler
succeeded or its target is gone; transient failures are retried with backoff for as long
as it takes, so nothing is lost. Posts carry a nonce made from the event id: with
`enforce_nonce` (discord.py sends it with every nonce) Discord returns the first message
instead of posting again when a crash came between posting and `mark_done`.

A consumer that coalesces work across events (the alert relay: digests in a storm) registers
`deferred`: its handler takes the event over and returns at once, and the event stays pending
(and is not handed out again) until the consumer calls `complete()` — so the notifier never
waits on its pacing, and a crash still leaves the event for the next start.

Fair and linear: the outbox is read in pages after a cursor (the highest id read), so what
is already in hand is never read again; each guild's other events go into that guild's own
line, delivered in order by its own worker, so one guild's backlog never holds up another
guild's next event. Delivered events are marked done in batches (one write per batch or when
the line runs dry), not one write transaction each.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import Awaitable, Callable, Collection
from typing import TYPE_CHECKING

import aiohttp
import discord

from bot.adapters.discord.outbox_cursor import OutboxCursor
from bot.adapters.discord.room_events import NONE, RoomEvents, nonce
from bot.adapters.discord.rooms import IncidentRooms
from bot.core.errors import StorageUnavailableError
from bot.core.events import StoredEvent, Topic
from bot.core.ports import Clock, UnitOfWorkFactory

if TYPE_CHECKING:
    from bot.adapters.discord.client import OpsroomBot

log = logging.getLogger(__name__)

__all__ = ["NONE", "DiscordNotifier", "classify", "nonce"]

Handler = Callable[[StoredEvent], Awaitable[None]]
MARK_EVERY = 50  # delivered events marked done in one write
MARK_IDS = 900  # ids per mark_done statement (SQLite's bound-parameter limit)
STOP_GRACE_SECONDS = 5.0
TRANSIENT = (
    discord.RateLimited,
    discord.GatewayNotFound,
    aiohttp.ClientError,
    TimeoutError,
    OSError,
    StorageUnavailableError,
)


def classify(error: Exception) -> str:
    """`transient` (retry for as long as it takes), `gone` or `rejected` (skip), or `bug`."""
    if isinstance(error, discord.HTTPException):
        if error.status >= 500 or error.status == 429:
            return "transient"
        if isinstance(error, discord.NotFound | discord.Forbidden):
            return "gone"
        return "rejected"
    if isinstance(error, TRANSIENT):
        return "transient"
    return "bug"


class DiscordNotifier:
    """Drains the outbox through a handler per topic; other engineers `register` theirs."""

    def __init__(
        self,
        bot: OpsroomBot,
        uow_factory: UnitOfWorkFactory,
        *,
        clock: Clock,
        poll_interval: float = 30.0,
        retry_base: float = 1.0,
        retry_max: float = 60.0,
        max_attempts: int = 5,
    ) -> None:
        self.bot = bot
        self.rooms = IncidentRooms(bot)
        self._uow_factory = uow_factory
        self._clock = clock
        self.poll_interval = poll_interval
        self.retry_base = retry_base
        self.retry_max = retry_max
        self.max_attempts = max_attempts  # for unexpected errors (bugs) only
        self._handlers: dict[Topic, Handler] = {}
        self._deferred: set[Topic] = set()
        self._claimed: set[int] = set()  # deferred events handed out and not yet completed
        self._held: set[int] = set()  # every event read and not yet done (claimed or queued)
        self._lines: dict[int, deque[StoredEvent]] = {}  # guild id → its events, in order
        self._workers: dict[int, asyncio.Task[None]] = {}
        self.cursor = OutboxCursor(uow_factory)
        self._task: asyncio.Task[None] | None = None
        self._sleeper: asyncio.Future[None] | None = None
        self._dirty = True
        self._drain_lock = asyncio.Lock()
        self._stopping = False  # stop() asked: finish the event in hand, take no new one
        self._in_flight = 0  # events between their handler and being marked done
        RoomEvents(self.rooms, uow_factory).register(self)

    def register(self, topic: Topic, handler: Handler, *, deferred: bool = False) -> None:
        """Deliver `topic` with `handler` (replacing any earlier one); `deferred`: the handler
        takes events over, and they stay pending until `complete()` is called with their ids."""
        self._handlers[topic] = handler
        if deferred:
            self._deferred.add(topic)
        else:
            self._deferred.discard(topic)

    async def complete(self, event_ids: Collection[int]) -> None:
        """Mark deferred events delivered (their consumer finished them)."""
        if not event_ids:
            return
        await self._mark(event_ids)
        self.forget(event_ids)

    def forget(self, event_ids: Collection[int]) -> None:
        """Deferred events their consumer marked done itself (with its own write)."""
        self._claimed.difference_update(event_ids)
        self._held.difference_update(event_ids)

    async def _mark(self, event_ids: Collection[int]) -> None:
        """Mark events done, in statements of bounded size, in one transaction."""
        ids = sorted(event_ids)
        async with self._uow_factory() as uow:
            for start in range(0, len(ids), MARK_IDS):
                await uow.outbox.mark_done(ids[start : start + MARK_IDS], self._clock.now())
            await uow.commit()
        self._held.difference_update(ids)

    def wake(self) -> None:
        """Something was committed: drain now rather than at the next poll."""
        self._dirty = True
        if self._sleeper is not None and not self._sleeper.done():
            self._sleeper.cancel()

    def start(self) -> None:
        """Run the relay in the background until `stop()`."""
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._run(), name="opsroom-outbox")

    async def stop(self, grace: float = STOP_GRACE_SECONDS) -> None:
        """Stop relaying; what was not delivered stays pending for the next start.

        An event already handed to Discord is given `grace` seconds to be marked done:
        cancelling between the post and `mark_done` would post it again after a restart,
        and the nonce that prevents a duplicate only lives a few minutes at Discord.
        """
        task, self._task = self._task, None
        workers, self._workers = list(self._workers.values()), {}
        self._stopping = True
        if self._in_flight and workers:
            await asyncio.wait(workers, timeout=grace)  # each stops after its event in hand
        for running in [*workers, *([task] if task is not None else [])]:
            running.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await running
        self._stopping = False
        # Their consumers stop too; the next start reads and hands them out again.
        self._claimed.clear()
        self._held.clear()
        self._lines.clear()
        self.cursor.reset()

    async def _run(self) -> None:
        await self.bot.wait_until_ready()
        delay = self.retry_base
        rescan = False
        while not self._stopping:
            self._dirty = False
            try:
                await self.drain(rescan=rescan)
                delay = self.retry_base
            except Exception as exc:
                if isinstance(exc, StorageUnavailableError):  # an outage: one line, not a trace
                    log.warning("reading the outbox failed (%s); retrying in %.0f s", exc, delay)
                else:
                    log.exception("reading the outbox failed; retrying in %.0f s", delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, self.retry_max)
                continue
            rescan = False
            if self._dirty:
                continue
            # A plain sleep in its own task: wake() cancels it, and test harnesses that
            # settle the event loop recognise a sleeping task as idle.
            self._sleeper = asyncio.ensure_future(asyncio.sleep(self.poll_interval))
            try:
                await asyncio.wait({self._sleeper})
                # Nobody rang: the slow poll also looks behind the cursor once, for events
                # another process committed out of id order long after their ids were taken.
                rescan = not self._sleeper.cancelled()
            finally:
                self._sleeper.cancel()
                self._sleeper = None

    async def drain(self, *, rescan: bool = False) -> int:
        """Hand out every pending event not in hand yet; returns how many were read.

        Deferred events go to their consumer at once; the others join their guild's line.
        """
        handed = 0
        async with self._drain_lock:
            async for events in self.cursor.behind_cursor(rescan=rescan, held=self._held):
                if self._stopping:
                    return handed
                handed += await self._hand_out(events)
            while not self._stopping:
                events = await self.cursor.next_page()
                if not events:
                    return handed
                handed += await self._hand_out(events)
        return handed

    @property
    def behind(self) -> bool:
        """Whether the last page read was full: more events wait to be handed out."""
        return self.cursor.behind

    async def _hand_out(self, events: list[StoredEvent]) -> int:
        """Deferred events to their consumer, the others to their guild's line."""
        for stored in events:
            self._held.add(stored.id)
            if stored.event.topic in self._deferred:
                self._claimed.add(stored.id)  # before the handler: it may finish at once
                if not await self._deliver(stored):
                    self._claimed.discard(stored.id)
                    await self._mark([stored.id])
                continue
            guild_id = stored.event.guild_id
            self._lines.setdefault(guild_id, deque()).append(stored)
            worker = self._workers.get(guild_id)
            if worker is None or worker.done():
                self._workers[guild_id] = asyncio.create_task(
                    self._serve(guild_id), name=f"opsroom-outbox-{guild_id}"
                )
        return len(events)

    async def _serve(self, guild_id: int) -> None:
        """Deliver one guild's line in order, marking done in batches, until it runs dry."""
        line = self._lines.setdefault(guild_id, deque())
        done: list[int] = []
        while line and not self._stopping:
            stored = line.popleft()
            self._in_flight += 1
            try:
                await self._deliver(stored)
                done.append(stored.id)
                if len(done) >= MARK_EVERY or not line or self._stopping:
                    await self._mark_until_done(done)
                    done = []
            finally:
                self._in_flight -= 1
        if self._lines.get(guild_id) is line and not line:
            del self._lines[guild_id]

    async def _mark_until_done(self, event_ids: list[int]) -> None:
        """Mark delivered events done, retrying through a storage outage (unless stopping:
        then they stay pending and are delivered again, with the same nonces)."""
        delay = self.retry_base
        while True:
            try:
                await self._mark(event_ids)
                return
            except StorageUnavailableError as exc:
                if self._stopping:
                    raise
                log.warning("marking events done failed (%s); retrying in %.0f s", exc, delay)
            await asyncio.sleep(delay)
            delay = min(delay * 2, self.retry_max)

    async def _deliver(self, stored: StoredEvent) -> bool:
        """Run the topic's handler until it succeeds (True), its target is gone, or it is a
        bug (False: nothing more will come of the event)."""
        handler = self._handlers.get(stored.event.topic)
        if handler is None:
            log.debug("no handler for %s event %s; marking it done", stored.event.topic, stored.id)
            return False
        delay, attempt = self.retry_base, 0
        while True:
            attempt += 1
            try:
                await handler(stored)
                return True
            except Exception as exc:
                verdict = classify(exc)
                what = (
                    f"event {stored.id} ({stored.event.topic}, subject {stored.event.subject_id})"
                )
                if verdict == "gone":
                    log.warning("%s skipped, its target is gone or forbidden: %s", what, exc)
                    return False
                if verdict == "rejected":
                    log.error("%s skipped, Discord rejected it", what, exc_info=True)
                    return False
                if verdict == "transient":
                    log.warning("%s failed (%s); retry %d in %.1f s", what, exc, attempt, delay)
                elif attempt >= self.max_attempts:
                    log.error("%s gave up after %d tries", what, attempt, exc_info=True)
                    return False
                else:
                    log.error("%s failed; retrying", what, exc_info=True)
            if self._stopping:  # leave it pending for the next start rather than wait here
                raise asyncio.CancelledError
            await asyncio.sleep(delay)
            delay = min(delay * 2, self.retry_max)
