"""The page sender: takes due pages from storage and sends each off the event loop.

Each page is sent in its own task, in a worker thread (Apprise blocks), within
`SEND_TIMEOUT`; a slow or failing pager therefore never delays Discord pings (another part
of the process) or another pager. Pages are leased, not deleted, while they are sent: a crash
mid-send leaves the page to be sent again after the lease (at least once, never lost).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from datetime import timedelta

from bot.adapters.paging.apprise_urls import send_page
from bot.core.errors import StorageUnavailableError, ValidationError
from bot.core.paging import SEND_TIMEOUT
from bot.core.ports import Clock
from bot.core.services import PagingService

log = logging.getLogger(__name__)

STOP_GRACE = 5.0  # seconds stopping waits for a read in progress (an outage must not hold it)
POLL = 15.0  # seconds: the net under wake-ups (e.g. a `--role web` process queued nothing)
LEASE = timedelta(seconds=SEND_TIMEOUT + 30)

Transport = Callable[[str, str, str, str, str], None]
"""(url, title, body, masked url, acknowledge link) → None, or raises with a reason; blocking."""


class PagerSender:
    """Runs beside the scheduler in the process that talks to Discord."""

    def __init__(
        self,
        paging: PagingService,
        clock: Clock,
        *,
        transport: Transport = send_page,
        timeout: float = SEND_TIMEOUT,
        poll: float = POLL,
    ) -> None:
        self._paging = paging
        self._clock = clock
        self._transport = transport
        self._timeout = timeout
        self._poll = poll
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._stopping = False
        self._sending: set[asyncio.Task[None]] = set()
        self.sent = 0  # pages delivered (for tests and logs)

    def wake(self) -> None:
        """Something was committed (a CommitSignal listener): look for due pages now."""
        self._wake.set()

    async def start(self) -> None:
        self._stopping = False
        self._task = asyncio.create_task(self._run(), name="opsroom-pager-sender")

    async def stop(self) -> None:
        """Stop claiming; sends in flight get their timeout to finish (else the lease ends).

        The loop is asked to stop and let finish the read it may be in: a task cancelled
        while it holds a database connection makes the pool log a traceback."""
        task, self._task = self._task, None
        if task is not None:
            self._stopping = True
            self._wake.set()
            _, late = await asyncio.wait({task}, timeout=STOP_GRACE)
            for stuck in late:
                stuck.cancel()
            await asyncio.gather(task, return_exceptions=True)
        if self._sending:
            await asyncio.wait(self._sending, timeout=self._timeout)

    async def _run(self) -> None:
        while not self._stopping:
            self._wake.clear()
            try:
                await self.send_due()
                if self._stopping:
                    return
                wait = await self._until_next()
            except StorageUnavailableError as exc:
                log.warning("pager sender: %s; retrying in %.0f s", exc, self._poll)
                wait = self._poll
            except Exception:
                log.exception("pager sender failed; retrying in %.0f s", self._poll)
                wait = self._poll
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=wait)

    async def _until_next(self) -> float:
        due = await self._paging.next_due()
        if due is None:
            return self._poll
        return min(max((due - self._clock.now()).total_seconds(), 0.05), self._poll)

    async def send_due(self) -> int:
        """Claim every due page and start sending each; returns how many were started."""
        started = 0
        while True:
            pages = await self._paging.claim_due(LEASE)
            for page in pages:
                assert page.id is not None
                task = asyncio.create_task(self._send(page.id), name=f"opsroom-page-{page.id}")
                self._sending.add(task)
                task.add_done_callback(self._sending.discard)
            started += len(pages)
            if len(pages) < 20:
                return started

    async def drain(self) -> None:
        """Wait for the sends in flight (tests)."""
        while self._sending:
            await asyncio.gather(*self._sending, return_exceptions=True)

    async def _send(self, page_id: int) -> None:
        """Send one page; a storage failure leaves it leased, to be sent after the lease."""
        try:
            await self._send_one(page_id)
        except StorageUnavailableError as exc:
            log.warning("page %s: %s; it is sent again after its lease", page_id, exc)
        except Exception:
            log.exception("page %s failed unexpectedly; it is sent again after its lease", page_id)

    async def _send_one(self, page_id: int) -> None:
        try:
            outgoing = await self._paging.prepare(page_id)
        except ValidationError as exc:  # e.g. the URL cannot be decrypted any more
            await self._paging.failed(page_id, str(exc))
            return
        if outgoing is None:
            return
        masked = outgoing.pager.url_masked
        try:
            await asyncio.wait_for(
                asyncio.to_thread(
                    self._transport,
                    outgoing.url,
                    outgoing.title,
                    outgoing.body,
                    masked,
                    outgoing.ack_url,
                ),
                timeout=self._timeout,
            )
        except TimeoutError:
            error = f"no answer within {self._timeout:.0f} s"
        except Exception as exc:
            error = str(exc) or type(exc).__name__
        else:
            await self._paging.sent(page_id)
            self.sent += 1
            log.info("page %s sent to %s", page_id, outgoing.pager.label)
            return
        log.warning("page %s to %s (%s) failed: %s", page_id, outgoing.pager.label, masked, error)
        await self._paging.failed(page_id, error)
