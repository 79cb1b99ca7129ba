"""Reminder use cases: the rules that start and end reminders, and the clock's sweep.

The `plan_…`/`…_changed` helpers run inside the unit of work of the change that starts or
ends a reminder's reason (declare, update, severity, status, action items), so a reminder
is never out of step with what it is about. `ReminderService.fire_due` is the clock's door:
idempotent, any number of callers, each reminder fires at most once.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import replace
from datetime import datetime

from bot.core.events import Event, Topic
from bot.core.model import ActionItem, GuildConfig, Incident, Status
from bot.core.ports import UnitOfWork
from bot.core.reminders import (
    CLOSE_NUDGE_AFTER,
    Reminder,
    ReminderKind,
    Sweep,
    Timer,
    Verdict,
    action_due_at,
    decide,
    parse_timer_key,
    timer_key,
    update_nudge_at,
)
from bot.core.services._base import Service
from bot.core.services.oncall import OncallService

BATCH = 100
TIMERS = 1000  # per kind: the soonest ones; later ones are planned as these fire


async def schedule(
    uow: UnitOfWork,
    incident: Incident,
    kind: ReminderKind,
    subject_id: int,
    due_at: datetime,
    now: datetime,
) -> Reminder:
    """Make (or move) the pending reminder of this kind for this subject."""
    assert incident.id is not None
    reminder = Reminder(
        guild_id=incident.guild_id,
        incident_id=incident.id,
        kind=kind,
        subject_id=subject_id,
        due_at=due_at,
        created_at=now,
    )
    await uow.reminders.schedule(reminder)
    return reminder


async def plan_update_nudge(
    uow: UnitOfWork, incident: Incident, config: GuildConfig, since: datetime, now: datetime
) -> None:
    """Nudge a cadence after `since` if the incident is open and its severity has a cadence;
    otherwise make sure no update nudge is pending."""
    assert incident.id is not None
    due = update_nudge_at(incident, config, since)
    if due is None:
        await uow.reminders.cancel(ReminderKind.UPDATE_NUDGE, incident.id, now)
    else:
        await schedule(uow, incident, ReminderKind.UPDATE_NUDGE, incident.id, due, now)


async def status_changed(
    uow: UnitOfWork, incident: Incident, old: Status, config: GuildConfig, now: datetime
) -> None:
    """Resolved or closed: no more update nudges. Reopened: nudges again from now.
    Resolved: a close nudge 24 h later. Anything else: no close nudge."""
    assert incident.id is not None
    new = incident.status
    if not new.is_open:
        await uow.reminders.cancel(ReminderKind.UPDATE_NUDGE, incident.id, now)
    elif not old.is_open:
        await plan_update_nudge(uow, incident, config, now, now)
    if new is Status.RESOLVED:
        due = now + CLOSE_NUDGE_AFTER
        await schedule(uow, incident, ReminderKind.CLOSE_NUDGE, incident.id, due, now)
    else:
        await uow.reminders.cancel(ReminderKind.CLOSE_NUDGE, incident.id, now)


async def action_added(
    uow: UnitOfWork, incident: Incident, action: ActionItem, config: GuildConfig, now: datetime
) -> None:
    """An item with a due date gets a reminder on that date."""
    if action.due is not None:
        assert action.id is not None
        due = action_due_at(action.due, config.tz)
        await schedule(uow, incident, ReminderKind.ACTION_DUE, action.id, due, now)


async def action_done(uow: UnitOfWork, action: ActionItem, now: datetime) -> None:
    """Done items are not chased."""
    assert action.id is not None
    await uow.reminders.cancel(ReminderKind.ACTION_DUE, action.id, now)


class ReminderService(Service):
    """The clock's side of reminders, and reading them."""

    async def fire_due(self, now: datetime | None = None) -> list[Reminder]:
        """Fire every reminder due by `now` (default: the clock) whose reason still holds.

        Each is marked fired and its `REMINDER_DUE` event written in the same transaction;
        the claim is conditional, so concurrent sweeps cannot fire one twice. A fired update
        nudge schedules the next one a cadence later. Returns the reminders fired.
        """
        fired: list[Reminder] = []
        while True:
            async with self._uow_factory() as uow:
                at = now or self._clock.now()
                due = await uow.reminders.due(at, BATCH)
                if not due:
                    return fired
                fired.extend(await self._handle(uow, due, at))
                await uow.commit()
            if len(due) < BATCH:
                return fired

    async def _handle(self, uow: UnitOfWork, due: list[Reminder], now: datetime) -> list[Reminder]:
        """Decide and act on one batch of due reminders inside `uow`."""
        fired = []
        configs: dict[int, GuildConfig] = {}
        for reminder in due:
            assert reminder.id is not None
            if reminder.guild_id not in configs:
                configs[reminder.guild_id] = await self._config(uow, reminder.guild_id)
            config = configs[reminder.guild_id]
            incident = await uow.incidents.get_by_id(reminder.incident_id)
            action = None
            if reminder.kind is ReminderKind.ACTION_DUE:
                action = await uow.actions.get_by_id(reminder.subject_id)
            decision = decide(reminder, incident=incident, action=action, config=config, now=now)
            if decision.verdict is Verdict.DROP:
                await uow.reminders.cancel(reminder.kind, reminder.subject_id, now)
            elif decision.verdict is Verdict.LATER:
                assert decision.due_at is not None
                await uow.reminders.schedule(replace(reminder, due_at=decision.due_at))
            elif await uow.reminders.claim(reminder.id, now):
                reminder.fired_at = now
                if reminder.kind is ReminderKind.UPDATE_NUDGE:
                    assert incident is not None
                    await plan_update_nudge(uow, incident, config, now, now)
                await uow.outbox.add(Event(Topic.REMINDER_DUE, reminder.guild_id, reminder.id))
                fired.append(reminder)
        return fired

    async def get(self, reminder_id: int) -> Reminder | None:
        """One reminder, in whatever state."""
        async with self._reading() as uow:
            return await uow.reminders.get(reminder_id)

    async def for_incident(self, incident_id: int) -> list[Reminder]:
        """Every reminder of an incident, oldest first."""
        async with self._reading() as uow:
            return await uow.reminders.list(incident_id)


class TimerService(Service):
    """What the scheduler must wake up for, read from storage (it keeps no state of its own)."""

    async def pending(self, limit: int = TIMERS) -> list[Timer]:
        """The soonest pending reminders, alert escalations, heartbeat deadlines and
        certificate checks, soonest first."""
        async with self._reading() as uow:
            reminders = await uow.reminders.upcoming(limit)
            escalations = await uow.alerts.escalation_times(limit)
            heartbeats = await uow.heartbeats.deadlines(limit)
            checks = await uow.cert_watches.next_checks(limit)
        oncall = await self._oncall_timers(limit)
        return _timers(reminders, escalations, heartbeats, checks, oncall)

    async def _oncall_timers(self, limit: int) -> list[tuple[str, datetime]]:
        return await OncallService(self._uow_factory, self._clock).timers(limit)

    async def among(self, keys: Collection[str], limit: int = TIMERS) -> list[Timer]:
        """Those of these timers (by key) that are still pending, soonest first: what the
        scheduler re-reads after a commit that touched them (the others are gone). A key
        `heartbeat:*`, `certificate:*` or `oncall:*` stands for every timer of that kind
        (the soonest `limit`): their writes are not tracked one by one."""
        ids: dict[Sweep, list[int]] = {sweep: [] for sweep in Sweep}
        whole: set[Sweep] = set()
        for key in keys:
            parsed = parse_timer_key(key)
            if parsed is None:
                continue
            sweep, number = parsed
            if number is None:
                whole.add(sweep)
            else:
                ids[sweep].append(number)
        async with self._uow_factory() as uow:
            reminders = await uow.reminders.pending_among(ids[Sweep.REMINDERS])
            escalations = await uow.alerts.escalation_times_of(ids[Sweep.ESCALATIONS])
            heartbeats = []
            if Sweep.HEARTBEATS in whole:
                heartbeats = await uow.heartbeats.deadlines(limit)
            checks = []
            if Sweep.CERTIFICATES in whole:
                checks = await uow.cert_watches.next_checks(limit)
        oncall = await self._oncall_timers(limit) if Sweep.ONCALL in whole else []
        return _timers(reminders, escalations, heartbeats, checks, oncall)


def _timers(
    reminders: list[Reminder],
    escalations: list[tuple[int, datetime]],
    heartbeats: list[tuple[int, datetime]],
    checks: list[tuple[int, datetime]],
    oncall: list[tuple[str, datetime]],
) -> list[Timer]:
    """Stored due times as timers, soonest first."""
    timers = [
        Timer(timer_key(Sweep.REMINDERS, r.id or 0), Sweep.REMINDERS, r.due_at) for r in reminders
    ]
    for sweep, times in (
        (Sweep.ESCALATIONS, escalations),
        (Sweep.HEARTBEATS, heartbeats),
        (Sweep.CERTIFICATES, checks),
    ):
        timers += [Timer(timer_key(sweep, subject), sweep, at) for subject, at in times]
    timers += [Timer(key, Sweep.ONCALL, at) for key, at in oncall]
    return sorted(timers, key=lambda t: (t.due_at, t.key))
