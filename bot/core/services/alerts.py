"""Alert use cases: ingest notifications, acknowledge, attach to incidents, escalate."""

from __future__ import annotations

import copy
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from bot.core import lifecycle, milestones
from bot.core.alerts import (
    Alert,
    AlertSignal,
    EscalationTarget,
    Outcome,
    acknowledge,
    apply_signal,
    escalate,
    followed_stream,
)
from bot.core.errors import ConflictError, NotFoundError
from bot.core.events import Event, Topic
from bot.core.model import EntryKind, EntrySource, GuildConfig, Incident, Member, Person
from bot.core.oncall import skip_to_escalation
from bot.core.pages import Page, page_text, role_page
from bot.core.permissions import ensure_can_change
from bot.core.ports import EpisodeId, StreamId, UnitOfWork
from bot.core.services._base import (
    IncidentRef,
    Service,
    find_incident,
    incident_changed,
    record,
    record_milestones,
)
from bot.core.services.pager_queue import nobody_on_duty, page_alerts
from bot.core.statuspage import Maintenance, quiet_in_maintenance
from bot.core.webhooks import Webhook

# Alerts due within this of each other escalate together (so they share one ping); the
# later ones a little early, each keeping its own schedule.
ESCALATION_TOGETHER = timedelta(seconds=5)
ESCALATION_BATCH = 500  # due escalations written per transaction (a guild's group
# larger than this is pinged once per batch: see docs/relay.md)


@dataclass(frozen=True)
class Ingested:
    """What one notification did, and to which stored alert."""

    outcome: Outcome
    alert: Alert | None


async def ingest_signals(
    uow: UnitOfWork,
    webhook: Webhook,
    signals: Sequence[AlertSignal],
    now: datetime,
) -> list[Ingested]:
    """Apply a webhook's notifications inside an open unit of work (the caller commits).

    Taking the unit of work lets the webhook path batch many requests into one commit.
    """
    [results] = await ingest_batch(uow, [(webhook, signals)], now)
    return results


async def ingest_batch(
    uow: UnitOfWork,
    requests: Sequence[tuple[Webhook, Sequence[AlertSignal]]],
    now: datetime,
) -> list[list[Ingested]]:
    """Apply several requests' notifications, in order, inside an open unit of work.

    The outcome is exactly that of `ingest_signals` on each request in turn; only the
    storage calls are grouped: the alerts the batch names are read in one go, new alerts,
    changes and relay events are written together, and only an alert whose stream is
    followed onto an incident takes the one-at-a-time path (after what came before it).
    """
    batch = _Batch(uow, now)
    await batch.load(requests)
    results = [
        [await batch.apply(webhook, signal) for signal in signals] for webhook, signals in requests
    ]
    await batch.flush()
    return results


_Order = tuple[int, int]  # (0, id) for stored alerts, (1, n) for the nth made in this batch


class _Slot:
    """One alert during a batch: `alert` is its latest copy, `copies` all those handed out."""

    __slots__ = ("alert", "copies", "new", "order")

    def __init__(self, alert: Alert, *, new: bool, order: _Order) -> None:
        self.alert = alert
        self.copies = [alert]
        self.new = new  # not inserted yet
        self.order = order  # ties on started_at go to the later alert, as in `find_open`


class _Batch:
    """The alerts one batch reads and writes, kept in memory between one read and one write.

    Each notification sees what the ones before it did, as if each had gone to storage:
    it works on a copy of an alert an earlier result already holds, finds alerts made
    earlier in the batch, and "the stream's open alert" is the latest firing one.
    """

    def __init__(self, uow: UnitOfWork, now: datetime) -> None:
        self.uow = uow
        self.now = now
        self.configs: dict[int, GuildConfig] = {}
        self.episodes: dict[EpisodeId, _Slot] = {}
        self.streams: dict[StreamId, list[_Slot]] = {}  # candidates for the open alert
        self.batch_streams: set[StreamId] = set()
        self.followed: set[StreamId] | None = None  # streams attached to an open incident
        self.handed_out: set[int] = set()  # id() of alert objects already in a result
        self.made = 0
        self.to_insert: list[_Slot] = []
        self.to_save: dict[int, _Slot] = {}
        self.to_announce: list[_Slot] = []
        self.windows: list[Maintenance] = []  # maintenance running now, in the batch's guilds

    async def load(self, requests: Sequence[tuple[Webhook, Sequence[AlertSignal]]]) -> None:
        """Read every guild config, named episode and open alert the batch can touch."""
        episodes: set[EpisodeId] = set()
        open_streams: set[StreamId] = set()
        for webhook, signals in requests:
            guild_id = webhook.guild_id
            if guild_id not in self.configs:
                self.configs[guild_id] = await self.uow.guilds.get(guild_id) or GuildConfig(
                    guild_id
                )
            for signal in signals:
                stream = (guild_id, signal.source, signal.stream_key)
                self.batch_streams.add(_followed_id(guild_id, signal))
                if signal.episode_key is not None:
                    episodes.add((*stream, signal.episode_key))
                else:
                    open_streams.add(stream)
        self.windows = await self.uow.statuspage.covering(self.configs, self.now)
        slots: dict[int, _Slot] = {}

        def slot_of(alert: Alert) -> _Slot:
            assert alert.id is not None
            slot = slots.get(alert.id)
            if slot is None:
                slot = slots[alert.id] = _Slot(alert, new=False, order=(0, alert.id))
                self.streams.setdefault(_stream(alert), []).append(slot)
            return slot

        if episodes:
            for alert in await self.uow.alerts.find_episodes(episodes):
                assert alert.episode_key is not None
                self.episodes[(*_stream(alert), alert.episode_key)] = slot_of(alert)
        if open_streams:
            for alert in await self.uow.alerts.find_firing(open_streams):
                slot_of(alert)

    async def apply(self, webhook: Webhook, signal: AlertSignal) -> Ingested:
        """One notification, as `ingest_signals` applies it."""
        guild_id = webhook.guild_id
        stream = (guild_id, signal.source, signal.stream_key)
        if signal.episode_key is not None:
            slot = self.episodes.get((*stream, signal.episode_key))
        else:
            slot = self._open(stream)
        outcome, alert = apply_signal(
            self._writable(slot) if slot is not None else None,
            signal,
            guild_id=guild_id,
            received_at=self.now,
            config=self.configs[guild_id],
            webhook_id=webhook.id,
        )
        if outcome is Outcome.NEW:
            assert alert is not None
            quiet_in_maintenance(alert, self.windows, self.now)
            slot = self._made(alert, stream)
            if _followed_id(guild_id, signal) in await self._followed():
                await self._store_now(slot, outcome)
            else:
                self.to_insert.append(slot)
                self.to_announce.append(slot)
        elif alert is not None and outcome is not Outcome.IGNORED:
            assert slot is not None
            if outcome is Outcome.RESOLVED and alert.incident_id is not None:
                await self._store_now(slot, outcome)
            else:
                if not slot.new:
                    self.to_save[id(slot)] = slot
                self.to_announce.append(slot)
        if alert is not None:
            self.handed_out.add(id(alert))
        return Ingested(outcome, alert)

    async def flush(self) -> None:
        """Write what is pending: changed alerts, new alerts, then their relay events.

        Changes go first: they can only close alerts (firing → resolved), and a stream's
        new firing alert must not meet its resolved predecessor still firing in storage.
        """
        if self.to_save:
            await self.uow.alerts.save_many([slot.alert for slot in self.to_save.values()])
            self.to_save.clear()
        if self.to_insert:
            await self.uow.alerts.add_many([slot.alert for slot in self.to_insert])
            for slot in self.to_insert:
                alert_id = slot.alert.id
                assert alert_id is not None
                for copy_ in slot.copies:
                    copy_.id = alert_id
                slot.new, slot.order = False, (0, alert_id)
            self.to_insert.clear()
        if self.to_announce:
            events = []
            for slot in self.to_announce:
                assert slot.alert.id is not None
                events.append(Event(Topic.ALERT_CHANGED, slot.alert.guild_id, slot.alert.id))
            await self.uow.outbox.add_many(events)
            self.to_announce.clear()

    async def _store_now(self, slot: _Slot, outcome: Outcome) -> None:
        """An alert that reaches an incident: write what came before, then this one alone."""
        await self.flush()
        await _store(self.uow, slot.alert, outcome, self.now)
        assert slot.alert.id is not None
        slot.new, slot.order = False, (0, slot.alert.id)

    async def _followed(self) -> set[StreamId]:
        """The batch's streams an earlier alert attached to an open incident (read once: the
        batch attaches alerts only to streams already in it, and changes no incident status)."""
        if self.followed is None:
            self.followed = await self.uow.alerts.streams_with_open_incident(self.batch_streams)
        return self.followed

    def _open(self, stream: StreamId) -> _Slot | None:
        """The stream's latest firing alert, as `find_open` would read it now."""
        firing = [slot for slot in self.streams.get(stream, ()) if slot.alert.is_open]
        return max(firing, key=lambda s: (s.alert.started_at, s.order), default=None)

    def _writable(self, slot: _Slot) -> Alert:
        """The alert to change: a fresh copy when an earlier result holds the current one."""
        alert = slot.alert
        if id(alert) in self.handed_out:
            alert = copy.copy(alert)
            alert.details = dict(alert.details)
            slot.alert = alert
            slot.copies.append(alert)
        return alert

    def _made(self, alert: Alert, stream: StreamId) -> _Slot:
        """Remember an alert opened in this batch, so later notifications find it."""
        self.made += 1
        slot = _Slot(alert, new=True, order=(1, self.made))
        self.streams.setdefault(stream, []).append(slot)
        if alert.episode_key is not None:
            self.episodes[(*stream, alert.episode_key)] = slot
        return slot


def _stream(alert: Alert) -> StreamId:
    return (alert.guild_id, alert.source, alert.stream_key)


def _followed_id(guild_id: int, signal: AlertSignal) -> StreamId:
    """The stream whose open incident a new alert of `signal` joins (a notice: its monitor's)."""
    return (guild_id, signal.source, followed_stream(signal.stream_key, notice=signal.notice))


async def _store(uow: UnitOfWork, alert: Alert, outcome: Outcome, now: datetime) -> None:
    """Persist an alert change, follow its stream onto an open incident, queue the relay."""
    if outcome is Outcome.NEW:
        await uow.alerts.add(alert)
        incident_id = await uow.alerts.attached_incident(
            alert.guild_id, alert.source, followed_stream(alert.stream_key, notice=alert.notice)
        )
        incident = await uow.incidents.get_by_id(incident_id) if incident_id else None
        if incident is not None:
            await attach_alert(uow, incident, alert, now)
            await incident_changed(uow, incident)
    else:
        await uow.alerts.save(alert)
        if outcome is Outcome.RESOLVED and alert.incident_id is not None:
            incident = await uow.incidents.get_by_id(alert.incident_id)
            assert incident is not None and alert.resolved_at is not None
            await _record_alert(
                uow, incident, alert, f"Alert resolved: {alert.title}", alert.resolved_at, now
            )
    assert alert.id is not None
    await uow.outbox.add(Event(Topic.ALERT_CHANGED, alert.guild_id, alert.id))


async def attach_alert(
    uow: UnitOfWork,
    incident: Incident,
    alert: Alert,
    now: datetime,
    actor: Person | None = None,
) -> None:
    """Put the alert, and the pages already sent for it, on the incident's timeline; its fired
    time and acknowledgement may move detection, acknowledgement and impact earlier."""
    if alert.incident_id == incident.id:
        raise ConflictError(f"That alert is already attached to {incident.label}.")
    lifecycle.ensure_not_closed(incident)
    alert.incident_id = incident.id
    await uow.alerts.save(alert)
    what = "Notice" if alert.notice else "Alert firing"
    text = f"{what}: {alert.title} ({alert.monitor})"
    await _record_alert(uow, incident, alert, text, alert.started_at, now)
    if alert.resolved_at is not None:
        await _record_alert(
            uow, incident, alert, f"Alert resolved: {alert.title}", alert.resolved_at, now
        )
    assert alert.id is not None
    for page in await uow.pages.for_alerts([alert.id]):  # paged before it was attached
        await _record_page(uow, incident, alert, page, now)
    changes = milestones.note_alert(incident, alert)
    await record_milestones(uow, incident, changes, actor, now)


async def take_alert(
    uow: UnitOfWork, incident: Incident | None, alert: Alert, actor: Person, now: datetime
) -> None:
    """`actor` acknowledges the alert (its escalation stops); its incident hears of it."""
    acknowledge(alert, actor, now)
    await uow.alerts.save(alert)
    await uow.outbox.add(Event(Topic.ALERT_CHANGED, alert.guild_id, alert.id or 0))
    if incident is None:
        return
    text = f"Alert acknowledged by {actor.name}: {alert.title}"
    await record(
        uow,
        incident,
        kind=EntryKind.ALERT,
        text=text,
        at=now,
        now=now,
        author=actor,
        alert_id=alert.id,
    )
    changes = milestones.note_alert(incident, alert)
    await record_milestones(uow, incident, changes, actor, now)
    if changes:
        await incident_changed(uow, incident)


async def _record_page(
    uow: UnitOfWork, incident: Incident, alert: Alert, page: Page, now: datetime
) -> None:
    """A page as a system entry at the time it was sent."""
    await record(
        uow,
        incident,
        kind=EntryKind.PAGE,
        source=EntrySource.SYSTEM,
        text=page_text(page, alert),
        at=page.sent_at,
        now=now,
        author=None,
        alert_id=alert.id,
    )


async def _record_alert(
    uow: UnitOfWork, incident: Incident, alert: Alert, text: str, at: datetime, now: datetime
) -> None:
    await record(
        uow,
        incident,
        kind=EntryKind.ALERT,
        source=EntrySource.ALERT,
        text=text,
        at=at,
        now=now,
        author=None,
        alert_id=alert.id,
        jump_url=alert.link,
    )


async def record_pages(
    uow: UnitOfWork,
    escalated: Sequence[tuple[Alert, EscalationTarget]],
    configs: dict[int, GuildConfig],
    now: datetime,
) -> None:
    """The Discord pings of one escalation step as pages, each on its incident's timeline."""
    pages = [role_page(a, t, configs[a.guild_id], now) for a, t in escalated]
    await record_sent_pages(
        uow, [(alert, page) for (alert, _), page in zip(escalated, pages, strict=True)], now
    )


async def record_sent_pages(
    uow: UnitOfWork, sent: Sequence[tuple[Alert, Page]], now: datetime
) -> None:
    """Pages that went out (Discord pings or pagers) on the record, and each on the timeline
    of its alert's incident; an alert attached later brings its earlier pages along."""
    await uow.pages.add_many([page for _, page in sent])
    incidents: dict[int, Incident | None] = {}
    for alert, page in sent:
        if alert.incident_id is None:
            continue
        if alert.incident_id not in incidents:
            incidents[alert.incident_id] = await uow.incidents.get_by_id(alert.incident_id)
        incident = incidents[alert.incident_id]
        if incident is not None:
            await _record_page(uow, incident, alert, page, now)


class AlertService(Service):
    """Alert use cases started by people and by the clock."""

    async def acknowledge(self, guild_id: int, actor: Member, alert_id: int) -> Alert:
        """Someone takes the alert: escalation stops, the incident (if any) hears of it."""
        async with self._uow_factory() as uow:
            ensure_can_change(actor, await uow.guilds.get(guild_id))
            alert = await self._alert(uow, guild_id, alert_id)
            incident = None
            if alert.incident_id is not None:
                incident = await uow.incidents.get_by_id(alert.incident_id)
            await take_alert(uow, incident, alert, actor.person, self._clock.now())
            await uow.commit()
            return alert

    async def attach(
        self, guild_id: int, actor: Member, alert_id: int, ref: IncidentRef
    ) -> tuple[Alert, Incident]:
        """Attach an alert (and so its monitor, while the incident is open) to an incident."""
        async with self._uow_factory() as uow:
            ensure_can_change(actor, await uow.guilds.get(guild_id))
            alert = await self._alert(uow, guild_id, alert_id)
            incident = await find_incident(uow, guild_id, ref)
            now = self._clock.now()
            await attach_alert(uow, incident, alert, now, actor.person)
            await incident_changed(uow, incident)
            await uow.outbox.add(Event(Topic.ALERT_CHANGED, guild_id, alert_id))
            await uow.commit()
            return alert, incident

    async def escalate_due(self) -> list[tuple[Alert, EscalationTarget]]:
        """Advance every alert whose escalation time has come (or comes within
        `ESCALATION_TOGETHER`); the relay does the pinging (alerts of a guild due at the same
        level share one ping there) and the pagers page (one page per pager per level).

        Written in batches of `ESCALATION_BATCH` alerts, one transaction each, so a storm's
        escalations never hold the write lock for long; each alert keeps its own next time.
        Each step is a page on the record (and on the timeline of the alert's incident); the
        pages of one run share its time, as the ping they share does. An alert whose monitor
        is in a maintenance window is put in it instead, and never escalated; while the
        person on duty is away without a backup, on-call steps go to the escalation role."""
        now = self._clock.now()
        horizon = now + ESCALATION_TOGETHER
        configs: dict[int, GuildConfig] = {}
        nobody: dict[int, bool] = {}  # guild → on duty is away without a backup
        done: list[tuple[Alert, EscalationTarget]] = []
        while True:
            async with self._uow_factory() as uow:
                due = await uow.alerts.due_escalations(horizon, limit=ESCALATION_BATCH)
                guilds = {a.guild_id for a in due}
                windows = await uow.statuspage.covering(guilds, now) if due else []
                advanced, events, stepped = [], [], []
                levels: dict[tuple[int, EscalationTarget, int], list[Alert]] = {}
                for alert in due:
                    guild_id = alert.guild_id
                    if guild_id not in configs:
                        configs[guild_id] = await self._config(uow, guild_id)
                        nobody[guild_id] = await nobody_on_duty(uow, guild_id, now)
                    if quiet_in_maintenance(alert, windows, now):  # its monitor is in maintenance
                        assert alert.id is not None
                        advanced.append(alert)
                        events.append(Event(Topic.ALERT_CHANGED, guild_id, alert.id))
                        continue
                    # Due a moment from now: escalated with the others, as of its own time.
                    at = max(now, alert.next_escalation_at or now)
                    target = escalate(alert, configs[guild_id], at)
                    if target is None:
                        if alert.next_escalation_at is None:  # escalation turned off since
                            advanced.append(alert)
                        continue
                    if target is EscalationTarget.ONCALL and nobody[guild_id]:
                        target = skip_to_escalation(alert, configs[guild_id])
                    assert alert.id is not None
                    advanced.append(alert)
                    events.append(Event(Topic.ALERT_ESCALATED, guild_id, alert.id))
                    stepped.append((alert, target))
                    levels.setdefault((guild_id, target, alert.escalation_level), []).append(alert)
                await uow.alerts.save_many(advanced)
                await uow.outbox.add_many(events)
                for (guild_id, target, level), alerts in levels.items():
                    await page_alerts(uow, guild_id, target, level, alerts, now)  # the pagers
                await record_pages(uow, stepped, configs, now)
                await uow.commit()
            done += stepped
            # A batch that advanced nothing would be read again as it is: stop there.
            if len(due) < ESCALATION_BATCH or not advanced:
                return done

    async def record_relay(
        self,
        alert_ids: Collection[int],
        channel_id: int,
        message_id: int | None,
        delivered: Collection[int] = (),
    ) -> None:
        """Remember the #alerts message that shows these alerts (the relay's bookkeeping):
        their next changes edit it, and they are never posted again. Without `message_id`:
        they are being posted in that channel, the message is not known yet. `delivered`:
        outbox events the post finished, marked done in the same transaction."""
        async with self._uow_factory() as uow:
            await uow.alerts.set_relay(alert_ids, channel_id, message_id)
            if delivered:
                await uow.outbox.mark_done(sorted(delivered), self._clock.now())
            await uow.commit()

    async def get(self, guild_id: int, alert_id: int) -> Alert:
        """Read one alert of the guild."""
        async with self._reading() as uow:
            return await self._alert(uow, guild_id, alert_id)

    @staticmethod
    async def _alert(uow: UnitOfWork, guild_id: int, alert_id: int) -> Alert:
        alert = await uow.alerts.get(alert_id)
        if alert is None or alert.guild_id != guild_id:
            raise NotFoundError("That alert no longer exists.")
        return alert
