"""SQL implementations of the core's repository ports, one class per Protocol."""

from bot.adapters.db.repositories.alerts import SqlAlertRepository, SqlWebhookRepository
from bot.adapters.db.repositories.incidents import SqlGuildRepository, SqlIncidentRepository
from bot.adapters.db.repositories.pages import SqlPageRepository
from bot.adapters.db.repositories.reminders import SqlReminderRepository
from bot.adapters.db.repositories.statuspage import SqlStatusPageRepository
from bot.adapters.db.repositories.system import SqlMetaRepository, SqlOutboxRepository
from bot.adapters.db.repositories.timeline import (
    SqlActionRepository,
    SqlNoteRepository,
    SqlTimelineRepository,
)
from bot.adapters.db.repositories.watch import SqlCertWatchRepository, SqlHeartbeatRepository

__all__ = [
    "SqlActionRepository",
    "SqlAlertRepository",
    "SqlCertWatchRepository",
    "SqlGuildRepository",
    "SqlHeartbeatRepository",
    "SqlIncidentRepository",
    "SqlMetaRepository",
    "SqlNoteRepository",
    "SqlOutboxRepository",
    "SqlPageRepository",
    "SqlReminderRepository",
    "SqlStatusPageRepository",
    "SqlTimelineRepository",
    "SqlWebhookRepository",
]
