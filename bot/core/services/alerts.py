"""Alert use cases: ingest notifications, acknowledge, attach to incidents, escalate."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from bot.core import lifecycle
from bot.core.alerts import (
    Alert,
    AlertSignal,
    EscalationTarget,
    Outcome,
    acknowledge,
    apply_signal,
    escalate,
)
from bot.core.errors import ConflictError, NotFoundError
from bot.core.events import Event, Topic
from bot.core.model import EntryKind, EntrySource, GuildConfig, Incident, Member
from bot.core.permissions import ensure_can_change
from bot.core.ports import UnitOfWork
from bot.core.services._base import IncidentRef, Service, find_incident, incident_changed, record
from bot.core.webhooks import Webhook


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


async def _store(uow: UnitOfWork, alert: Alert, outcome: Outcome, now: datetime) -> None:
    """Persist an alert change, follow its stream onto an open incident, queue the relay."""
    if outcome is Outcome.NEW:
        await uow.alerts.add(alert)
        incident_id = await uow.alerts.attached_incident(
            alert.guild_id, alert.source, alert.stream_key
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


async def attach_alert(uow: UnitOfWork, incident: Incident, alert: Alert, now: datetime) -> None:
    """Put the alert on the incident's timeline; it may move detection and impact earlier."""
    if alert.incident_id == incident.id:
        raise ConflictError(f"That alert is already attached to {incident.label}.")
    lifecycle.ensure_not_closed(incident)
    alert.incident_id = incident.id
    lifecycle.note_detection(incident, alert.received_at, alert.started_at)
    await uow.alerts.save(alert)
    await _record_alert(
        uow,
        incident,
        alert,
        f"Alert firing: {alert.title} ({alert.monitor})",
        alert.started_at,
        now,
    )
    if alert.resolved_at is not None:
        await _record_alert(
            uow, incident, alert, f"Alert resolved: {alert.title}", alert.resolved_at, now
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


class AlertService(Service):
    """Alert use cases started by people and by the clock."""

    async def acknowledge(self, guild_id: int, actor: Member, alert_id: int) -> Alert:
        """Someone takes the alert: escalation stops, the incident (if any) hears of it."""
        async with self._uow_factory() as uow:
            ensure_can_change(actor, await uow.guilds.get(guild_id))
            alert = await self._alert(uow, guild_id, alert_id)
            now = self._clock.now()
            acknowledge(alert, actor.person, now)
            await uow.alerts.save(alert)
            await uow.outbox.add(Event(Topic.ALERT_CHANGED, guild_id, alert_id))
            if alert.incident_id is not None:
                incident = await uow.incidents.get_by_id(alert.incident_id)
                assert incident is not None
                text = f"Alert acknowledged by {actor.person.name}: {alert.title}"
                await record(
                    uow,
                    incident,
                    kind=EntryKind.ALERT,
                    text=text,
                    at=now,
                    now=now,
                    author=actor.person,
                    alert_id=alert.id,
                )
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
            await attach_alert(uow, incident, alert, now)
            await incident_changed(uow, incident)
            await uow.outbox.add(Event(Topic.ALERT_CHANGED, guild_id, alert_id))
            await uow.commit()
            return alert, incident

    async def escalate_due(self) -> list[tuple[Alert, EscalationTarget]]:
        """Advance every alert whose escalation time has come; the relay does the pinging."""
        async with self._uow_factory() as uow:
            now = self._clock.now()
            configs: dict[int, GuildConfig] = {}
            done = []
            for alert in await uow.alerts.due_escalations(now):
                if alert.guild_id not in configs:
                    configs[alert.guild_id] = await self._config(uow, alert.guild_id)
                target = escalate(alert, configs[alert.guild_id], now)
                if target is None:
                    continue
                await uow.alerts.save(alert)
                assert alert.id is not None
                await uow.outbox.add(Event(Topic.ALERT_ESCALATED, alert.guild_id, alert.id))
                done.append((alert, target))
            await uow.commit()
            return done

    async def get(self, guild_id: int, alert_id: int) -> Alert:
        """Read one alert of the guild."""
        async with self._uow_factory() as uow:
            return await self._alert(uow, guild_id, alert_id)

    @staticmethod
    async def _alert(uow: UnitOfWork, guild_id: int, alert_id: int) -> Alert:
        alert = await uow.alerts.get(alert_id)
        if alert is None or alert.guild_id != guild_id:
            raise NotFoundError("That alert no longer exists.")
        return alert
