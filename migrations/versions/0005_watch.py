"""Heartbeat deadlines and watched TLS certificates.

`heartbeats` holds one row per heartbeat webhook (its period, grace, deadline and last
ping); `cert_watches` one row per watched `host:port` of a guild, with what its last check
found. Both are new tables, so existing rows need no defaults.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-04
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Create `heartbeats` and `cert_watches` with their indexes."""
    op.create_table(
        "heartbeats",
        sa.Column("webhook_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("guild_id", sa.BigInteger(), nullable=False),
        sa.Column("every_seconds", sa.Integer(), nullable=False),
        sa.Column("grace_seconds", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_ping_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("missed_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["webhook_id"],
            ["webhooks.id"],
            name=op.f("fk_heartbeats_webhook_id_webhooks"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("webhook_id", name=op.f("pk_heartbeats")),
    )
    op.create_index("ix_heartbeats_guild_id", "heartbeats", ["guild_id"], unique=False)
    op.create_index("ix_heartbeats_due_at", "heartbeats", ["due_at"], unique=False)
    op.create_table(
        "cert_watches",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("guild_id", sa.BigInteger(), nullable=False),
        sa.Column("host", sa.String(length=253), nullable=False),
        sa.Column("port", sa.Integer(), nullable=False),
        sa.Column("owner", sa.String(), nullable=True),
        sa.Column("runbook", sa.String(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by_id", sa.BigInteger(), nullable=True),
        sa.Column("created_by_name", sa.String(), nullable=True),
        sa.Column("next_check_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_checked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("not_after", sa.DateTime(timezone=True), nullable=True),
        sa.Column("problem", sa.String(length=32), nullable=True),
        sa.Column("detail", sa.Text(), server_default="", nullable=False),
        sa.Column("failures", sa.Integer(), server_default="0", nullable=False),
        sa.CheckConstraint(
            "(created_by_id IS NULL) = (created_by_name IS NULL)",
            name=op.f("ck_cert_watches_created_by_complete"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_cert_watches")),
        sa.UniqueConstraint(
            "guild_id", "host", "port", name=op.f("uq_cert_watches_guild_id_host_port")
        ),
    )
    op.create_index(
        "ix_cert_watches_next_check_at", "cert_watches", ["next_check_at"], unique=False
    )


def downgrade() -> None:
    """Drop both tables (their indexes go with them)."""
    op.drop_table("cert_watches")
    op.drop_table("heartbeats")
