"""Batched ingest against the one-notification-at-a-time reference, on any storage.

`ingest_batch` groups its reads and writes; it must leave storage exactly as applying each
notification on its own would (the code it replaced, kept here as `one_by_one`): the same
outcomes, alerts, relay events and timeline entries, in the same order. The same scenarios
run over the fakes (unit tests, many random ones) and over SQLite and PostgreSQL
(integration tests, where two guilds of one database take the two paths).
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from dataclasses import asdict
from datetime import datetime
from typing import Any

from bot.core.alerts import Alert, AlertSignal, AlertSource, Outcome, SignalAction, apply_signal
from bot.core.events import Topic
from bot.core.model import GuildConfig, Member, Person, Severity
from bot.core.ports import UnitOfWork
from bot.core.services import IncidentRef, Ingested, Services
from bot.core.services.alerts import _store, ingest_batch
from bot.core.webhooks import Webhook

Request = tuple[Webhook, Sequence[AlertSignal]]
UowFactory = Callable[[], UnitOfWork]
STREAMS = ("s1", "s2", "s3")
EPISODES = ("2026-03-01T10:00:00Z", "2026-03-01T11:00:00.5Z")
TITLES = ("down", "still down", "")
ADMIN = Member(Person(1, "alice"), frozenset(), manage_guild=True)
_IDS = {"id", "guild_id", "webhook_id", "incident_id"}  # differ between guilds


async def one_by_one(
    uow: UnitOfWork, webhook: Webhook, signals: Sequence[AlertSignal], now: datetime
) -> list[Ingested]:
    """The reference: each notification looked up and stored on its own."""
    config = await uow.guilds.get(webhook.guild_id) or GuildConfig(webhook.guild_id)
    results = []
    for signal in signals:
        if signal.episode_key is not None:
            existing = await uow.alerts.find_episode(
                webhook.guild_id, signal.source, signal.stream_key, signal.episode_key
            )
        else:
            existing = await uow.alerts.find_open(
                webhook.guild_id, signal.source, signal.stream_key
            )
        outcome, alert = apply_signal(
            existing,
            signal,
            guild_id=webhook.guild_id,
            received_at=now,
            config=config,
            webhook_id=webhook.id,
        )
        if alert is not None and outcome is not Outcome.IGNORED:
            await _store(uow, alert, outcome, now)
        results.append(Ingested(outcome, alert))
    return results


def random_signal(rng: random.Random, keyed: bool) -> AlertSignal:
    """Alertmanager-like (named episodes: firing or resolved) or Events-like (the open one)."""
    stream, title = rng.choice(STREAMS), rng.choice(TITLES)
    if keyed:
        action = rng.choice([SignalAction.TRIGGER] * 3 + [SignalAction.RESOLVE])
        return AlertSignal(
            AlertSource.ALERTMANAGER,
            action,
            stream,
            f"{stream} am",
            title,
            episode_key=rng.choice(EPISODES),
        )
    action = rng.choice(
        [SignalAction.TRIGGER] * 3 + [SignalAction.RESOLVE, SignalAction.ACKNOWLEDGE]
    )
    return AlertSignal(AlertSource.EVENTS, action, stream, f"{stream} agent", title)


def random_batch(rng: random.Random, hooks: Sequence[Webhook]) -> list[Request]:
    """1–6 requests of 1–5 notifications each, from either webhook."""
    batch: list[Request] = []
    for _ in range(rng.randint(1, 6)):
        hook = rng.choice(hooks)
        keyed = hook.source is AlertSource.ALERTMANAGER
        batch.append((hook, [random_signal(rng, keyed) for _ in range(rng.randint(1, 5))]))
    return batch


async def set_up_guild(
    services: Services, uow_factory: UowFactory, guild_id: int, now: datetime, *, follow: bool
) -> list[Webhook]:
    """An Alertmanager and an Events webhook of the guild. With `follow`, stream s1 of both
    already has an alert on an open incident, so the batch's new s1 alerts go onto its
    timeline: the one-at-a-time path inside a batch."""
    hooks = [
        (await services.webhooks.create(guild_id, source, None, None))[0]
        for source in (AlertSource.ALERTMANAGER, AlertSource.EVENTS)
    ]
    if follow:
        first = [
            AlertSignal(
                AlertSource.ALERTMANAGER,
                SignalAction.TRIGGER,
                "s1",
                "s1 am",
                "earlier",
                episode_key="2026-02-28T00:00:00Z",
            ),
            AlertSignal(AlertSource.EVENTS, SignalAction.TRIGGER, "s1", "s1 agent", "earlier"),
        ]
        alert_ids = []
        for hook, sig in zip(hooks, first, strict=True):
            async with uow_factory() as uow:
                [done] = await one_by_one(uow, hook, [sig], now)
                await uow.commit()
            assert done.alert is not None and done.alert.id is not None
            alert_ids.append(done.alert.id)
        incident = await services.incidents.declare(
            guild_id, ADMIN, title="On fire", severity=Severity.SEV2, alert_id=alert_ids[0]
        )
        ref = IncidentRef(number=incident.number)
        await services.alerts.attach(guild_id, ADMIN, alert_ids[1], ref)
    return hooks


async def run(
    uow_factory: UowFactory, batch: Sequence[Request], now: datetime, *, batched: bool
) -> list[list[Ingested]]:
    """The batch in one unit of work, through `ingest_batch` or the reference."""
    async with uow_factory() as uow:
        if batched:
            results = await ingest_batch(uow, batch, now)
        else:
            results = [await one_by_one(uow, hook, signals, now) for hook, signals in batch]
        await uow.commit()
    return results


def _fields(alert: Alert) -> dict[str, Any]:
    return {k: v for k, v in asdict(alert).items() if k not in _IDS} | {
        "attached": alert.incident_id is not None
    }


def view_results(results: list[list[Ingested]]) -> list[list[tuple[Outcome, Any]]]:
    """Each result's outcome and the alert it holds (as it was then), ids left out."""
    return [
        [(r.outcome, None if r.alert is None else _fields(r.alert)) for r in request]
        for request in results
    ]


async def view_storage(uow_factory: UowFactory, guild_id: int) -> dict[str, Any]:
    """The guild's alerts, pending events and incident timelines, ids replaced by order."""
    async with uow_factory() as uow:
        events = [e.event for e in await uow.outbox.pending(limit=100_000)]
        events = [e for e in events if e.guild_id == guild_id]
        incidents = await uow.incidents.list(guild_id)
        alerts: list[Alert] = []
        entries = []
        for incident in sorted(incidents, key=lambda i: i.number):
            assert incident.id is not None
            alerts += await uow.alerts.for_incident(incident.id)
            entries += await uow.timeline.list(incident.id)
        alert_ids = {e.subject_id for e in events if e.topic is Topic.ALERT_CHANGED}
        alert_ids |= {a.id for a in alerts if a.id is not None}
        stored = {a.id: a for a in alerts}
        for alert_id in alert_ids - set(stored):
            alert = await uow.alerts.get(alert_id)
            assert alert is not None
            stored[alert_id] = alert
    numbers = {i.id: i.number for i in incidents}
    rank = {alert_id: n for n, alert_id in enumerate(sorted(stored))}
    subjects = {
        Topic.ALERT_CHANGED: rank,
        Topic.ENTRY_ADDED: {e.id: (numbers[e.incident_id], e.seq) for e in entries},
        Topic.INCIDENT_CHANGED: numbers,
    }
    return {
        "alerts": [_fields(stored[alert_id]) for alert_id in sorted(stored)],
        "events": [(e.topic, subjects[e.topic][e.subject_id]) for e in events],
        "entries": [
            (numbers[e.incident_id], e.seq, e.kind, e.text, e.event_at, rank.get(e.alert_id))
            for e in entries
        ],
        "incidents": [(i.number, i.detected_at, i.started_at) for i in incidents],
    }
