"""Use cases: every door (Discord, HTTP, the clock) calls these, so each rule lives once."""

from __future__ import annotations

from dataclasses import dataclass

from bot.core.ports import CertificateProbe, Clock, UnitOfWorkFactory
from bot.core.services._base import IncidentRef
from bot.core.services.alerts import AlertService, Ingested, ingest_signals
from bot.core.services.guilds import GuildService, WebhookService
from bot.core.services.incidents import IncidentService
from bot.core.services.reminders import ReminderService, TimerService
from bot.core.services.statuspage import StatusPageService
from bot.core.services.timeline import (
    ActionService,
    ChatMessage,
    PostmortemService,
    TimelineService,
)
from bot.core.services.watch import CertWatchService, HeartbeatService

__all__ = [
    "ActionService",
    "AlertService",
    "CertWatchService",
    "ChatMessage",
    "GuildService",
    "HeartbeatService",
    "IncidentRef",
    "IncidentService",
    "Ingested",
    "PostmortemService",
    "ReminderService",
    "Services",
    "StatusPageService",
    "TimelineService",
    "TimerService",
    "WebhookService",
    "ingest_signals",
]


@dataclass(frozen=True)
class Services:
    """Every use-case group, built once by the composition root."""

    guilds: GuildService
    incidents: IncidentService
    timeline: TimelineService
    actions: ActionService
    postmortem: PostmortemService
    alerts: AlertService
    webhooks: WebhookService
    reminders: ReminderService
    timers: TimerService
    statuspage: StatusPageService
    heartbeats: HeartbeatService
    certs: CertWatchService

    @classmethod
    def build(
        cls,
        uow_factory: UnitOfWorkFactory,
        clock: Clock,
        *,
        probe: CertificateProbe | None = None,
    ) -> Services:
        """Wire every service to the same storage and clock (`probe`: the TLS checker)."""
        return cls(
            guilds=GuildService(uow_factory, clock),
            incidents=IncidentService(uow_factory, clock),
            timeline=TimelineService(uow_factory, clock),
            actions=ActionService(uow_factory, clock),
            postmortem=PostmortemService(uow_factory, clock),
            alerts=AlertService(uow_factory, clock),
            webhooks=WebhookService(uow_factory, clock),
            reminders=ReminderService(uow_factory, clock),
            timers=TimerService(uow_factory, clock),
            statuspage=StatusPageService(uow_factory, clock),
            heartbeats=HeartbeatService(uow_factory, clock),
            certs=CertWatchService(uow_factory, clock, probe),
        )
