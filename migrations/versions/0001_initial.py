"""The initial schema: guild configuration, incidents and their timeline, alerts, webhooks,
the outbox, and small key/value and counter tables.

Generated against an empty SQLite database, then tidied: plain `sa.DateTime(timezone=True)`
instead of the application's UtcDateTime (a migration must not depend on code that may
change), indexes created with `op.create_index`, the downgrade dropping tables only.

Revision ID: 0001
Revises:
Create Date: 2026-11-21
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Create every table with its constraints and indexes."""
    op.create_table(
        "counters",
        sa.Column("scope", sa.String(length=128), nullable=False),
        sa.Column("value", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("scope", name=op.f("pk_counters")),
    )
    op.create_table(
        "guild_configs",
        sa.Column("guild_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("responder_role_id", sa.BigInteger(), nullable=True),
        sa.Column("oncall_role_id", sa.BigInteger(), nullable=True),
        sa.Column("escalation_role_id", sa.BigInteger(), nullable=True),
        sa.Column("alerts_channel_id", sa.BigInteger(), nullable=True),
        sa.Column("operating_room_id", sa.BigInteger(), nullable=True),
        sa.Column("incident_category_id", sa.BigInteger(), nullable=True),
        sa.Column("timezone", sa.String(length=64), nullable=False),
        sa.Column("escalation_minutes", sa.Integer(), nullable=False),
        sa.Column("escalation_repeats", sa.Integer(), nullable=False),
        sa.Column("update_cadence", sa.JSON(), nullable=False),
        sa.Column("postmortem_template", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("guild_id", name=op.f("pk_guild_configs")),
    )
    op.create_table(
        "incidents",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("guild_id", sa.BigInteger(), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("severity", sa.String(length=32), nullable=False),
        sa.Column("status", sa.String(length=32), nullable=False),
        sa.Column("declared_by_id", sa.BigInteger(), nullable=False),
        sa.Column("declared_by_name", sa.String(), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("detected_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("declared_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("acknowledged_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("mitigated_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("resolved_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("summary", sa.Text(), nullable=False),
        sa.Column("latest_update", sa.Text(), nullable=True),
        sa.Column("latest_update_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("channel_id", sa.BigInteger(), nullable=True),
        sa.Column("card_message_id", sa.BigInteger(), nullable=True),
        sa.Column("room_message_id", sa.BigInteger(), nullable=True),
        sa.Column("room_thread_id", sa.BigInteger(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_incidents")),
        sa.UniqueConstraint("guild_id", "number", name=op.f("uq_incidents_guild_id_number")),
    )
    op.create_index("ix_incidents_channel_id", "incidents", ["channel_id"], unique=False)
    op.create_index("ix_incidents_room_thread_id", "incidents", ["room_thread_id"], unique=False)

    op.create_table(
        "meta",
        sa.Column("key", sa.String(length=128), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_meta")),
    )
    op.create_table(
        "outbox",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("topic", sa.String(length=32), nullable=False),
        sa.Column("guild_id", sa.BigInteger(), nullable=False),
        sa.Column("subject_id", sa.BigInteger(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("done_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outbox")),
    )
    op.create_index(
        "ix_outbox_pending",
        "outbox",
        ["id"],
        unique=False,
        sqlite_where=sa.text("done_at IS NULL"),
        postgresql_where=sa.text("done_at IS NULL"),
    )

    op.create_table(
        "webhooks",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("guild_id", sa.BigInteger(), nullable=False),
        sa.Column("source", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by_id", sa.BigInteger(), nullable=True),
        sa.Column("created_by_name", sa.String(), nullable=True),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "(created_by_id IS NULL) = (created_by_name IS NULL)",
            name=op.f("ck_webhooks_created_by_complete"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_webhooks")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_webhooks_token_hash")),
    )
    op.create_index("ix_webhooks_guild_id", "webhooks", ["guild_id"], unique=False)

    op.create_table(
        "action_items",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("incident_id", sa.Integer(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by_id", sa.BigInteger(), nullable=False),
        sa.Column("created_by_name", sa.String(), nullable=False),
        sa.Column("owner_id", sa.BigInteger(), nullable=True),
        sa.Column("owner_name", sa.String(), nullable=True),
        sa.Column("due", sa.Date(), nullable=True),
        sa.Column("status", sa.String(length=32), nullable=False),
        sa.Column("done_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("done_by_id", sa.BigInteger(), nullable=True),
        sa.Column("done_by_name", sa.String(), nullable=True),
        sa.CheckConstraint(
            "(done_by_id IS NULL) = (done_by_name IS NULL)",
            name=op.f("ck_action_items_done_by_complete"),
        ),
        sa.CheckConstraint(
            "(owner_id IS NULL) = (owner_name IS NULL)", name=op.f("ck_action_items_owner_complete")
        ),
        sa.ForeignKeyConstraint(
            ["incident_id"],
            ["incidents.id"],
            name=op.f("fk_action_items_incident_id_incidents"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_action_items")),
        sa.UniqueConstraint("incident_id", "seq", name=op.f("uq_action_items_incident_id_seq")),
    )
    op.create_table(
        "alerts",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("guild_id", sa.BigInteger(), nullable=False),
        sa.Column("source", sa.String(length=32), nullable=False),
        sa.Column("stream_key", sa.String(), nullable=False),
        sa.Column("episode_key", sa.String(), nullable=True),
        sa.Column("monitor", sa.String(), nullable=False),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("state", sa.String(length=32), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("severity", sa.String(), nullable=True),
        sa.Column("details", sa.JSON(), nullable=False),
        sa.Column("link", sa.Text(), nullable=True),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("acknowledged_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("acknowledged_by_id", sa.BigInteger(), nullable=True),
        sa.Column("acknowledged_by_name", sa.String(), nullable=True),
        sa.Column("resolved_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("incident_id", sa.Integer(), nullable=True),
        sa.Column("webhook_id", sa.Integer(), nullable=True),
        sa.Column("escalation_level", sa.Integer(), nullable=False),
        sa.Column("next_escalation_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("relay_channel_id", sa.BigInteger(), nullable=True),
        sa.Column("relay_message_id", sa.BigInteger(), nullable=True),
        sa.CheckConstraint(
            "(acknowledged_by_id IS NULL) = (acknowledged_by_name IS NULL)",
            name=op.f("ck_alerts_acknowledged_by_complete"),
        ),
        sa.ForeignKeyConstraint(
            ["incident_id"],
            ["incidents.id"],
            name=op.f("fk_alerts_incident_id_incidents"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["webhook_id"],
            ["webhooks.id"],
            name=op.f("fk_alerts_webhook_id_webhooks"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_alerts")),
        sa.UniqueConstraint(
            "guild_id",
            "source",
            "stream_key",
            "episode_key",
            name=op.f("uq_alerts_guild_id_source_stream_key_episode_key"),
        ),
    )
    op.create_index("ix_alerts_incident_id", "alerts", ["incident_id"], unique=False)
    op.create_index("ix_alerts_next_escalation_at", "alerts", ["next_escalation_at"], unique=False)
    op.create_index(
        "uq_alerts_one_firing_per_stream",
        "alerts",
        ["guild_id", "source", "stream_key"],
        unique=True,
        sqlite_where=sa.text("state = 'firing' AND episode_key IS NULL"),
        postgresql_where=sa.text("state = 'firing' AND episode_key IS NULL"),
    )

    op.create_table(
        "postmortem_notes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("incident_id", sa.Integer(), nullable=False),
        sa.Column("section", sa.String(length=32), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("author_id", sa.BigInteger(), nullable=False),
        sa.Column("author_name", sa.String(), nullable=False),
        sa.Column("added_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["incident_id"],
            ["incidents.id"],
            name=op.f("fk_postmortem_notes_incident_id_incidents"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_postmortem_notes")),
    )
    op.create_index(
        "ix_postmortem_notes_incident_id", "postmortem_notes", ["incident_id"], unique=False
    )

    op.create_table(
        "role_assignments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("incident_id", sa.Integer(), nullable=False),
        sa.Column("role", sa.String(length=32), nullable=False),
        sa.Column("person_id", sa.BigInteger(), nullable=False),
        sa.Column("person_name", sa.String(), nullable=False),
        sa.Column("assigned_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["incident_id"],
            ["incidents.id"],
            name=op.f("fk_role_assignments_incident_id_incidents"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_role_assignments")),
    )
    op.create_index(
        "ix_role_assignments_incident_id", "role_assignments", ["incident_id"], unique=False
    )
    op.create_index(
        "uq_role_assignments_one_active_commander",
        "role_assignments",
        ["incident_id"],
        unique=True,
        sqlite_where=sa.text("role = 'commander' AND ended_at IS NULL"),
        postgresql_where=sa.text("role = 'commander' AND ended_at IS NULL"),
    )

    op.create_table(
        "timeline_entries",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("incident_id", sa.Integer(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("source", sa.String(length=32), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("event_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("author_id", sa.BigInteger(), nullable=True),
        sa.Column("author_name", sa.String(), nullable=True),
        sa.Column("jump_url", sa.Text(), nullable=True),
        sa.Column("message_id", sa.BigInteger(), nullable=True),
        sa.Column("alert_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("edited_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "(author_id IS NULL) = (author_name IS NULL)",
            name=op.f("ck_timeline_entries_author_complete"),
        ),
        sa.ForeignKeyConstraint(
            ["alert_id"],
            ["alerts.id"],
            name=op.f("fk_timeline_entries_alert_id_alerts"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["incident_id"],
            ["incidents.id"],
            name=op.f("fk_timeline_entries_incident_id_incidents"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_timeline_entries")),
        sa.UniqueConstraint(
            "incident_id", "message_id", name=op.f("uq_timeline_entries_incident_id_message_id")
        ),
        sa.UniqueConstraint("incident_id", "seq", name=op.f("uq_timeline_entries_incident_id_seq")),
    )
    op.create_index(
        "ix_timeline_entries_incident_id_event_at",
        "timeline_entries",
        ["incident_id", "event_at"],
        unique=False,
    )

    op.create_table(
        "timeline_revisions",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("entry_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("action", sa.String(length=32), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("by_id", sa.BigInteger(), nullable=False),
        sa.Column("by_name", sa.String(), nullable=False),
        sa.Column("old_text", sa.Text(), nullable=False),
        sa.Column("old_event_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["entry_id"],
            ["timeline_entries.id"],
            name=op.f("fk_timeline_revisions_entry_id_timeline_entries"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_timeline_revisions")),
    )
    op.create_index(
        "ix_timeline_revisions_entry_id", "timeline_revisions", ["entry_id"], unique=False
    )


def downgrade() -> None:
    """Drop every table (their indexes go with them), children first."""
    op.drop_table("timeline_revisions")
    op.drop_table("timeline_entries")
    op.drop_table("role_assignments")
    op.drop_table("postmortem_notes")
    op.drop_table("alerts")
    op.drop_table("action_items")
    op.drop_table("webhooks")
    op.drop_table("outbox")
    op.drop_table("meta")
    op.drop_table("incidents")
    op.drop_table("guild_configs")
    op.drop_table("counters")
