"""Reminders: nudges stored until due, fired once each when the clock reaches them.

RoboDanny's habit: a reminder is a row with a due time, and firing it is an event in the
outbox, so the scheduler knows nothing of incidents and the Discord side nothing of time.
At most one reminder of a kind is pending per subject; scheduling one again moves it.

- `update_nudge` (subject: the incident): no `/incident update` within the severity's
  cadence (GuildConfig.update_cadence_minutes; sev4 has none). Due a cadence after the
  declaration or the last update; a severity change or a reopen restarts it from that
  moment; resolving or closing ends it. Once fired, the next is due a cadence later, so
  the commander is nudged until someone posts an update.
- `close_nudge` (subject: the incident): resolved but not closed 24 h after it was
  resolved. Fires once; closing or reopening ends it.
- `action_due` (subject: the action item): 09:00 in the guild's timezone on the due date
  (a due date already reached when the item is added fires at the next sweep). Marking the
  item done ends it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo

from bot.core.model import (
    DEFAULT_UPDATE_CADENCE_MINUTES,
    ActionItem,
    ActionStatus,
    GuildConfig,
    Incident,
    Severity,
    Status,
)

CLOSE_NUDGE_AFTER = timedelta(hours=24)
ACTION_DUE_TIME = time(9, 0)


class ReminderKind(StrEnum):
    """What a reminder is about; its `subject_id` names an incident or an action item."""

    UPDATE_NUDGE = "update_nudge"
    CLOSE_NUDGE = "close_nudge"
    ACTION_DUE = "action_due"


@dataclass
class Reminder:
    """One stored reminder: pending until it fires or its reason ends (cancelled)."""

    guild_id: int
    incident_id: int
    kind: ReminderKind
    subject_id: int
    due_at: datetime
    created_at: datetime
    fired_at: datetime | None = None
    cancelled_at: datetime | None = None
    id: int | None = None

    @property
    def pending(self) -> bool:
        """Neither fired nor cancelled yet."""
        return self.fired_at is None and self.cancelled_at is None


def update_cadence(config: GuildConfig, severity: Severity) -> timedelta | None:
    """How often the commander owes watchers an update at this severity (None: no nudges)."""
    minutes = config.update_cadence_minutes.get(
        severity, DEFAULT_UPDATE_CADENCE_MINUTES.get(severity)
    )
    return timedelta(minutes=minutes) if minutes and minutes > 0 else None


def update_nudge_at(incident: Incident, config: GuildConfig, since: datetime) -> datetime | None:
    """When to nudge for an update, counting from `since`; None when no nudge is owed."""
    cadence = update_cadence(config, incident.severity)
    if cadence is None or not incident.status.is_open:
        return None
    return since + cadence


def action_due_at(due: date, tz: ZoneInfo) -> datetime:
    """09:00 on the due date in the guild's timezone, as UTC: a working-hours reminder."""
    return datetime.combine(due, ACTION_DUE_TIME, tzinfo=tz).astimezone(UTC)


class Verdict(StrEnum):
    """What the sweep does with a reminder whose due time came."""

    FIRE = "fire"  # the reason holds: fire it (once)
    DROP = "drop"  # the reason ended without anyone cancelling it: cancel it quietly
    LATER = "later"  # not yet owed after all (the cadence was lengthened): move it


@dataclass(frozen=True)
class Decision:
    """A verdict, with the new due time for LATER."""

    verdict: Verdict
    due_at: datetime | None = None


FIRE = Decision(Verdict.FIRE)
DROP = Decision(Verdict.DROP)


def decide(
    reminder: Reminder,
    *,
    incident: Incident | None,
    action: ActionItem | None,
    config: GuildConfig,
    now: datetime,
) -> Decision:
    """Check, at its due time, that the reminder's reason still holds."""
    if incident is None:
        return DROP
    if reminder.kind is ReminderKind.UPDATE_NUDGE:
        last = incident.latest_update_at or incident.declared_at
        owed = update_nudge_at(incident, config, last)
        if owed is None:
            return DROP
        return FIRE if owed <= now else Decision(Verdict.LATER, owed)
    if reminder.kind is ReminderKind.CLOSE_NUDGE:
        return FIRE if incident.status is Status.RESOLVED else DROP
    return FIRE if action is not None and action.status is ActionStatus.OPEN else DROP


def still_wanted(
    reminder: Reminder, *, incident: Incident | None, action: ActionItem | None, config: GuildConfig
) -> bool:
    """Whether a fired reminder is still worth posting (delivery may lag behind firing)."""
    if incident is None:
        return False
    if reminder.kind is ReminderKind.UPDATE_NUDGE:
        updated = incident.latest_update_at
        fired = reminder.fired_at or reminder.due_at
        return (
            incident.status.is_open
            and update_cadence(config, incident.severity) is not None
            and (updated is None or updated < fired)
        )
    if reminder.kind is ReminderKind.CLOSE_NUDGE:
        return incident.status is Status.RESOLVED
    return action is not None and action.status is ActionStatus.OPEN


class Sweep(StrEnum):
    """The idempotent sweeps the clock runs: each handles everything due at that moment."""

    REMINDERS = "reminders"
    ESCALATIONS = "escalations"
    HEARTBEATS = "heartbeats"  # deadlines of heartbeat webhooks
    CERTIFICATES = "certificates"  # checks of watched TLS certificates


@dataclass(frozen=True)
class Timer:
    """One moment the scheduler must wake up for: run `sweep` at `due_at`; `key` is unique."""

    key: str
    sweep: Sweep
    due_at: datetime
