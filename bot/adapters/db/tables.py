"""The schema, as SQLAlchemy Core tables: one per stored thing, rules kept as constraints.

Conventions: Discord ids are BigInteger; a Person is two columns `<x>_id` + `<x>_name`
(both set or both NULL, checked); enums are plain strings so adding a value needs no
migration; times are `UtcDateTime`; dicts are JSON. Constraint names follow
`NAMING_CONVENTION`, so migrations can refer to them and errors can say which rule broke.
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    Date,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    and_,
    false,
)

from bot.adapters.db.types import Snowflake, UtcDateTime, surrogate_key

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_N_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

metadata = MetaData(naming_convention=NAMING_CONVENTION)

CODE = 32
"""Length of columns holding an enum value: bounded by the enum, so safe to limit."""


def person(prefix: str, *, nullable: bool = False) -> list[Column]:
    """The two columns that store a Person: its Discord id and the name shown at the time."""
    return [
        Column(f"{prefix}_id", Snowflake, nullable=nullable),
        Column(f"{prefix}_name", String, nullable=nullable),
    ]


def person_pair(prefix: str) -> CheckConstraint:
    """An optional Person is either fully there or fully absent."""
    return CheckConstraint(
        f"({prefix}_id IS NULL) = ({prefix}_name IS NULL)", name=f"{prefix}_complete"
    )


guild_configs = Table(
    "guild_configs",
    metadata,
    Column("guild_id", Snowflake, primary_key=True, autoincrement=False),
    Column("responder_role_id", Snowflake),
    Column("oncall_role_id", Snowflake),
    Column("escalation_role_id", Snowflake),
    Column("alerts_channel_id", Snowflake),
    Column("operating_room_id", Snowflake),
    Column("incident_category_id", Snowflake),
    Column("timezone", String(64), nullable=False),
    Column("escalation_minutes", Integer, nullable=False),
    Column("escalation_repeats", Integer, nullable=False),
    Column("update_cadence", JSON, nullable=False),  # {"sev1": 15, ..., "sev4": null}
    Column("postmortem_template", Text),
)

incidents = Table(
    "incidents",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("guild_id", Snowflake, nullable=False),
    Column("number", Integer, nullable=False),
    Column("title", Text, nullable=False),
    Column("severity", String(CODE), nullable=False),
    Column("status", String(CODE), nullable=False),
    *person("declared_by"),
    Column("started_at", UtcDateTime, nullable=False),
    Column("detected_at", UtcDateTime, nullable=False),
    Column("declared_at", UtcDateTime, nullable=False),
    Column("acknowledged_at", UtcDateTime),
    Column("mitigated_at", UtcDateTime),
    Column("resolved_at", UtcDateTime),
    Column("closed_at", UtcDateTime),
    Column("summary", Text, nullable=False),
    Column("latest_update", Text),
    Column("latest_update_at", UtcDateTime),
    Column("channel_id", Snowflake),
    Column("card_message_id", Snowflake),
    Column("room_message_id", Snowflake),
    Column("room_thread_id", Snowflake),
    # Milestones a person set with /incident milestone, comma-separated: inference leaves them.
    Column("milestones_by_hand", String, nullable=False, server_default=""),
    UniqueConstraint("guild_id", "number"),
    Index("ix_incidents_channel_id", "channel_id"),
    Index("ix_incidents_room_thread_id", "room_thread_id"),
)

role_assignments = Table(
    "role_assignments",
    metadata,
    Column("id", Integer, primary_key=True),
    Column(
        "incident_id",
        Integer,
        ForeignKey("incidents.id", ondelete="CASCADE"),
        nullable=False,
    ),
    Column("role", String(CODE), nullable=False),
    *person("person"),
    Column("assigned_at", UtcDateTime, nullable=False),
    Column("ended_at", UtcDateTime),
    Index("ix_role_assignments_incident_id", "incident_id"),
)
_active_commander = and_(
    role_assignments.c.role == "commander", role_assignments.c.ended_at.is_(None)
)
Index(
    "uq_role_assignments_one_active_commander",
    role_assignments.c.incident_id,
    unique=True,
    sqlite_where=_active_commander,
    postgresql_where=_active_commander,
)

webhooks = Table(
    "webhooks",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("guild_id", Snowflake, nullable=False),
    Column("source", String(CODE), nullable=False),
    Column("name", String, nullable=False),
    Column("token_hash", String(64), nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    *person("created_by", nullable=True),
    Column("revoked_at", UtcDateTime),
    Column("signing_secret", String),
    Column("signature_header", String),  # NULL: Grafana's default header names
    Column("timestamp_header", String),
    UniqueConstraint("token_hash"),
    Index("ix_webhooks_guild_id", "guild_id"),
    person_pair("created_by"),
)

alerts = Table(
    "alerts",
    metadata,
    Column("id", surrogate_key(), primary_key=True),
    Column("guild_id", Snowflake, nullable=False),
    Column("source", String(CODE), nullable=False),
    Column("stream_key", String, nullable=False),
    Column("episode_key", String),
    Column("monitor", String, nullable=False),
    Column("title", Text, nullable=False),
    Column("state", String(CODE), nullable=False),
    Column("started_at", UtcDateTime, nullable=False),
    Column("received_at", UtcDateTime, nullable=False),
    Column("last_seen_at", UtcDateTime, nullable=False),
    Column("severity", String),
    Column("details", JSON, nullable=False),
    Column("link", Text),
    Column("count", Integer, nullable=False),
    Column("acknowledged_at", UtcDateTime),
    *person("acknowledged_by", nullable=True),
    Column("resolved_at", UtcDateTime),
    Column("incident_id", Integer, ForeignKey("incidents.id", ondelete="SET NULL")),
    Column("webhook_id", Integer, ForeignKey("webhooks.id", ondelete="SET NULL")),
    Column("escalation_level", Integer, nullable=False),
    Column("next_escalation_at", UtcDateTime),
    Column("relay_channel_id", Snowflake),
    Column("relay_message_id", Snowflake),
    Column("maintenance_id", Integer),  # the window that keeps it quiet (never escalated)
    Column("notice", Boolean, nullable=False, server_default=false()),
    # One row per explicit episode; NULL episode keys are distinct, so this does not limit
    # sources without episodes (the partial index below does).
    UniqueConstraint("guild_id", "source", "stream_key", "episode_key"),
    Index("ix_alerts_next_escalation_at", "next_escalation_at"),
    Index("ix_alerts_incident_id", "incident_id"),
    person_pair("acknowledged_by"),
)
_open_unkeyed = and_(alerts.c.state == "firing", alerts.c.episode_key.is_(None))
Index(
    "uq_alerts_one_firing_per_stream",
    alerts.c.guild_id,
    alerts.c.source,
    alerts.c.stream_key,
    unique=True,
    sqlite_where=_open_unkeyed,
    postgresql_where=_open_unkeyed,
)

timeline_entries = Table(
    "timeline_entries",
    metadata,
    Column("id", surrogate_key(), primary_key=True),
    Column(
        "incident_id",
        Integer,
        ForeignKey("incidents.id", ondelete="CASCADE"),
        nullable=False,
    ),
    Column("seq", Integer, nullable=False),
    Column("kind", String(CODE), nullable=False),
    Column("source", String(CODE), nullable=False),
    Column("text", Text, nullable=False),
    Column("event_at", UtcDateTime, nullable=False),
    Column("recorded_at", UtcDateTime, nullable=False),
    *person("author", nullable=True),
    Column("jump_url", Text),
    Column("message_id", Snowflake),
    Column("alert_id", surrogate_key(), ForeignKey("alerts.id", ondelete="SET NULL")),
    Column("edited_at", UtcDateTime),
    Column("deleted_at", UtcDateTime),
    UniqueConstraint("incident_id", "seq"),
    # message_id is NULL for typed entries (NULLs are distinct); a message is added once.
    UniqueConstraint("incident_id", "message_id"),
    Index("ix_timeline_entries_incident_id_event_at", "incident_id", "event_at"),
    person_pair("author"),
)

timeline_revisions = Table(
    "timeline_revisions",
    metadata,
    Column("id", surrogate_key(), primary_key=True),
    Column(
        "entry_id",
        surrogate_key(),
        ForeignKey("timeline_entries.id", ondelete="CASCADE"),
        nullable=False,
    ),
    Column("action", String(CODE), nullable=False),
    Column("at", UtcDateTime, nullable=False),
    *person("by"),
    Column("old_text", Text, nullable=False),
    Column("old_event_at", UtcDateTime, nullable=False),
    Column("old_kind", String(CODE)),  # NULL in revisions older than entry kinds
    Index("ix_timeline_revisions_entry_id", "entry_id"),
)

action_items = Table(
    "action_items",
    metadata,
    Column("id", Integer, primary_key=True),
    Column(
        "incident_id",
        Integer,
        ForeignKey("incidents.id", ondelete="CASCADE"),
        nullable=False,
    ),
    Column("seq", Integer, nullable=False),
    Column("text", Text, nullable=False),
    Column("kind", String(CODE), nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    *person("created_by"),
    *person("owner", nullable=True),
    Column("due", Date),
    Column("status", String(CODE), nullable=False),
    Column("done_at", UtcDateTime),
    *person("done_by", nullable=True),
    UniqueConstraint("incident_id", "seq"),
    person_pair("owner"),
    person_pair("done_by"),
)

postmortem_notes = Table(
    "postmortem_notes",
    metadata,
    Column("id", Integer, primary_key=True),
    Column(
        "incident_id",
        Integer,
        ForeignKey("incidents.id", ondelete="CASCADE"),
        nullable=False,
    ),
    Column("section", String(CODE), nullable=False),
    Column("text", Text, nullable=False),
    *person("author"),
    Column("added_at", UtcDateTime, nullable=False),
    Index("ix_postmortem_notes_incident_id", "incident_id"),
)

outbox = Table(
    "outbox",
    metadata,
    Column("id", surrogate_key(), primary_key=True),
    Column("topic", String(CODE), nullable=False),
    Column("guild_id", Snowflake, nullable=False),
    Column("subject_id", Snowflake, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("done_at", UtcDateTime),
)
_pending = outbox.c.done_at.is_(None)
Index("ix_outbox_pending", outbox.c.id, sqlite_where=_pending, postgresql_where=_pending)

reminders = Table(
    "reminders",
    metadata,
    Column("id", surrogate_key(), primary_key=True),
    Column("guild_id", Snowflake, nullable=False),
    Column(
        "incident_id",
        Integer,
        ForeignKey("incidents.id", ondelete="CASCADE"),
        nullable=False,
    ),
    Column("kind", String(CODE), nullable=False),
    Column("subject_id", BigInteger, nullable=False),  # the incident or the action item
    Column("due_at", UtcDateTime, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("fired_at", UtcDateTime),
    Column("cancelled_at", UtcDateTime),
    CheckConstraint("fired_at IS NULL OR cancelled_at IS NULL", name="fired_or_cancelled"),
    Index("ix_reminders_incident_id", "incident_id"),
)
_pending_reminder = and_(reminders.c.fired_at.is_(None), reminders.c.cancelled_at.is_(None))
# At most one pending reminder per kind and subject: scheduling again moves it (an upsert).
Index(
    "uq_reminders_one_pending",
    reminders.c.kind,
    reminders.c.subject_id,
    unique=True,
    sqlite_where=_pending_reminder,
    postgresql_where=_pending_reminder,
)
Index(
    "ix_reminders_pending_due_at",
    reminders.c.due_at,
    sqlite_where=_pending_reminder,
    postgresql_where=_pending_reminder,
)

# The public status page's read model: written only by the publishing commands.
status_pages = Table(
    "status_pages",
    metadata,
    Column("guild_id", Snowflake, primary_key=True, autoincrement=False),
    Column("slug", String(64), nullable=False),
    Column("title", Text, nullable=False),
    Column("enabled", Boolean, nullable=False),
    Column("announcements_channel_id", Snowflake),
    Column("version", Integer, nullable=False),  # polled by the web servers: bump on change
    Column("created_at", UtcDateTime, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
    UniqueConstraint("slug"),  # one page per slug across every guild
)

status_components = Table(
    "status_components",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("guild_id", Snowflake, nullable=False),
    Column("code", String(CODE), nullable=False),
    Column("name", String, nullable=False),
    Column("group_name", String),
    Column("state", String(CODE), nullable=False),
    Column("held_by", Integer),  # the incident whose impact set the state
    Column("position", Integer, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
    UniqueConstraint("guild_id", "name"),
)

public_incidents = Table(
    "public_incidents",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("guild_id", Snowflake, nullable=False),
    Column(
        "incident_id",
        Integer,
        ForeignKey("incidents.id", ondelete="CASCADE"),
        nullable=False,
    ),
    Column("code", String(CODE), nullable=False),
    Column("title", Text, nullable=False),
    Column("impact", String(CODE), nullable=False),
    Column("status", String(CODE), nullable=False),
    Column("components", JSON, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
    Column("resolved_at", UtcDateTime),
    UniqueConstraint("incident_id"),
    UniqueConstraint("code"),
    Index("ix_public_incidents_guild_id", "guild_id", "created_at"),
)

public_updates = Table(
    "public_updates",
    metadata,
    Column("id", Integer, primary_key=True),
    Column(
        "public_incident_id",
        Integer,
        ForeignKey("public_incidents.id", ondelete="CASCADE"),
        nullable=False,
    ),
    Column("guild_id", Snowflake, nullable=False),
    Column("status", String(CODE), nullable=False),
    Column("body", Text, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("announced_channel_id", Snowflake),
    Column("announced_message_id", Snowflake),
    Column("announced_at", UtcDateTime),
    Index("ix_public_updates_public_incident_id", "public_incident_id"),
    Index("ix_public_updates_guild_id", "guild_id", "created_at"),
)

maintenances = Table(
    "maintenances",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("guild_id", Snowflake, nullable=False),
    Column("code", String(CODE), nullable=False),
    Column("title", Text, nullable=False),
    Column("starts_at", UtcDateTime, nullable=False),
    Column("ends_at", UtcDateTime, nullable=False),
    Column("components", JSON, nullable=False),
    Column("monitors", JSON, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("created_by_id", Snowflake, nullable=False),
    Column("cancelled_at", UtcDateTime),
    Column("event_id", Snowflake),
    UniqueConstraint("code"),
    Index("ix_maintenances_guild_id", "guild_id", "ends_at"),
)

meta = Table(
    "meta",
    metadata,
    Column("key", String(128), primary_key=True),
    Column("value", Text, nullable=False),
)

counters = Table(
    "counters",
    metadata,
    Column("scope", String(128), primary_key=True),
    Column("value", Integer, nullable=False),
)

pages = Table(
    "pages",
    metadata,
    Column("id", surrogate_key(), primary_key=True),
    Column("guild_id", Snowflake, nullable=False),
    Column(
        "alert_id",
        surrogate_key(),
        ForeignKey("alerts.id", ondelete="CASCADE"),
        nullable=False,
    ),
    Column("level", Integer, nullable=False),
    Column("target", String(CODE), nullable=False),
    Column("target_id", BigInteger),  # a role, member or pager id
    Column("target_name", String, nullable=False),
    Column("sent_at", UtcDateTime, nullable=False),
    Index("ix_pages_alert_id_sent_at", "alert_id", "sent_at"),
)

heartbeats = Table(
    "heartbeats",
    metadata,
    Column(
        "webhook_id",
        Integer,
        ForeignKey("webhooks.id", ondelete="CASCADE"),
        primary_key=True,
        autoincrement=False,
    ),
    Column("guild_id", Snowflake, nullable=False),
    Column("every_seconds", Integer, nullable=False),
    Column("grace_seconds", Integer, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("due_at", UtcDateTime),  # NULL while missed: the next ping sets it
    Column("last_ping_at", UtcDateTime),
    Column("missed_at", UtcDateTime),
    Index("ix_heartbeats_guild_id", "guild_id"),
    Index("ix_heartbeats_due_at", "due_at"),
)

cert_watches = Table(
    "cert_watches",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("guild_id", Snowflake, nullable=False),
    Column("host", String(253), nullable=False),
    Column("port", Integer, nullable=False),
    Column("owner", String),
    Column("runbook", String),
    Column("created_at", UtcDateTime, nullable=False),
    *person("created_by", nullable=True),
    Column("next_check_at", UtcDateTime, nullable=False),
    Column("last_checked_at", UtcDateTime),
    Column("not_after", UtcDateTime),
    Column("problem", String(CODE)),
    Column("detail", Text, nullable=False, server_default=""),
    Column("failures", Integer, nullable=False, server_default="0"),
    UniqueConstraint("guild_id", "host", "port"),
    Index("ix_cert_watches_next_check_at", "next_check_at"),
    person_pair("created_by"),
)
