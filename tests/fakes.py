"""In-memory stand-ins for the core's ports, for unit tests of the services (no I/O).

They copy on every read and write, and a unit of work sees a private copy of the store until
it commits, so the fakes behave like a database would: unsaved changes do not leak.
"""

from __future__ import annotations

import builtins
import copy
import itertools
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, TypeVar

from bot.core.alerts import Alert, AlertSource
from bot.core.certs import CertWatch
from bot.core.events import Event, StoredEvent
from bot.core.heartbeats import Heartbeat
from bot.core.model import (
    OPEN_STATUSES,
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
from bot.core.paging import TEST_ANSWER_WITHIN, AckLink, Notice, PageKind, Pager, PagerPage
from bot.core.ports import (
    ActionRepository,
    AlertRepository,
    CertWatchRepository,
    EpisodeId,
    GuildRepository,
    HeartbeatRepository,
    IncidentRepository,
    MetaRepository,
    NoteRepository,
    OncallRepository,
    OutboxRepository,
    PageRepository,
    PagingRepository,
    ReminderRepository,
    StatusPageRepository,
    StreamId,
    TimelineRepository,
    UnitOfWork,
    UnitOfWorkFactory,
    WebhookRepository,
)
from bot.core.reminders import Reminder, ReminderKind
from bot.core.webhooks import Webhook
from tests.fake_statuspage import FakeStatusPage, StatusPageStore

T = TypeVar("T")


class FakeClock:
    """A clock the test moves by hand."""

    def __init__(self, start: datetime | None = None) -> None:
        self.current = start or datetime(2026, 3, 1, 12, 0, tzinfo=UTC)

    def now(self) -> datetime:
        return self.current

    def advance(self, **delta: float) -> datetime:
        self.current += timedelta(**delta)
        return self.current


@dataclass
class Store:
    """Everything "in the database"."""

    guilds: dict[int, GuildConfig] = field(default_factory=dict)
    incidents: dict[int, Incident] = field(default_factory=dict)
    entries: dict[int, TimelineEntry] = field(default_factory=dict)
    revisions: list[TimelineRevision] = field(default_factory=list)
    actions: dict[int, ActionItem] = field(default_factory=dict)
    notes: list[PostmortemNote] = field(default_factory=list)
    alerts: dict[int, Alert] = field(default_factory=dict)
    webhooks: dict[int, Webhook] = field(default_factory=dict)
    meta: dict[str, str] = field(default_factory=dict)
    outbox: list[StoredEvent] = field(default_factory=list)
    reminders: dict[int, Reminder] = field(default_factory=dict)
    pagers: dict[int, Pager] = field(default_factory=dict)
    pager_pages: dict[int, PagerPage] = field(default_factory=dict)
    ack_links: dict[int, AckLink] = field(default_factory=dict)
    notices: dict[int, Notice] = field(default_factory=dict)
    rotations: dict[int, Rotation] = field(default_factory=dict)
    shifts: dict[int, Shift] = field(default_factory=dict)
    pages: dict[int, Page] = field(default_factory=dict)
    heartbeats: dict[int, Heartbeat] = field(default_factory=dict)
    cert_watches: dict[int, CertWatch] = field(default_factory=dict)
    counters: dict[str, int] = field(default_factory=dict)
    statuspage: StatusPageStore = field(default_factory=StatusPageStore)
    ids: dict[str, Any] = field(default_factory=dict)

    def next_id(self, kind: str) -> int:
        counter: itertools.count[int] = self.ids.setdefault(kind, itertools.count(1))
        return next(counter)

    def next_number(self, scope: str) -> int:
        self.counters[scope] = self.counters.get(scope, 0) + 1
        return self.counters[scope]


def _c(obj: T) -> T:
    return copy.deepcopy(obj)


class _Repo:
    def __init__(self, store: Store) -> None:
        self.s = store


class FakeGuilds(_Repo):
    async def get(self, guild_id: int) -> GuildConfig | None:
        return _c(self.s.guilds.get(guild_id))

    async def save(self, config: GuildConfig) -> None:
        self.s.guilds[config.guild_id] = _c(config)


class FakeIncidents(_Repo):
    async def add(self, incident: Incident) -> None:
        incident.id = self.s.next_id("incident")
        incident.number = self.s.next_number(f"guild:{incident.guild_id}")
        await self.save(incident)

    async def get(self, guild_id: int, number: int) -> Incident | None:
        found = [
            i for i in self.s.incidents.values() if (i.guild_id, i.number) == (guild_id, number)
        ]
        return _c(found[0]) if found else None

    async def get_by_id(self, incident_id: int) -> Incident | None:
        return _c(self.s.incidents.get(incident_id))

    async def by_channel(self, guild_id: int, channel_id: int) -> Incident | None:
        for i in self.s.incidents.values():
            if i.guild_id == guild_id and channel_id in (i.channel_id, i.room_thread_id):
                return _c(i)
        return None

    async def list(
        self, guild_id: int, statuses: Collection[Status] | None = None
    ) -> list[Incident]:
        found = [
            i
            for i in self.s.incidents.values()
            if i.guild_id == guild_id and (statuses is None or i.status in statuses)
        ]
        return _c(sorted(found, key=lambda i: -i.number))

    async def page(
        self, guild_id: int, statuses: Any, *, before: Any = None, after: Any = None, limit: int
    ) -> builtins.list[Incident]:
        found = await self.list(guild_id, statuses)
        if after is not None:
            return [i for i in found if i.number > after][-limit:]
        return [i for i in found if before is None or i.number < before][:limit]

    async def save(self, incident: Incident) -> None:
        for role in incident.roles:
            if role.id is None:
                role.id = self.s.next_id("role")
        commanders = [r for r in incident.roles if r.active and r.role.value == "commander"]
        assert len(commanders) <= 1, "the database refuses two active commanders"
        self.s.incidents[incident.id] = _c(incident)  # type: ignore[index]


class FakeTimeline(_Repo):
    async def add(self, entry: TimelineEntry) -> None:
        if entry.message_id is not None:
            assert await self.by_message(entry.incident_id, entry.message_id) is None
        entry.id = self.s.next_id("entry")
        entry.seq = self.s.next_number(f"incident:{entry.incident_id}:entry")
        self.s.entries[entry.id] = _c(entry)

    async def get(self, incident_id: int, seq: int) -> TimelineEntry | None:
        found = [e for e in self.s.entries.values() if (e.incident_id, e.seq) == (incident_id, seq)]
        return _c(found[0]) if found else None

    async def get_by_id(self, entry_id: int) -> TimelineEntry | None:
        return _c(self.s.entries.get(entry_id))

    async def by_message(self, incident_id: int, message_id: int) -> TimelineEntry | None:
        for e in self.s.entries.values():
            if (e.incident_id, e.message_id) == (incident_id, message_id):
                return _c(e)
        return None

    async def list(
        self, incident_id: int, *, include_deleted: bool = False, last: int | None = None
    ) -> list[TimelineEntry]:
        found = sorted(
            (
                e
                for e in self.s.entries.values()
                if e.incident_id == incident_id and (include_deleted or not e.deleted)
            ),
            key=lambda e: (e.event_at, e.seq),
        )
        return _c(found[-last:] if last else found)

    async def save(self, entry: TimelineEntry, revision: TimelineRevision) -> None:
        revision.id = self.s.next_id("revision")
        self.s.entries[entry.id] = _c(entry)  # type: ignore[index]
        self.s.revisions.append(_c(revision))

    async def revisions(self, entry_id: int) -> builtins.list[TimelineRevision]:
        return _c([r for r in self.s.revisions if r.entry_id == entry_id])


class FakeActions(_Repo):
    async def add(self, action: ActionItem) -> None:
        action.id = self.s.next_id("action")
        action.seq = self.s.next_number(f"incident:{action.incident_id}:action")
        self.s.actions[action.id] = _c(action)

    async def get(self, incident_id: int, seq: int) -> ActionItem | None:
        found = [a for a in self.s.actions.values() if (a.incident_id, a.seq) == (incident_id, seq)]
        return _c(found[0]) if found else None

    async def get_by_id(self, action_id: int) -> ActionItem | None:
        return _c(self.s.actions.get(action_id))

    async def list(self, incident_id: int) -> list[ActionItem]:
        return _c(
            sorted(
                (a for a in self.s.actions.values() if a.incident_id == incident_id),
                key=lambda a: a.seq,
            )
        )

    async def save(self, action: ActionItem) -> None:
        self.s.actions[action.id] = _c(action)  # type: ignore[index]


class FakeNotes(_Repo):
    async def add(self, note: PostmortemNote) -> None:
        note.id = self.s.next_id("note")
        self.s.notes.append(_c(note))

    async def list(self, incident_id: int) -> list[PostmortemNote]:
        return _c([n for n in self.s.notes if n.incident_id == incident_id])


class FakeAlerts(_Repo):
    async def add(self, alert: Alert) -> None:
        if alert.episode_key is None and alert.is_open:
            open_ = await self.find_open(alert.guild_id, alert.source, alert.stream_key)
            assert open_ is None, "the database allows one open alert per stream"
        alert.id = self.s.next_id("alert")
        self.s.alerts[alert.id] = _c(alert)

    async def add_many(self, alerts: Sequence[Alert]) -> None:
        for alert in alerts:
            await self.add(alert)

    async def get(self, alert_id: int) -> Alert | None:
        return _c(self.s.alerts.get(alert_id))

    async def get_many(self, alert_ids: Collection[int]) -> list[Alert]:
        return _c([self.s.alerts[i] for i in sorted(set(alert_ids)) if i in self.s.alerts])

    async def find_episodes(self, episodes: Collection[EpisodeId]) -> list[Alert]:
        wanted = set(episodes)
        return _c(
            [
                a
                for a in self.s.alerts.values()
                if (a.guild_id, a.source, a.stream_key, a.episode_key) in wanted
            ]
        )

    async def find_firing(self, streams: Collection[StreamId]) -> list[Alert]:
        wanted = set(streams)
        return _c(
            [
                a
                for a in self.s.alerts.values()
                if (a.guild_id, a.source, a.stream_key) in wanted and a.is_open
            ]
        )

    async def streams_with_open_incident(self, streams: Collection[StreamId]) -> set[StreamId]:
        return {s for s in streams if await self.attached_incident(*s) is not None}

    async def find_episode(
        self, guild_id: int, source: AlertSource, stream_key: str, episode_key: str
    ) -> Alert | None:
        for a in self.s.alerts.values():
            if (a.guild_id, a.source, a.stream_key, a.episode_key) == (
                guild_id,
                source,
                stream_key,
                episode_key,
            ):
                return _c(a)
        return None

    async def find_open(self, guild_id: int, source: AlertSource, stream_key: str) -> Alert | None:
        for a in self.s.alerts.values():
            if (a.guild_id, a.source, a.stream_key) == (guild_id, source, stream_key) and (
                a.episode_key is None and a.is_open
            ):
                return _c(a)
        return None

    async def for_incident(self, incident_id: int) -> list[Alert]:
        return _c([a for a in self.s.alerts.values() if a.incident_id == incident_id])

    async def in_maintenance(self, maintenance_id: int) -> list[Alert]:
        found = [a for a in self.s.alerts.values() if a.maintenance_id == maintenance_id]
        return _c([a for a in found if a.is_open])

    async def attached_incident(
        self, guild_id: int, source: AlertSource, stream_key: str
    ) -> int | None:
        for a in self.s.alerts.values():
            if (a.guild_id, a.source, a.stream_key) == (guild_id, source, stream_key) and (
                a.incident_id is not None
                and self.s.incidents[a.incident_id].status in OPEN_STATUSES
            ):
                return a.incident_id
        return None

    async def due_escalations(self, now: datetime, limit: int | None = None) -> list[Alert]:
        due = [
            (a.next_escalation_at, a.id or 0, a)
            for a in self.s.alerts.values()
            if a.is_open
            and a.acknowledged_at is None
            and a.next_escalation_at is not None
            and a.next_escalation_at <= now
        ]
        due.sort(key=lambda d: (d[0], d[1]))
        return _c([a for _, _, a in due][:limit])

    async def escalation_times(self, limit: int) -> list[tuple[int, datetime]]:
        pending = [
            (a.next_escalation_at, a.id or 0)
            for a in self.s.alerts.values()
            if a.is_open and a.acknowledged_at is None and a.next_escalation_at is not None
        ]
        return [(alert_id, at) for at, alert_id in sorted(pending)[:limit]]

    async def escalation_times_of(self, alert_ids: Any) -> list[tuple[int, datetime]]:
        wanted = set(alert_ids)
        return [(i, at) for i, at in await self.escalation_times(len(self.s.alerts)) if i in wanted]

    async def by_relay_message(self, guild_id: int, message_id: int) -> list[Alert]:
        found = [
            a
            for a in self.s.alerts.values()
            if a.guild_id == guild_id and a.relay_message_id == message_id
        ]
        return _c(sorted(found, key=lambda a: a.id or 0))

    async def unshown(self, guild_id: int) -> list[int]:
        return sorted(
            a.id
            for a in self.s.alerts.values()
            if a.guild_id == guild_id and a.id and a.relay_channel_id is None
        )

    async def set_relay(
        self, alert_ids: Collection[int], channel_id: int, message_id: int | None
    ) -> None:
        for alert_id in alert_ids:
            alert = self.s.alerts[alert_id]
            alert.relay_channel_id, alert.relay_message_id = channel_id, message_id

    async def save(self, alert: Alert) -> None:
        old = self.s.alerts[alert.id]  # type: ignore[index]
        new = _c(alert)
        new.relay_channel_id, new.relay_message_id = old.relay_channel_id, old.relay_message_id
        self.s.alerts[alert.id] = new  # type: ignore[index]

    async def save_many(self, alerts: Sequence[Alert]) -> None:
        for alert in alerts:
            await self.save(alert)


class FakeWebhooks(_Repo):
    async def add(self, webhook: Webhook) -> None:
        webhook.id = self.s.next_id("webhook")
        self.s.webhooks[webhook.id] = _c(webhook)

    async def get(self, guild_id: int, webhook_id: int) -> Webhook | None:
        w = self.s.webhooks.get(webhook_id)
        return _c(w) if w and w.guild_id == guild_id else None

    async def by_hash(self, token_hash: str) -> Webhook | None:
        found = [w for w in self.s.webhooks.values() if w.token_hash == token_hash]
        return _c(found[0]) if found else None

    async def list(self, guild_id: int) -> list[Webhook]:
        return _c([w for w in self.s.webhooks.values() if w.guild_id == guild_id])

    async def save(self, webhook: Webhook) -> None:
        self.s.webhooks[webhook.id] = _c(webhook)  # type: ignore[index]


class FakeMeta(_Repo):
    async def get(self, key: str) -> str | None:
        return self.s.meta.get(key)

    async def set(self, key: str, value: str) -> None:
        self.s.meta[key] = value


class FakeOutbox(_Repo):
    async def add(self, event: Event) -> None:
        stored = StoredEvent(self.s.next_id("event"), event, datetime.now(UTC))
        self.s.outbox.append(stored)

    async def add_many(self, events: Sequence[Event]) -> None:
        for event in events:
            await self.add(event)

    async def pending(self, limit: int = 100, after: int = 0) -> list[StoredEvent]:
        return [e for e in self.s.outbox if e.id > after][:limit]

    async def mark_done(self, event_ids: Collection[int], at: datetime) -> None:
        done = set(event_ids)
        self.s.outbox = [e for e in self.s.outbox if e.id not in done]

    async def prune(self, before: datetime, limit: int) -> int:
        return 0  # delivered events are dropped at once here


class FakeReminders(_Repo):
    """Like the SQL one: one pending reminder per kind and subject, conditional claims."""

    def _pending(self, kind: ReminderKind, subject_id: int) -> Reminder | None:
        for r in self.s.reminders.values():
            if (r.kind, r.subject_id) == (kind, subject_id) and r.pending:
                return r
        return None

    async def schedule(self, reminder: Reminder) -> None:
        assert reminder.pending, "only a pending reminder can be scheduled"
        existing = self._pending(reminder.kind, reminder.subject_id)
        if existing is not None:
            existing.due_at = reminder.due_at
            reminder.id, reminder.created_at = existing.id, existing.created_at
            return
        reminder.id = self.s.next_id("reminder")
        self.s.reminders[reminder.id] = _c(reminder)

    async def cancel(self, kind: ReminderKind, subject_id: int, at: datetime) -> int:
        existing = self._pending(kind, subject_id)
        if existing is None:
            return 0
        existing.cancelled_at = at
        return 1

    async def claim(self, reminder_id: int, at: datetime) -> bool:
        r = self.s.reminders.get(reminder_id)
        if r is None or not r.pending or r.due_at > at:
            return False
        r.fired_at = at
        return True

    async def get(self, reminder_id: int) -> Reminder | None:
        return _c(self.s.reminders.get(reminder_id))

    async def due(self, now: datetime, limit: int = 100) -> builtins.list[Reminder]:
        return [r for r in await self.upcoming(len(self.s.reminders)) if r.due_at <= now][:limit]

    async def upcoming(self, limit: int) -> builtins.list[Reminder]:
        pending = [r for r in self.s.reminders.values() if r.pending]
        return _c(sorted(pending, key=lambda r: (r.due_at, r.id or 0))[:limit])

    async def pending_among(self, reminder_ids: Any) -> list[Reminder]:
        found = (self.s.reminders.get(i) for i in reminder_ids)
        return _c([r for r in found if r is not None and r.pending])

    async def list(self, incident_id: int) -> list[Reminder]:
        return _c([r for r in self.s.reminders.values() if r.incident_id == incident_id])


class FakePaging(_Repo):
    """Like the SQL one, without the leases mattering (one sender at a time in unit tests)."""

    async def add_pager(self, pager: Pager) -> None:
        pager.id = self.s.next_id("pager")
        self.s.pagers[pager.id] = _c(pager)

    async def pager(self, guild_id: int, pager_id: int) -> Pager | None:
        found = self.s.pagers.get(pager_id)
        return _c(found) if found and found.guild_id == guild_id else None

    async def pagers(self, guild_id: int) -> list[Pager]:
        found = [p for p in self.s.pagers.values() if p.guild_id == guild_id]
        return _c(sorted((p for p in found if p.removed_at is None), key=lambda p: p.id or 0))

    async def save_pager(self, pager: Pager) -> None:
        assert pager.id in self.s.pagers
        self.s.pagers[pager.id] = _c(pager)

    async def active_pagers(self) -> list[Pager]:
        return _c([p for p in self.s.pagers.values() if p.removed_at is None])

    def _tests(self) -> list[PagerPage]:
        return [
            p
            for p in self.s.pager_pages.values()
            if p.kind is PageKind.TEST and p.sent_at and not p.answered_at and not p.given_up_at
        ]

    async def unanswered_tests(self, sent_before: datetime) -> list[PagerPage]:
        return _c([p for p in self._tests() if p.sent_at and p.sent_at <= sent_before])

    async def test_timers(self) -> list[datetime]:
        return [p.sent_at + TEST_ANSWER_WITHIN for p in self._tests() if p.sent_at]

    async def add_page(self, page: PagerPage) -> None:
        page.id = self.s.next_id("page")
        self.s.pager_pages[page.id] = _c(page)

    async def page(self, page_id: int) -> PagerPage | None:
        return _c(self.s.pager_pages.get(page_id))

    async def waiting_page(self, pager_id: int, kind: str, level: int) -> PagerPage | None:
        for page in sorted(self.s.pager_pages.values(), key=lambda p: -(p.id or 0)):
            if (page.pager_id, page.kind, page.level) == (pager_id, kind, level) and (
                page.waiting and page.attempts == 0 and page.claimed_until is None
            ):
                return _c(page)
        return None

    async def save_page(self, page: PagerPage) -> None:
        assert page.id in self.s.pager_pages
        self.s.pager_pages[page.id] = _c(page)

    async def claim_pages(self, now: datetime, lease_until: datetime, limit: int) -> list[Any]:
        due = [
            p
            for p in self.s.pager_pages.values()
            if p.waiting and p.not_before <= now and (not p.claimed_until or p.claimed_until <= now)
        ]
        due.sort(key=lambda p: (p.not_before, p.id))
        for page in due[:limit]:
            page.claimed_until = lease_until
        return _c(due[:limit])

    async def next_page_due(self) -> datetime | None:
        times = [p.claimed_until or p.not_before for p in self.s.pager_pages.values() if p.waiting]
        return min(times, default=None)

    async def add_ack_link(self, link: AckLink) -> None:
        link.id = self.s.next_id("ack_link")
        self.s.ack_links[link.id] = _c(link)

    async def ack_link(self, code_hash: str) -> AckLink | None:
        return _c(next((x for x in self.s.ack_links.values() if x.code_hash == code_hash), None))

    async def use_ack_link(self, link_id: int, at: datetime) -> bool:
        link = self.s.ack_links.get(link_id)
        if link is None or link.used_at is not None:
            return False
        link.used_at = at
        return True

    async def add_notice(self, notice: Notice) -> None:
        notice.id = self.s.next_id("notice")
        self.s.notices[notice.id] = _c(notice)

    async def notice(self, notice_id: int) -> Notice | None:
        return _c(self.s.notices.get(notice_id))


class FakeOncall(_Repo):
    async def rotation(self, guild_id: int) -> Rotation | None:
        return _c(self.s.rotations.get(guild_id))

    async def save_rotation(self, rotation: Rotation) -> None:
        self.s.rotations[rotation.guild_id] = _c(rotation)

    async def delete_rotation(self, guild_id: int) -> None:
        self.s.rotations.pop(guild_id, None)

    async def due_rotations(self, now: datetime) -> list[Rotation]:
        return _c([r for r in self.s.rotations.values() if r.next_handoff_at <= now])

    async def add_shift(self, shift: Shift) -> None:
        shift.id = self.s.next_id("shift")
        self.s.shifts[shift.id] = _c(shift)

    async def save_shift(self, shift: Shift) -> None:
        assert shift.id in self.s.shifts
        self.s.shifts[shift.id] = _c(shift)

    async def shifts(self, guild_id: int) -> list[Shift]:
        found = [s for s in self.s.shifts.values() if s.guild_id == guild_id and not s.ended_at]
        return _c(sorted(found, key=lambda s: (s.starts_at, s.id)))

    async def due_shifts(self, now: datetime) -> list[Shift]:
        return _c([s for s in self.s.shifts.values() if not s.ended_at and s.ends_at <= now])

    async def timers(self, limit: int) -> list[tuple[str, datetime]]:
        found = [(f"handoff:{r.guild_id}", r.next_handoff_at) for r in self.s.rotations.values()]
        found += [(f"shift:{s.id}", s.ends_at) for s in self.s.shifts.values() if not s.ended_at]
        return found[:limit]


class FakePages(_Repo):
    async def add_many(self, pages: Any) -> None:
        for page in pages:
            page.id = self.s.next_id("page")
            self.s.pages[page.id] = _c(page)

    async def for_alerts(self, alert_ids: Any) -> list[Page]:
        wanted = set(alert_ids)
        found = [p for p in self.s.pages.values() if p.alert_id in wanted]
        return _c(sorted(found, key=lambda p: (p.sent_at, p.id)))


class FakeHeartbeats(_Repo):
    def _active(self, hb: Heartbeat) -> bool:
        hook = self.s.webhooks.get(hb.webhook_id)
        return hook is not None and hook.active

    async def add(self, heartbeat: Heartbeat) -> None:
        self.s.heartbeats[heartbeat.webhook_id] = _c(heartbeat)

    async def get(self, webhook_id: int) -> Heartbeat | None:
        return _c(self.s.heartbeats.get(webhook_id))

    async def for_guild(self, guild_id: int) -> list[Heartbeat]:
        return [_c(h) for _, h in sorted(self.s.heartbeats.items()) if h.guild_id == guild_id]

    async def ping(self, webhook_id: int, at: datetime) -> Heartbeat | None:
        hb = self.s.heartbeats.get(webhook_id)
        if hb is None:
            return None
        hb.last_ping_at, hb.missed_at, hb.due_at = at, None, at + hb.silence
        return _c(hb)

    async def due(self, now: datetime, limit: int) -> list[Heartbeat]:
        found = [
            h
            for h in self.s.heartbeats.values()
            if self._active(h) and h.missed_at is None and h.due_at is not None and h.due_at <= now
        ]
        return [_c(h) for h in sorted(found, key=lambda h: (h.due_at, h.webhook_id))][:limit]

    async def claim_missed(self, webhook_id: int, now: datetime) -> bool:
        hb = self.s.heartbeats.get(webhook_id)
        if hb is None or hb.missed_at is not None or hb.due_at is None or hb.due_at > now:
            return False
        hb.missed_at, hb.due_at = now, None
        return True

    async def move_deadline(self, webhook_id: int, due_at: datetime, before: datetime) -> None:
        hb = self.s.heartbeats.get(webhook_id)
        if hb is not None and hb.missed_at is None and hb.due_at is not None and hb.due_at < before:
            hb.due_at = due_at

    async def deadlines(self, limit: int) -> list[tuple[int, datetime]]:
        found = [
            (h.webhook_id, h.due_at)
            for h in self.s.heartbeats.values()
            if self._active(h) and h.due_at is not None
        ]
        return sorted(found, key=lambda pair: (pair[1], pair[0]))[:limit]


class FakeCertWatches(_Repo):
    async def add(self, watch: CertWatch) -> None:
        watch.id = self.s.next_id("cert_watches")
        self.s.cert_watches[watch.id] = _c(watch)

    async def get(self, watch_id: int) -> CertWatch | None:
        return _c(self.s.cert_watches.get(watch_id))

    async def for_guild(self, guild_id: int) -> list[CertWatch]:
        return [_c(w) for _, w in sorted(self.s.cert_watches.items()) if w.guild_id == guild_id]

    async def find(self, guild_id: int, host: str, port: int) -> CertWatch | None:
        for w in self.s.cert_watches.values():
            if (w.guild_id, w.host, w.port) == (guild_id, host, port):
                return _c(w)
        return None

    async def remove(self, watch_id: int) -> None:
        self.s.cert_watches.pop(watch_id, None)

    async def save(self, watch: CertWatch) -> None:
        assert watch.id is not None
        self.s.cert_watches[watch.id] = _c(watch)

    async def claim_due(self, now: datetime, lease_until: datetime, limit: int) -> list[CertWatch]:
        due = sorted(
            (w for w in self.s.cert_watches.values() if w.next_check_at <= now),
            key=lambda w: (w.next_check_at, w.id),
        )[:limit]
        for w in due:
            w.next_check_at = lease_until
        return [_c(w) for w in due]

    async def check_soon(self, guild_id: int, at: datetime) -> None:
        for w in self.s.cert_watches.values():
            if w.guild_id == guild_id and w.next_check_at > at:
                w.next_check_at = at

    async def next_checks(self, limit: int) -> list[tuple[int, datetime]]:
        found = [(w.id or 0, w.next_check_at) for w in self.s.cert_watches.values()]
        return sorted(found, key=lambda pair: (pair[1], pair[0]))[:limit]


class FakeUnitOfWork:
    """Works on a private copy of the store; commit publishes it."""

    # Typed as the ports (their attributes are writable, so exactly these types).
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
    pages: PageRepository
    heartbeats: HeartbeatRepository
    cert_watches: CertWatchRepository
    statuspage: StatusPageRepository

    def __init__(self, db: FakeDatabase, *, read_only: bool = False) -> None:
        self._db = db
        self.read_only = read_only
        self.committed = False

    def reading(self) -> FakeUnitOfWork:
        """A unit of work that may only read, as the SQL one's `reading()`."""
        self._db.reads += 1
        return FakeUnitOfWork(self._db, read_only=True)

    async def __aenter__(self) -> FakeUnitOfWork:
        self._work = _c(self._db.store)
        for name, repo in REPOS.items():
            setattr(self, name, repo(self._work))
        return self

    async def __aexit__(self, *exc: object) -> None:
        return None  # uncommitted work is simply dropped

    async def commit(self) -> None:
        if self.read_only:
            raise RuntimeError("a read-only unit of work cannot commit")
        self._db.store = _c(self._work)
        self.committed = True

    async def rollback(self) -> None:
        self._work = _c(self._db.store)


REPOS: dict[str, Callable[[Store], object]] = {
    "guilds": FakeGuilds,
    "incidents": FakeIncidents,
    "timeline": FakeTimeline,
    "actions": FakeActions,
    "notes": FakeNotes,
    "alerts": FakeAlerts,
    "webhooks": FakeWebhooks,
    "meta": FakeMeta,
    "outbox": FakeOutbox,
    "reminders": FakeReminders,
    "paging": FakePaging,
    "oncall": FakeOncall,
    "statuspage": FakeStatusPage,
    "pages": FakePages,
    "heartbeats": FakeHeartbeats,
    "cert_watches": FakeCertWatches,
}


class FakeDatabase:
    """The committed store, and a factory of units of work over it."""

    def __init__(self) -> None:
        self.store = Store()
        self.reads = 0  # read-only units of work handed out

    def uow(self) -> FakeUnitOfWork:
        return FakeUnitOfWork(self)

    def events(self) -> list[Event]:
        return [e.event for e in self.store.outbox]


if TYPE_CHECKING:  # the fakes implement the ports (checked by mypy --strict)
    _factory: UnitOfWorkFactory = FakeDatabase().uow
    _uow: UnitOfWork = FakeUnitOfWork(FakeDatabase())
    _repos: tuple[
        GuildRepository,
        IncidentRepository,
        TimelineRepository,
        ActionRepository,
        NoteRepository,
        AlertRepository,
        WebhookRepository,
        MetaRepository,
        OutboxRepository,
        ReminderRepository,
        PageRepository,
        HeartbeatRepository,
        CertWatchRepository,
        StatusPageRepository,
    ] = (
        FakeGuilds(Store()),
        FakeIncidents(Store()),
        FakeTimeline(Store()),
        FakeActions(Store()),
        FakeNotes(Store()),
        FakeAlerts(Store()),
        FakeWebhooks(Store()),
        FakeMeta(Store()),
        FakeOutbox(Store()),
        FakeReminders(Store()),
        FakePages(Store()),
        FakeHeartbeats(Store()),
        FakeCertWatches(Store()),
        FakeStatusPage(Store()),
    )
