"""The clock's door: APScheduler 3 (`AsyncIOScheduler`, in-memory job store) over stored timers.

Nothing lives only in the scheduler. The database holds every reminder and every alert's
next escalation; the scheduler is a cache of "when to look next", rebuilt from storage at
start and re-planned after commits. Each job only runs an idempotent sweep of the core
(`services.reminders.fire_due`, `services.alerts.escalate_due`), which handles whatever is
due at that moment, so a job that runs twice, late, or for a timer that moved does no harm,
and a reminder missed while the process was down fires once at start (its job is overdue:
`misfire_grace_time=None`, `coalesce=True`).

Keeping the plan current:
- `timers_changed(keys)` is called after each commit that touched timers (the unit of work
  notes which reminders and alerts it wrote): a debounced task re-reads just those timers
  and adds, moves or drops their date jobs (one per timer, id = the timer's key), so the
  work per commit follows what it changed, not how many timers are pending;
- `wake()` re-plans everything (at start, and when something unnamed changed);
- a safety sweep every 15 s runs every sweep and re-plans everything, for what other
  processes (`opsroom run --role web` ingesting alerts) committed without telling this one.
A full plan holds the soonest `limit` timers of each sweep; past that horizon a changed
timer waits for a later full plan, as it would have anyway.
Periodic housekeeping (pruning delivered outbox events) runs as interval jobs beside them.

The clock is injected: a job's run time is "real now + (due − clock.now())", so with the
system clock it is the due time itself, and a test's hand-moved clock makes due timers run
at once without real waiting.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
from collections.abc import Awaitable, Callable, Collection, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from apscheduler.jobstores.base import JobLookupError
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.date import DateTrigger
from apscheduler.triggers.interval import IntervalTrigger

from bot.core.errors import StorageUnavailableError
from bot.core.ports import Clock
from bot.core.reminders import Sweep, Timer, parse_timer_key
from bot.core.services import Services
from bot.core.services.reminders import TIMERS

log = logging.getLogger(__name__)

SweepFunction = Callable[[], Awaitable[Any]]
TimerSource = Callable[[], Awaitable[Sequence[Timer]]]
ChangedTimerSource = Callable[[Collection[str]], Awaitable[Sequence[Timer]]]

SAFETY_JOB = "opsroom:safety-sweep"
SAFETY_INTERVAL = 15.0
DEBOUNCE = 1.0  # seconds between a commit and the re-plan (commits in between share one)
TOLERANCE = 0.5  # seconds a planned job may differ from its timer before it is moved
SHUTDOWN_GRACE = 10.0
PRUNE_JOB = "opsroom:prune-outbox"
PRUNE_INTERVAL = 600.0
CHANGED_CHUNK = 500  # timer keys re-read per query after a commit


class OpsroomScheduler:
    """Date jobs for stored timers, a periodic safety sweep, and re-planning after commits."""

    def __init__(
        self,
        timers: TimerSource,
        sweeps: Mapping[Sweep, SweepFunction],
        *,
        clock: Clock,
        among: ChangedTimerSource | None = None,
        periodic: Mapping[str, tuple[float, SweepFunction]] | None = None,
        limit: int = TIMERS,
        safety_interval: float = SAFETY_INTERVAL,
        debounce: float = DEBOUNCE,
    ) -> None:
        self._timers = timers
        self._among = among
        self._sweeps = dict(sweeps)
        self._periodic = dict(periodic or {})
        self._fixed = {SAFETY_JOB, *self._periodic}  # jobs that are not timers
        self._limit = limit
        self._horizon: dict[Sweep, datetime | None] = {}
        self._changed: set[str] = set()
        self._clock = clock
        self.safety_interval = safety_interval
        self.debounce = debounce
        self._scheduler = AsyncIOScheduler(
            timezone=UTC,
            job_defaults={"misfire_grace_time": None, "coalesce": True, "max_instances": 1},
        )
        self._running = False
        self._dirty = False
        self._replanner: asyncio.Task[None] | None = None
        self._replanning = False  # the re-planner is reading the database (not debouncing)
        self._replan_lock = asyncio.Lock()
        self._locks = {sweep: asyncio.Lock() for sweep in self._sweeps}
        self._queued: set[Sweep] = set()
        self._inflight: set[asyncio.Task[Any]] = set()
        self.sweeps_run = 0  # sweeps actually started (coalesced requests not counted)
        self.full_replans = 0  # full re-plans done (start, wake, safety sweep)
        # APScheduler logs every job run at INFO; every 15 s that is noise, not news.
        quiet = logging.getLogger("apscheduler")
        if quiet.level == logging.NOTSET:
            quiet.setLevel(logging.WARNING)

    @classmethod
    def for_services(cls, services: Services, *, clock: Clock, **options: Any) -> OpsroomScheduler:
        """The scheduler `opsroom run` uses: reminders, escalations, heartbeats, certificates."""
        limit = int(options.pop("limit", TIMERS))
        return cls(
            functools.partial(services.timers.pending, limit),
            {
                Sweep.REMINDERS: services.reminders.fire_due,
                Sweep.ESCALATIONS: services.alerts.escalate_due,
                Sweep.ONCALL: services.oncall.sweep,
                Sweep.HEARTBEATS: services.heartbeats.fire_due,
                Sweep.CERTIFICATES: services.certs.check_due,
            },
            clock=clock,
            among=services.timers.among,
            periodic={PRUNE_JOB: (PRUNE_INTERVAL, services.housekeeping.prune_outbox)},
            limit=limit,
            **options,
        )

    @property
    def running(self) -> bool:
        """Started and not shut down."""
        return self._running

    async def start(self) -> None:
        """Start the scheduler and rebuild its jobs from storage (overdue ones run at once)."""
        self._scheduler.start()
        self._scheduler.add_job(
            self._safety_sweep,
            IntervalTrigger(seconds=self.safety_interval, timezone=UTC),
            id=SAFETY_JOB,
            name="safety sweep",
            replace_existing=True,
        )
        for job_id, (seconds, work) in self._periodic.items():
            self._scheduler.add_job(
                _housekeeping,
                IntervalTrigger(seconds=seconds, timezone=UTC),
                args=[job_id, work],
                id=job_id,
                name=job_id,
                replace_existing=True,
            )
        self._running = True
        try:
            count = await self.replan()
        except Exception as exc:
            log.warning(
                "could not read the timers at start (%s); the safety sweep retries in %.0f s",
                exc,
                self.safety_interval,
                exc_info=_trace(exc),
            )
        else:
            log.info("scheduler started with %d timer(s) from the database", count)

    async def shutdown(self) -> None:
        """Stop planning and running jobs; wait for sweeps in flight (they commit or roll back)."""
        if not self._running:
            return
        self._running = False
        self._scheduler.pause()  # no new job runs from here on
        if self._replanner is not None and not self._replanning:
            # Waiting out its debounce: nothing to lose. One that is reading is let finish
            # (it stops after that read, as `_running` is off): a task cancelled while it
            # holds a connection makes the pool log a traceback for the interrupted reset.
            self._replanner.cancel()
        inflight = {t for t in self._inflight if not t.done()}
        if self._replanner is not None:
            inflight.add(self._replanner)
        if inflight:
            _, late = await asyncio.wait(inflight, timeout=SHUTDOWN_GRACE)
            for task in late:
                task.cancel()
            await asyncio.gather(*inflight, return_exceptions=True)
        self._scheduler.shutdown(wait=False)
        await asyncio.sleep(0)  # AsyncIOScheduler shuts down on the loop's next turn
        log.info("scheduler stopped")

    def wake(self) -> None:
        """Something unnamed changed: re-plan everything soon (cheap, never blocks)."""
        if not self._running:
            return
        self._dirty = True
        self._kick()

    def timers_changed(self, keys: Collection[str]) -> None:
        """A commit touched these timers: re-plan just them soon (cheap, never blocks)."""
        if not self._running:
            return
        self._changed.update(keys)
        self._kick()

    def _kick(self) -> None:
        """Start the debounced re-planner unless it is already waiting."""
        if self._replanner is None or self._replanner.done():
            try:
                loop = asyncio.get_running_loop()
            except RuntimeError:  # a commit outside the loop: the safety sweep catches up
                return
            self._replanner = loop.create_task(self._replan_soon(), name="opsroom-replan")

    async def _replan_soon(self) -> None:
        while (self._dirty or self._changed) and self._running:
            await asyncio.sleep(self.debounce)
            full, self._dirty = self._dirty, False
            keys, self._changed = self._changed, set()
            self._replanning = True
            try:
                if full or self._among is None:
                    await self.replan()
                else:
                    await self.replan_changed(keys)
            except Exception as exc:
                log.warning(
                    "re-planning timers failed (%s); the safety sweep retries in %.0f s",
                    exc,
                    self.safety_interval,
                    exc_info=_trace(exc),
                )
            finally:
                self._replanning = False

    def run_time(self, due_at: datetime) -> datetime:
        """When, in real time, to run a job for a timer due at `due_at` by the injected clock."""
        return datetime.now(UTC) + (due_at - self._clock.now())

    async def replan(self) -> int:
        """Make the date jobs match the stored timers: add new, move changed, drop gone ones.

        Returns how many timers are planned.
        """
        async with self._replan_lock:
            timers = await self._timers()
            self.full_replans += 1
            wanted = {timer.key for timer in timers}
            for job in self._scheduler.get_jobs():
                if job.id not in self._fixed and job.id not in wanted:
                    self._remove(job.id)
            for timer in timers:
                self._plan(timer)
            for sweep in self._sweeps:
                due = [timer.due_at for timer in timers if timer.sweep is sweep]
                self._horizon[sweep] = max(due) if len(due) >= self._limit else None
            return len(wanted)

    async def replan_changed(self, keys: Collection[str]) -> int:
        """Re-read only these timers: plan the pending ones, drop the gone ones' jobs.

        Returns how many of them are planned.
        """
        assert self._among is not None
        planned = 0
        async with self._replan_lock:
            every = sorted(key for key in keys if key.endswith(":*"))
            if every:  # whole kinds: plan what is stored, drop that kind's other jobs
                found = {timer.key: timer for timer in await self._among(every)}
                kinds = {parsed[0].value for key in every if (parsed := parse_timer_key(key))}
                for job in self._scheduler.get_jobs():
                    kind = job.args[0] if job.args else None
                    if kind in kinds and job.id not in found:
                        self._remove(job.id)
                for timer in found.values():
                    self._plan(timer)
                planned += len(found)
            ordered = sorted(key for key in keys if not key.endswith(":*"))
            for start in range(0, len(ordered), CHANGED_CHUNK):
                chunk = ordered[start : start + CHANGED_CHUNK]
                found = {timer.key: timer for timer in await self._among(chunk)}
                for key in chunk:
                    timer = found.get(key)
                    horizon = self._horizon.get(timer.sweep) if timer else None
                    if timer is None or (horizon is not None and timer.due_at > horizon):
                        self._remove(key)
                    else:
                        self._plan(timer)
                        planned += 1
        return planned

    def _plan(self, timer: Timer) -> None:
        """Add or move the timer's date job (left alone when it is already about right)."""
        run_at = self.run_time(timer.due_at)
        job = self._scheduler.get_job(timer.key)
        planned = job.next_run_time if job is not None else None
        if planned is not None and abs((planned - run_at).total_seconds()) < TOLERANCE:
            return
        self._scheduler.add_job(
            self._job,
            DateTrigger(run_date=run_at, timezone=UTC),
            args=[timer.sweep.value],
            id=timer.key,
            name=f"{timer.sweep.value} sweep for {timer.key}",
            replace_existing=True,
        )

    def _remove(self, job_id: str) -> None:
        if self._scheduler.get_job(job_id) is None:
            return
        with contextlib.suppress(JobLookupError):  # it ran (and was removed) meanwhile
            self._scheduler.remove_job(job_id)

    def planned(self) -> dict[str, datetime]:
        """Timer key → the real time its job will run (the safety sweep not included)."""
        return {
            job.id: job.next_run_time
            for job in self._scheduler.get_jobs()
            if job.id not in self._fixed and job.next_run_time is not None
        }

    async def _job(self, sweep: str) -> None:
        """A date job: run the timer's sweep."""
        await self.run_sweep(Sweep(sweep))

    async def _safety_sweep(self) -> None:
        """The periodic job."""
        await self.tick()

    async def tick(self) -> None:
        """Run every sweep, then re-plan: the safety net for whatever no commit announced."""
        task = asyncio.current_task()
        if task is not None:
            self._inflight.add(task)
        try:
            for sweep in self._sweeps:
                await self.run_sweep(sweep)
            try:
                await self.replan()
            except Exception as exc:
                log.warning("re-planning timers failed (%s)", exc, exc_info=_trace(exc))
        finally:
            if task is not None:
                self._inflight.discard(task)

    async def run_sweep(self, sweep: Sweep) -> None:
        """Run one sweep; requests made while one waits to start are served by that one.

        Sweeps of a kind run one at a time. A request arriving while a sweep of its kind is
        queued but not started returns at once: the queued sweep starts later, so it sees
        everything due by then (many jobs due together cost one or two sweeps, not many).
        """
        if sweep in self._queued:
            return
        self._queued.add(sweep)
        task = asyncio.current_task()
        if task is not None:
            self._inflight.add(task)
        try:
            async with self._locks[sweep]:
                self._queued.discard(sweep)
                await self._sweep(sweep)
        finally:
            self._queued.discard(sweep)
            if task is not None:
                self._inflight.discard(task)

    async def _sweep(self, sweep: Sweep) -> None:
        self.sweeps_run += 1
        try:
            handled = await self._sweeps[sweep]()
        except StorageUnavailableError as exc:
            log.warning("%s sweep: %s; the next sweep retries", sweep.value, exc)
        except Exception:
            log.exception("%s sweep failed; the next sweep retries", sweep.value)
        else:
            if handled:
                log.info("%s sweep handled %d due timer(s)", sweep.value, len(handled))


async def _housekeeping(job_id: str, work: SweepFunction) -> None:
    """A periodic clean-up job: its failure is logged, and the next run tries again."""
    try:
        await work()
    except StorageUnavailableError as exc:
        log.warning("%s: %s; the next run retries", job_id, exc)
    except Exception:
        log.exception("%s failed; the next run retries", job_id)


def _trace(exc: BaseException) -> BaseException | bool:
    """The traceback to log: none for a database outage (its message says it all)."""
    return False if isinstance(exc, StorageUnavailableError) else exc
