"""The SQL database adapter: tables, repositories mapping rows ↔ core objects, unit of work."""

from bot.adapters.db.engine import check_connection, create_engine, session_factory
from bot.adapters.db.migrate import (
    current_revision,
    downgrade_to,
    head_revision,
    upgrade_to_head,
)
from bot.adapters.db.repositories import (
    SqlActionRepository,
    SqlAlertRepository,
    SqlGuildRepository,
    SqlIncidentRepository,
    SqlMetaRepository,
    SqlNoteRepository,
    SqlOutboxRepository,
    SqlReminderRepository,
    SqlTimelineRepository,
    SqlWebhookRepository,
)
from bot.adapters.db.tables import metadata
from bot.adapters.db.types import UtcDateTime
from bot.adapters.db.uow import SqlUnitOfWork

__all__ = [
    "SqlActionRepository",
    "SqlAlertRepository",
    "SqlGuildRepository",
    "SqlIncidentRepository",
    "SqlMetaRepository",
    "SqlNoteRepository",
    "SqlOutboxRepository",
    "SqlReminderRepository",
    "SqlTimelineRepository",
    "SqlUnitOfWork",
    "SqlWebhookRepository",
    "UtcDateTime",
    "check_connection",
    "create_engine",
    "current_revision",
    "downgrade_to",
    "head_revision",
    "metadata",
    "session_factory",
    "upgrade_to_head",
]
