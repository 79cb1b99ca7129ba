"""The single writer of the webhook path: batches requests into one transaction, then answers.

Request handlers `submit` their (webhook, signals) and wait. One task takes what is queued
(up to a batch limit, after a linger of a millisecond so simultaneous requests share a
commit), applies each request with `ingest_signals` inside ONE unit of work, commits once and
only then resolves every waiting request, so a 202 always means "committed": a crash after
it loses nothing, and the relay finds the alerts through the outbox rows of the same commit.

Failures: a storage outage fails the whole batch (each request answers 503, senders retry);
any other error rolls the batch back and retries its requests one by one, so one poisoned
request cannot fail the others.

Why one writer: SQLite has one write lock, and a transaction per request makes requests
queue on it with busy-wait back-off and collapse under load; one writer committing batches
keeps the lock time short and the throughput high. On PostgreSQL the same writer works
unchanged; several web processes each run their own writer, and the database's unique
constraints keep concurrent writers from storing an alert twice (the loser answers 503 and
the sender's retry then finds the stored alert).
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from bot.adapters.metrics import Metrics
from bot.core.alerts import AlertSignal
from bot.core.errors import ConflictError, StorageUnavailableError
from bot.core.ports import Clock, UnitOfWorkFactory
from bot.core.services import Ingested
from bot.core.services.alerts import ingest_batch
from bot.core.webhooks import Webhook

log = logging.getLogger(__name__)

MAX_BATCH_REQUESTS = 100
MAX_BATCH_SIGNALS = 1000  # a 500-alert Alertmanager group is one request of 500 signals
LINGER_SECONDS = 0.001
MAX_PENDING = 10_000  # beyond this, answer 503 at once rather than queue without bound
SUBMIT_TIMEOUT_SECONDS = 20.0  # answer 503 before a sender's own timeout (Alertmanager: 10s+)
STOP_TIMEOUT_SECONDS = 30.0

CommitListener = Callable[[Sequence[Ingested]], None]
"""Called after each commit with what it stored, e.g. to wake the Discord relay at once."""

StorageGuard = Callable[[], str | None]
"""Asked before each commit: None when storage is usable, else why not (the batch gets 503)."""


@dataclass
class _Pending:
    """One request waiting for the writer."""

    webhook: Webhook
    signals: Sequence[AlertSignal]
    future: asyncio.Future[list[Ingested]]


class IngestWriter:
    """Start it, `submit` from handlers, stop it (which finishes everything queued)."""

    def __init__(
        self,
        uow_factory: UnitOfWorkFactory,
        clock: Clock,
        *,
        metrics: Metrics | None = None,
        on_commit: CommitListener | None = None,
        max_batch_requests: int = MAX_BATCH_REQUESTS,
        max_batch_signals: int = MAX_BATCH_SIGNALS,
        linger: float = LINGER_SECONDS,
        max_pending: int = MAX_PENDING,
        timeout: float = SUBMIT_TIMEOUT_SECONDS,
        guard: StorageGuard | None = None,
    ) -> None:
        self._uow_factory = uow_factory
        self._clock = clock
        self._metrics = metrics
        self._on_commit = on_commit
        self._max_requests = max_batch_requests
        self._max_signals = max_batch_signals
        self._linger = linger
        self._max_pending = max_pending
        self._timeout = timeout
        self._guard = guard
        self._queue: asyncio.Queue[_Pending | None] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None
        self._closing = False

    @property
    def running(self) -> bool:
        """Accepting and writing requests."""
        return self._task is not None and not self._task.done() and not self._closing

    @property
    def depth(self) -> int:
        """Requests queued and not yet taken into a batch."""
        return self._queue.qsize()

    async def problem(self) -> str | None:
        """Readiness: None while the writer runs, else why not."""
        return None if self.running else "the webhook writer is not running"

    async def start(self) -> None:
        """Begin taking requests."""
        if self._task is None:
            self._closing = False
            self._task = asyncio.create_task(self._run(), name="opsroom-ingest-writer")

    async def stop(self, grace: float = STOP_TIMEOUT_SECONDS) -> None:
        """Refuse new requests, write every queued one, then end (cancelling after `grace` s)."""
        task, self._closing = self._task, True
        if task is None:
            return
        self._queue.put_nowait(None)
        try:
            await asyncio.wait_for(asyncio.shield(task), grace)
        except TimeoutError:
            log.error("webhook writer did not finish within %.0fs; cancelling it", grace)
            task.cancel()
        finally:
            self._task = None
            self._fail_queued(StorageUnavailableError("the server is shutting down; try again"))

    async def submit(self, webhook: Webhook, signals: Sequence[AlertSignal]) -> list[Ingested]:
        """Store one request's signals durably; returns once they are committed."""
        if not self.running:
            raise StorageUnavailableError("the webhook writer is not running; try again")
        if self._queue.qsize() >= self._max_pending:
            raise StorageUnavailableError("too many webhook requests are waiting; try again")
        future: asyncio.Future[list[Ingested]] = asyncio.get_running_loop().create_future()
        # Mark failures as seen even when the waiting request has gone (timeout, disconnect).
        future.add_done_callback(lambda f: f.cancelled() or f.exception())
        self._queue.put_nowait(_Pending(webhook, tuple(signals), future))
        self._gauge()
        try:
            return await asyncio.wait_for(asyncio.shield(future), self._timeout)
        except TimeoutError:
            # Still queued: it may commit later, and the sender's retry is then a repeat.
            raise StorageUnavailableError(
                "the database did not answer in time; try again"
            ) from None

    async def _run(self) -> None:
        """Take batches until the stop marker; never let one failure end the loop."""
        stopping = False
        while not stopping:
            first = await self._queue.get()
            if first is None:
                break
            batch = [first]
            stopping = self._fill(batch)
            if not stopping and self._linger > 0 and self._has_room(batch):
                await asyncio.sleep(self._linger)
                stopping = self._fill(batch)
            self._gauge()
            try:
                await self._write(batch)
            except Exception as exc:  # a bug here must not leave requests waiting forever
                log.exception("webhook writer failed on a batch")
                for pending in batch:
                    _fail(pending.future, exc)

    def _has_room(self, batch: list[_Pending]) -> bool:
        return (
            len(batch) < self._max_requests
            and sum(len(p.signals) for p in batch) < self._max_signals
        )

    def _fill(self, batch: list[_Pending]) -> bool:
        """Add what is queued while there is room; True when the stop marker was taken."""
        while self._has_room(batch) and not self._queue.empty():
            pending = self._queue.get_nowait()
            if pending is None:
                return True
            batch.append(pending)
        return False

    async def _write(self, batch: list[_Pending]) -> None:
        """Commit the batch at once; on a non-storage failure, each request on its own."""
        try:
            results = await self._commit(batch)
        except StorageUnavailableError as exc:
            log.warning("webhook batch of %d not stored: %s", len(batch), exc)
            for pending in batch:
                _fail(pending.future, exc)
            return
        except Exception as exc:
            if len(batch) == 1:
                _log_failure(exc)
                _fail(batch[0].future, exc)
                return
            log.warning(
                "webhook batch of %d failed; retrying one by one", len(batch), exc_info=True
            )
            for pending in batch:
                try:
                    results = await self._commit([pending])
                except Exception as exc:
                    _log_failure(exc)
                    _fail(pending.future, exc)
                else:
                    self._done([pending], results)
            return
        self._done(batch, results)

    async def _commit(self, batch: list[_Pending]) -> list[list[Ingested]]:
        """One unit of work for the whole batch, one commit."""
        if self._guard is not None and (reason := self._guard()) is not None:
            raise StorageUnavailableError(reason)
        async with self._uow_factory() as uow:
            results = await ingest_batch(
                uow, [(p.webhook, p.signals) for p in batch], self._clock.now()
            )
            await uow.commit()
        return results

    def _done(self, batch: list[_Pending], results: list[list[Ingested]]) -> None:
        """Answer the waiting requests, count what was stored, tell the listener."""
        stored: list[Ingested] = []
        for pending, result in zip(batch, results, strict=True):
            if not pending.future.done():
                pending.future.set_result(result)
            stored.extend(result)
        if self._metrics is not None:
            self._metrics.ingest_batch(len(batch))
            counts = Counter(
                (p.webhook.source.value, r.outcome.value)
                for p, res in zip(batch, results, strict=True)
                for r in res
            )
            for (source, outcome), count in counts.items():
                self._metrics.alert_received(source, outcome, count)
        _log_batch(batch, results)
        if self._on_commit is not None and stored:
            try:
                self._on_commit(stored)
            except Exception:
                log.exception("the commit listener failed")

    def _gauge(self) -> None:
        if self._metrics is not None:
            self._metrics.set_ingest_queue_depth(self._queue.qsize())

    def _fail_queued(self, exc: Exception) -> None:
        """Answer whatever is still queued (only after a cancelled stop)."""
        while not self._queue.empty():
            pending = self._queue.get_nowait()
            if pending is not None:
                _fail(pending.future, exc)


def _fail(future: asyncio.Future[list[Ingested]], exc: BaseException) -> None:
    if not future.done():
        future.set_exception(exc)


def _log_failure(exc: Exception) -> None:
    """Storage trouble is expected and logged briefly; anything else with its traceback."""
    if isinstance(exc, StorageUnavailableError | ConflictError):
        # An outage, or another web process stored the same alert first: the sender's retry
        # (it gets a 503) will agree. Expected, so one line, no traceback.
        log.warning("webhook request not stored: %s", exc)
    else:
        log.error("webhook request could not be stored", exc_info=exc)


def _log_batch(batch: list[_Pending], results: list[list[Ingested]]) -> None:
    """One INFO line per guild and source of a stored batch: what it did to which alerts."""
    outcomes: dict[tuple[int, str], Counter[str]] = {}
    for pending, result in zip(batch, results, strict=True):
        key = (pending.webhook.guild_id, pending.webhook.source.value)
        outcomes.setdefault(key, Counter()).update(r.outcome.value for r in result)
    for (guild, source), counted in outcomes.items():
        if not counted:
            continue
        said = ", ".join(f"{n} {outcome}" for outcome, n in sorted(counted.items()))
        log.info("stored %s alerts: %s", source, said, extra={"guild": guild})
