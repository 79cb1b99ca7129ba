"""Events the core records in the same transaction as the change (the outbox).

Discord delivery reads them from storage after commit, so a crash between the change and the
message loses nothing, and a restart finishes what was pending.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum


class Topic(StrEnum):
    """What changed; `subject_id` names the stored object of that kind."""

    INCIDENT_CHANGED = "incident.changed"  # incident id: re-render its cards
    INCIDENT_CLOSED = "incident.closed"  # incident id: post its postmortem draft (once per close)
    ENTRY_ADDED = "timeline.added"  # timeline entry id: post it to the operating-room thread
    ENTRY_CHANGED = "timeline.changed"  # timeline entry id: edited or deleted
    ALERT_CHANGED = "alert.changed"  # alert id: post or edit its #alerts message
    ALERT_ESCALATED = "alert.escalated"  # alert id: ping the role its level names
    REMINDER_DUE = "reminder.due"  # reminder id: post the nudge it names
    PUBLIC_UPDATE = "status.update"  # public update id: announce it (folded if need be)
    MAINTENANCE_CHANGED = "status.maintenance"  # maintenance id: make or remove its event


@dataclass(frozen=True)
class Event:
    """One thing to tell Discord about, in the order it happened."""

    topic: Topic
    guild_id: int
    subject_id: int


@dataclass(frozen=True)
class StoredEvent:
    """An event as the outbox holds it: its place in line and when it was recorded."""

    id: int
    event: Event
    created_at: datetime
