"""What the core needs from the outside world, as Protocols the adapters implement.

Repositories assign ids (and per-guild / per-incident numbers) when an object is added, so
callers can refer to it — and record events about it — before the unit of work commits.
"""

from __future__ import annotations

import builtins
from collections.abc import Callable, Collection
from datetime import datetime
from types import TracebackType
from typing import Protocol, Self

from bot.core.alerts import Alert, AlertSource
from bot.core.events import Event, StoredEvent
from bot.core.model import (
    ActionItem,
    GuildConfig,
    Incident,
    PostmortemNote,
    Status,
    TimelineEntry,
    TimelineRevision,
)
from bot.core.webhooks import Webhook


class Clock(Protocol):
    """Where the core gets "now" from: timezone-aware UTC, replaceable in tests."""

    def now(self) -> datetime: ...


class GuildRepository(Protocol):
    async def get(self, guild_id: int) -> GuildConfig | None: ...

    async def save(self, config: GuildConfig) -> None:
        """Insert or update."""


class IncidentRepository(Protocol):
    async def add(self, incident: Incident) -> None:
        """Store a new incident, setting `id` and the guild's next `number` on it."""

    async def get(self, guild_id: int, number: int) -> Incident | None: ...

    async def get_by_id(self, incident_id: int) -> Incident | None: ...

    async def by_channel(self, guild_id: int, channel_id: int) -> Incident | None:
        """The incident whose working channel or operating-room thread this is."""

    async def list(
        self, guild_id: int, statuses: Collection[Status] | None = None
    ) -> list[Incident]:
        """Incidents of a guild, newest first, optionally only those in `statuses`."""

    async def save(self, incident: Incident) -> None:
        """Write changed fields and role assignments (new ones get their `id`)."""


class TimelineRepository(Protocol):
    async def add(self, entry: TimelineEntry) -> None:
        """Store a new entry, setting `id` and the incident's next `seq` on it."""

    async def get(self, incident_id: int, seq: int) -> TimelineEntry | None: ...

    async def get_by_id(self, entry_id: int) -> TimelineEntry | None: ...

    async def by_message(self, incident_id: int, message_id: int) -> TimelineEntry | None:
        """The entry made from this Discord message, if any (adding one twice does nothing)."""

    async def list(
        self, incident_id: int, *, include_deleted: bool = False, last: int | None = None
    ) -> list[TimelineEntry]:
        """Entries in event order (ties by seq); `last` keeps only the latest N."""

    async def save(self, entry: TimelineEntry, revision: TimelineRevision) -> None:
        """Write an edited or deleted entry together with its audit record."""

    async def revisions(self, entry_id: int) -> builtins.list[TimelineRevision]:
        """The entry's audit trail, oldest first (`builtins`: `list` is a method here)."""


class ActionRepository(Protocol):
    async def add(self, action: ActionItem) -> None:
        """Store a new action item, setting `id` and the incident's next `seq` on it."""

    async def get(self, incident_id: int, seq: int) -> ActionItem | None: ...

    async def list(self, incident_id: int) -> list[ActionItem]:
        """In seq order."""

    async def save(self, action: ActionItem) -> None: ...


class NoteRepository(Protocol):
    async def add(self, note: PostmortemNote) -> None: ...

    async def list(self, incident_id: int) -> list[PostmortemNote]:
        """In the order they were added."""


class AlertRepository(Protocol):
    async def add(self, alert: Alert) -> None: ...

    async def get(self, alert_id: int) -> Alert | None: ...

    async def find_episode(
        self, guild_id: int, source: AlertSource, stream_key: str, episode_key: str
    ) -> Alert | None: ...

    async def find_open(self, guild_id: int, source: AlertSource, stream_key: str) -> Alert | None:
        """The stream's firing alert, if one is open."""

    async def for_incident(self, incident_id: int) -> list[Alert]:
        """Alerts attached to the incident, oldest first."""

    async def attached_incident(
        self, guild_id: int, source: AlertSource, stream_key: str
    ) -> int | None:
        """The open incident that an earlier alert of this stream was attached to, if any."""

    async def due_escalations(self, now: datetime) -> list[Alert]:
        """Open alerts whose next escalation time has come, across guilds."""

    async def save(self, alert: Alert) -> None: ...


class WebhookRepository(Protocol):
    async def add(self, webhook: Webhook) -> None: ...

    async def get(self, guild_id: int, webhook_id: int) -> Webhook | None: ...

    async def by_hash(self, token_hash: str) -> Webhook | None: ...

    async def list(self, guild_id: int) -> list[Webhook]: ...

    async def save(self, webhook: Webhook) -> None: ...


class MetaRepository(Protocol):
    """Small process-wide values, such as the hash of the last synced command tree."""

    async def get(self, key: str) -> str | None: ...

    async def set(self, key: str, value: str) -> None: ...


class OutboxRepository(Protocol):
    """Events waiting for Discord delivery, in the order they were recorded."""

    async def add(self, event: Event) -> None:
        """Record an event in this transaction; it becomes visible to the relay on commit."""

    async def pending(self, limit: int = 100) -> list[StoredEvent]:
        """The oldest undelivered events, in recording order."""

    async def mark_done(self, event_ids: Collection[int], at: datetime) -> None: ...


class UnitOfWork(Protocol):
    """One transaction over every repository; nothing is visible to others before commit."""

    guilds: GuildRepository
    incidents: IncidentRepository
    timeline: TimelineRepository
    actions: ActionRepository
    notes: NoteRepository
    alerts: AlertRepository
    webhooks: WebhookRepository
    meta: MetaRepository
    outbox: OutboxRepository

    async def commit(self) -> None: ...

    async def rollback(self) -> None: ...

    async def __aenter__(self) -> Self: ...

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Roll back whatever was not committed."""


UnitOfWorkFactory = Callable[[], UnitOfWork]
