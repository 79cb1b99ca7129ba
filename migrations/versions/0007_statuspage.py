"""The public status page: pages, components, public incidents and updates, maintenance
windows, and the window an alert fell in.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-04
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    """Create the read-model tables and add `alerts.maintenance_id` (NULL for old rows)."""
    op.create_table(
        "status_pages",
        sa.Column("guild_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("slug", sa.String(length=64), nullable=False),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("announcements_channel_id", sa.BigInteger(), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("guild_id", name=op.f("pk_status_pages")),
        sa.UniqueConstraint("slug", name=op.f("uq_status_pages_slug")),
    )
    op.create_table(
        "status_components",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("guild_id", sa.BigInteger(), nullable=False),
        sa.Column("code", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(), nullable=False),
        sa.Column("group_name", sa.String(), nullable=True),
        sa.Column("state", sa.String(length=32), nullable=False),
        sa.Column("held_by", sa.Integer(), nullable=True),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_status_components")),
        sa.UniqueConstraint("guild_id", "name", name=op.f("uq_status_components_guild_id_name")),
    )
    op.create_table(
        "public_incidents",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("guild_id", sa.BigInteger(), nullable=False),
        sa.Column("incident_id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=32), nullable=False),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("impact", sa.String(length=32), nullable=False),
        sa.Column("status", sa.String(length=32), nullable=False),
        sa.Column("components", sa.JSON(), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        sa.Column("resolved_at", TS, nullable=True),
        sa.ForeignKeyConstraint(
            ["incident_id"],
            ["incidents.id"],
            name=op.f("fk_public_incidents_incident_id_incidents"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_public_incidents")),
        sa.UniqueConstraint("code", name=op.f("uq_public_incidents_code")),
        sa.UniqueConstraint("incident_id", name=op.f("uq_public_incidents_incident_id")),
    )
    op.create_index("ix_public_incidents_guild_id", "public_incidents", ["guild_id", "created_at"])
    op.create_table(
        "public_updates",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("public_incident_id", sa.Integer(), nullable=False),
        sa.Column("guild_id", sa.BigInteger(), nullable=False),
        sa.Column("status", sa.String(length=32), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("announced_channel_id", sa.BigInteger(), nullable=True),
        sa.Column("announced_message_id", sa.BigInteger(), nullable=True),
        sa.Column("announced_at", TS, nullable=True),
        sa.ForeignKeyConstraint(
            ["public_incident_id"],
            ["public_incidents.id"],
            name=op.f("fk_public_updates_public_incident_id_public_incidents"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_public_updates")),
    )
    op.create_index(
        "ix_public_updates_public_incident_id", "public_updates", ["public_incident_id"]
    )
    op.create_index("ix_public_updates_guild_id", "public_updates", ["guild_id", "created_at"])
    op.create_table(
        "maintenances",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("guild_id", sa.BigInteger(), nullable=False),
        sa.Column("code", sa.String(length=32), nullable=False),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("starts_at", TS, nullable=False),
        sa.Column("ends_at", TS, nullable=False),
        sa.Column("components", sa.JSON(), nullable=False),
        sa.Column("monitors", sa.JSON(), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("created_by_id", sa.BigInteger(), nullable=False),
        sa.Column("cancelled_at", TS, nullable=True),
        sa.Column("event_id", sa.BigInteger(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_maintenances")),
        sa.UniqueConstraint("code", name=op.f("uq_maintenances_code")),
    )
    op.create_index("ix_maintenances_guild_id", "maintenances", ["guild_id", "ends_at"])
    with op.batch_alter_table("alerts") as batch:
        batch.add_column(sa.Column("maintenance_id", sa.Integer(), nullable=True))


def downgrade() -> None:
    """Drop the column and the tables (their indexes go with them)."""
    with op.batch_alter_table("alerts") as batch:
        batch.drop_column("maintenance_id")
    for table in (
        "maintenances",
        "public_updates",
        "public_incidents",
        "status_components",
        "status_pages",
    ):
        op.drop_table(table)
