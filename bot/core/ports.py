"""What the core needs from the outside world, as Protocols the adapters implement.

Repositories assign ids (and per-guild / per-incident numbers) when an object is added, so
callers can refer to it — and record events about it — before the unit of work commits.
"""

from __future__ import annotations

import builtins
from collections.abc import Callable, Collection, Sequence
from datetime import datetime
from types import TracebackType
from typing import Protocol, Self

from bot.core.alerts import Alert, AlertSource
from bot.core.certs import CertCheck, CertWatch
from bot.core.events import Event, StoredEvent
from bot.core.heartbeats import Heartbeat
from bot.core.model import (
    ActionItem,
    GuildConfig,
    Incident,
    PostmortemNote,
    Status,
    TimelineEntry,
    TimelineRevision,
)
from bot.core.oncall import Rotation, Shift
from bot.core.pages import Page
from bot.core.paging import AckLink, Notice, Pager, PagerPage
from bot.core.reminders import Reminder, ReminderKind
from bot.core.statuspage import Component, Maintenance, PublicIncident, PublicUpdate, StatusPage
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

    async def page(
        self,
        guild_id: int,
        statuses: Collection[Status],
        *,
        before: int | None = None,
        after: int | None = None,
        limit: int,
    ) -> builtins.list[Incident]:
        """Up to `limit` incidents in `statuses`, newest first: the newest numbered below
        `before` (or the newest of all), or, given `after`, the oldest numbered above it."""

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

    async def get_by_id(self, action_id: int) -> ActionItem | None: ...

    async def list(self, incident_id: int) -> list[ActionItem]:
        """In seq order."""

    async def save(self, action: ActionItem) -> None: ...


class NoteRepository(Protocol):
    async def add(self, note: PostmortemNote) -> None: ...

    async def list(self, incident_id: int) -> list[PostmortemNote]:
        """In the order they were added."""


StreamId = tuple[int, AlertSource, str]
"""(guild id, source, stream key): one monitored thing."""

EpisodeId = tuple[int, AlertSource, str, str]
"""(guild id, source, stream key, episode key): one explicitly named episode."""


class AlertRepository(Protocol):
    async def add(self, alert: Alert) -> None: ...

    async def add_many(self, alerts: Sequence[Alert]) -> None:
        """`add` each, in order, setting their `id`s (in one statement where possible)."""

    async def get(self, alert_id: int) -> Alert | None: ...

    async def find_episode(
        self, guild_id: int, source: AlertSource, stream_key: str, episode_key: str
    ) -> Alert | None: ...

    async def find_open(self, guild_id: int, source: AlertSource, stream_key: str) -> Alert | None:
        """The stream's firing alert, if one is open."""

    async def find_episodes(self, episodes: Collection[EpisodeId]) -> list[Alert]:
        """The stored alerts of these episodes (`find_episode` for many), in any order."""

    async def find_firing(self, streams: Collection[StreamId]) -> list[Alert]:
        """Every firing alert of these streams, in any order (`find_open` picks the latest)."""

    async def for_incident(self, incident_id: int) -> list[Alert]:
        """Alerts attached to the incident, oldest first."""

    async def in_maintenance(self, maintenance_id: int) -> list[Alert]:
        """Firing alerts kept quiet by this maintenance window."""

    async def attached_incident(
        self, guild_id: int, source: AlertSource, stream_key: str
    ) -> int | None:
        """The open incident that an earlier alert of this stream was attached to, if any."""

    async def streams_with_open_incident(self, streams: Collection[StreamId]) -> set[StreamId]:
        """Those of `streams` for which `attached_incident` finds an incident."""

    async def get_many(self, alert_ids: Collection[int]) -> list[Alert]:
        """These alerts as stored (those that exist), by id, in one query where possible."""

    async def due_escalations(self, now: datetime, limit: int | None = None) -> list[Alert]:
        """Open alerts whose next escalation time has come, across guilds, soonest first
        (`limit`: only the first so many, for writing them in bounded batches)."""

    async def escalation_times(self, limit: int) -> list[tuple[int, datetime]]:
        """(alert id, next escalation time) of the `limit` soonest pending escalations."""

    async def escalation_times_of(self, alert_ids: Collection[int]) -> list[tuple[int, datetime]]:
        """(alert id, next escalation time) of those of these alerts that will escalate."""

    async def by_relay_message(self, guild_id: int, message_id: int) -> list[Alert]:
        """The guild's alerts shown by this Discord message (one card, or a digest), by id."""

    async def unshown(self, guild_id: int) -> list[int]:
        """Ids of the guild's alerts never posted anywhere (stored before setup), by id."""

    async def set_relay(
        self, alert_ids: Collection[int], channel_id: int, message_id: int | None
    ) -> None:
        """Record the message showing these alerts (None: being posted in that channel, the
        message not known yet); touches no other field."""

    async def save(self, alert: Alert) -> None:
        """Write the alert's fields except the relay message ids (only `set_relay` does), so
        saving an older copy never erases where the alert is shown."""

    async def save_many(self, alerts: Sequence[Alert]) -> None:
        """`save` each (in one statement where possible)."""


class PageRepository(Protocol):
    """Pages sent for alerts (escalation pings, pager messages)."""

    async def add_many(self, pages: Sequence[Page]) -> None:
        """Store new pages, setting their `id`s."""

    async def for_alerts(self, alert_ids: Collection[int]) -> list[Page]:
        """The pages of these alerts, in the order they were sent."""


class WebhookRepository(Protocol):
    async def add(self, webhook: Webhook) -> None: ...

    async def get(self, guild_id: int, webhook_id: int) -> Webhook | None: ...

    async def by_hash(self, token_hash: str) -> Webhook | None: ...

    async def list(self, guild_id: int) -> list[Webhook]: ...

    async def save(self, webhook: Webhook) -> None: ...


class ReminderRepository(Protocol):
    """Stored reminders; at most one pending per kind and subject (the database holds it)."""

    async def schedule(self, reminder: Reminder) -> None:
        """Make `reminder` the pending one of its kind and subject, setting its `id`: a pending
        one is moved to the new due time (keeping its id and created_at), else it is added."""

    async def cancel(self, kind: ReminderKind, subject_id: int, at: datetime) -> int:
        """Cancel the pending reminder of this kind and subject, if any; returns how many."""

    async def claim(self, reminder_id: int, at: datetime) -> bool:
        """Mark a pending, due reminder fired; False when it no longer is (someone else fired,
        moved or cancelled it first), so a reminder fires at most once even under races."""

    async def get(self, reminder_id: int) -> Reminder | None: ...

    async def due(self, now: datetime, limit: int = 100) -> builtins.list[Reminder]:
        """Pending reminders due at or before `now`, soonest first."""

    async def upcoming(self, limit: int) -> builtins.list[Reminder]:
        """The `limit` soonest pending reminders, overdue ones included."""

    async def pending_among(self, reminder_ids: Collection[int]) -> builtins.list[Reminder]:
        """Those of these reminders that are still pending, in any order."""

    async def list(self, incident_id: int) -> builtins.list[Reminder]:
        """Every reminder of the incident (pending, fired, cancelled), oldest first."""


class PagingRepository(Protocol):
    """Pagers, their queued pages and acknowledge links."""

    async def add_pager(self, pager: Pager) -> None: ...

    async def pager(self, guild_id: int, pager_id: int) -> Pager | None:
        """One pager of the guild, removed ones included."""

    async def pagers(self, guild_id: int) -> builtins.list[Pager]:
        """The guild's pagers that are not removed, by id."""

    async def save_pager(self, pager: Pager) -> None: ...

    async def active_pagers(self) -> builtins.list[Pager]:
        """Every guild's pagers that are not removed."""

    async def unanswered_tests(self, sent_before: datetime) -> builtins.list[PagerPage]:
        """Test pages sent by then, neither answered nor reported unanswered."""

    async def test_timers(self) -> builtins.list[datetime]:
        """When each sent, unanswered test page's answer time runs out."""

    async def add_page(self, page: PagerPage) -> None: ...

    async def page(self, page_id: int) -> PagerPage | None: ...

    async def waiting_page(self, pager_id: int, kind: str, level: int) -> PagerPage | None:
        """The pager's page of this kind and level that is still gathering (not claimed)."""

    async def save_page(self, page: PagerPage) -> None: ...

    async def claim_pages(
        self, now: datetime, lease_until: datetime, limit: int
    ) -> builtins.list[PagerPage]:
        """Waiting pages due by `now` and not leased, leased to the caller until
        `lease_until` (a conditional update, so two senders never take the same page)."""

    async def next_page_due(self) -> datetime | None:
        """When the soonest waiting page becomes due (or its lease ends)."""

    async def add_ack_link(self, link: AckLink) -> None: ...

    async def ack_link(self, code_hash: str) -> AckLink | None: ...

    async def use_ack_link(self, link_id: int, at: datetime) -> bool:
        """Mark the link used if it still is not (at most once, even under races)."""

    async def add_notice(self, notice: Notice) -> None:
        """Store a message for #alerts, setting its `id` (an event names it)."""

    async def notice(self, notice_id: int) -> Notice | None: ...


class OncallRepository(Protocol):
    """The rotation (one per guild) and its overrides and aways."""

    async def rotation(self, guild_id: int) -> Rotation | None: ...

    async def save_rotation(self, rotation: Rotation) -> None:
        """Insert or update."""

    async def delete_rotation(self, guild_id: int) -> None: ...

    async def due_rotations(self, now: datetime) -> builtins.list[Rotation]:
        """Rotations whose next handoff time has come, across guilds."""

    async def add_shift(self, shift: Shift) -> None: ...

    async def save_shift(self, shift: Shift) -> None: ...

    async def shifts(self, guild_id: int) -> builtins.list[Shift]:
        """The guild's shifts not ended yet, by start."""

    async def due_shifts(self, now: datetime) -> builtins.list[Shift]:
        """Shifts whose end came that are not marked ended, across guilds."""

    async def timers(self, limit: int) -> builtins.list[tuple[str, datetime]]:
        """(key, due time) of the soonest handoffs and shift ends."""


class HeartbeatRepository(Protocol):
    """The deadlines of heartbeat webhooks, one row per webhook."""

    async def add(self, heartbeat: Heartbeat) -> None: ...

    async def get(self, webhook_id: int) -> Heartbeat | None: ...

    async def for_guild(self, guild_id: int) -> builtins.list[Heartbeat]: ...

    async def ping(self, webhook_id: int, at: datetime) -> Heartbeat | None:
        """Record a ping in one statement (the deadline moves to `at + every + grace`, the
        miss is cleared); the heartbeat as it is now, or None if there is none."""

    async def due(self, now: datetime, limit: int) -> builtins.list[Heartbeat]:
        """Heartbeats of active webhooks whose deadline passed, soonest first."""

    async def claim_missed(self, webhook_id: int, now: datetime) -> bool:
        """Mark the heartbeat missed if its deadline is still passed (at most once per
        silence, even when several sweeps race)."""

    async def move_deadline(self, webhook_id: int, due_at: datetime, before: datetime) -> None:
        """Set the deadline to `due_at` if it is still earlier than `before`."""

    async def deadlines(self, limit: int) -> builtins.list[tuple[int, datetime]]:
        """(webhook id, deadline) of the `limit` soonest deadlines of active webhooks."""


class CertWatchRepository(Protocol):
    """Watched certificates."""

    async def add(self, watch: CertWatch) -> None: ...

    async def get(self, watch_id: int) -> CertWatch | None: ...

    async def for_guild(self, guild_id: int) -> builtins.list[CertWatch]:
        """The guild's watches, oldest first."""

    async def find(self, guild_id: int, host: str, port: int) -> CertWatch | None: ...

    async def remove(self, watch_id: int) -> None: ...

    async def save(self, watch: CertWatch) -> None: ...

    async def claim_due(
        self, now: datetime, lease_until: datetime, limit: int
    ) -> builtins.list[CertWatch]:
        """Watches due for a check, their next check moved to `lease_until` so that another
        sweep does not check them too (the result of the check sets the real next one)."""

    async def check_soon(self, guild_id: int, at: datetime) -> None:
        """Make every watch of the guild due at `at` (an incident opened or resolved)."""

    async def next_checks(self, limit: int) -> builtins.list[tuple[int, datetime]]:
        """(watch id, next check) of the `limit` soonest checks."""


class CertificateProbe(Protocol):
    """The TLS handshake with a watched host (an adapter: sockets and `ssl`)."""

    async def check(self, host: str, port: int) -> CertCheck:
        """Connect, verify chain and name, read notAfter; never raises for a bad host."""


class MetaRepository(Protocol):
    """Small process-wide values, such as the hash of the last synced command tree."""

    async def get(self, key: str) -> str | None: ...

    async def set(self, key: str, value: str) -> None: ...


class OutboxRepository(Protocol):
    """Events waiting for Discord delivery, in the order they were recorded."""

    async def add(self, event: Event) -> None:
        """Record an event in this transaction; it becomes visible to the relay on commit."""

    async def add_many(self, events: Sequence[Event]) -> None:
        """`add` each, in order (in one statement where possible)."""

    async def pending(self, limit: int = 100, after: int = 0) -> list[StoredEvent]:
        """The oldest undelivered events with an id above `after`, in recording order (a
        reader keeps its place with `after` instead of reading what it holds again)."""

    async def mark_done(self, event_ids: Collection[int], at: datetime) -> None: ...

    async def prune(self, before: datetime, limit: int) -> int:
        """Delete up to `limit` events delivered before `before`, oldest first; how many."""


class StatusPageRepository(Protocol):
    """The public read model: pages, components, public incidents and updates, maintenance.

    Only the publishing use cases write here; the web server only reads.
    """

    async def get(self, guild_id: int) -> StatusPage | None: ...

    async def by_slug(self, slug: str) -> StatusPage | None: ...

    async def version(self, slug: str) -> int | None:
        """The page's version (None: no such enabled page): one cheap indexed read, so
        every web process can poll it before serving its cached rendering."""

    async def save(self, page: StatusPage) -> None:
        """Insert or update the page (a slug another guild holds is a ConflictError)."""

    async def components(self, guild_id: int) -> builtins.list[Component]:
        """In the order they were added."""

    async def save_component(self, component: Component) -> None:
        """Insert (setting `id`) or update."""

    async def remove_component(self, component_id: int) -> None: ...

    async def incident(self, incident_id: int) -> PublicIncident | None:
        """The public side of an internal incident, with its updates, if published."""

    async def incidents(self, guild_id: int, since: datetime) -> builtins.list[PublicIncident]:
        """Public incidents still active or created since `since`, newest first, with their
        updates newest first."""

    async def save_incident(self, incident: PublicIncident) -> None:
        """Insert (setting `id`) or update the public incident (not its updates)."""

    async def add_update(self, update: PublicUpdate) -> None:
        """Store a public update, setting `id`."""

    async def unannounced(self, guild_id: int, after: datetime) -> builtins.list[PublicUpdate]:
        """Public updates made after `after` that no announcement carries yet, oldest first."""

    async def announced_since(self, channel_id: int, since: datetime) -> int:
        """How many announcement messages went to this channel since `since`."""

    async def mark_announced(
        self, update_ids: Collection[int], channel_id: int, message_id: int, at: datetime
    ) -> None:
        """Record the announcement message that carries these updates."""

    async def add_maintenance(self, maintenance: Maintenance) -> None:
        """Store a window, setting `id`."""

    async def maintenance(self, maintenance_id: int) -> Maintenance | None: ...

    async def maintenances(self, guild_id: int, since: datetime) -> builtins.list[Maintenance]:
        """Windows not cancelled that end after `since`, soonest first."""

    async def covering(
        self, guild_ids: Collection[int], at: datetime
    ) -> builtins.list[Maintenance]:
        """Windows of these guilds running at `at` (not cancelled)."""

    async def save_maintenance(self, maintenance: Maintenance) -> None: ...


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
    reminders: ReminderRepository
    paging: PagingRepository
    oncall: OncallRepository
    statuspage: StatusPageRepository
    pages: PageRepository
    heartbeats: HeartbeatRepository
    cert_watches: CertWatchRepository

    def reading(self) -> UnitOfWork:
        """A unit of work for lookups only: one consistent snapshot that never takes the write
        lock (so a read never queues behind the webhook writer); it cannot commit."""

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
