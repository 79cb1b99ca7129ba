"""Paging: pagers (Apprise URLs, encrypted), their page queue, acknowledge links, on-call
notices, the rotation and its overrides and aways. New tables only: existing rows are untouched.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-04
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

WAITING = "sent_at IS NULL AND given_up_at IS NULL"


def upgrade() -> None:
    """Create the paging and on-call tables with their indexes."""
    op.create_table(
        "oncall_notices",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("guild_id", sa.BigInteger(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ping_user_id", sa.BigInteger(), nullable=True),
        sa.Column("role_to", sa.BigInteger(), nullable=True),
        sa.Column("role_from", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_oncall_notices")),
    )
    op.create_table(
        "oncall_rotations",
        sa.Column("guild_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("members", sa.JSON(), nullable=False),
        sa.Column("every_days", sa.Integer(), nullable=False),
        sa.Column("next_handoff_local", sa.String(length=32), nullable=False),
        sa.Column("next_handoff_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("current_index", sa.Integer(), nullable=False),
        sa.Column("holder_id", sa.BigInteger(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("guild_id", name=op.f("pk_oncall_rotations")),
    )
    op.create_table(
        "oncall_shifts",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("guild_id", sa.BigInteger(), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("person_id", sa.BigInteger(), nullable=False),
        sa.Column("person_name", sa.String(), nullable=False),
        sa.Column("backup_id", sa.BigInteger(), nullable=True),
        sa.Column("backup_name", sa.String(), nullable=True),
        sa.Column("starts_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ends_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "(backup_id IS NULL) = (backup_name IS NULL)",
            name=op.f("ck_oncall_shifts_backup_complete"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_oncall_shifts")),
    )
    op.create_index("ix_oncall_shifts_guild_id", "oncall_shifts", ["guild_id"], unique=False)

    op.create_table(
        "pagers",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("guild_id", sa.BigInteger(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("level", sa.String(length=32), nullable=False),
        sa.Column("url_masked", sa.Text(), nullable=False),
        sa.Column("url_secret", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by_id", sa.BigInteger(), nullable=True),
        sa.Column("created_by_name", sa.String(), nullable=True),
        sa.Column("member_id", sa.BigInteger(), nullable=True),
        sa.Column("member_name", sa.String(), nullable=True),
        sa.Column("failing_since", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_test_ok_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("test_reminded_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("removed_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "(created_by_id IS NULL) = (created_by_name IS NULL)",
            name=op.f("ck_pagers_created_by_complete"),
        ),
        sa.CheckConstraint(
            "(member_id IS NULL) = (member_name IS NULL)", name=op.f("ck_pagers_member_complete")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_pagers")),
    )
    op.create_index("ix_pagers_guild_id", "pagers", ["guild_id"], unique=False)

    op.create_table(
        "pager_pages",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("guild_id", sa.BigInteger(), nullable=False),
        sa.Column("pager_id", sa.BigInteger(), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("level", sa.Integer(), nullable=False),
        sa.Column("alert_ids", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("not_before", sa.DateTime(timezone=True), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("claimed_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("given_up_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("answered_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["pager_id"],
            ["pagers.id"],
            name=op.f("fk_pager_pages_pager_id_pagers"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_pager_pages")),
    )
    op.create_index("ix_pager_pages_pager_id", "pager_pages", ["pager_id"], unique=False)
    op.create_index(
        "ix_pager_pages_waiting",
        "pager_pages",
        ["not_before"],
        unique=False,
        sqlite_where=sa.text(WAITING),
        postgresql_where=sa.text(WAITING),
    )

    op.create_table(
        "ack_links",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("guild_id", sa.BigInteger(), nullable=False),
        sa.Column("page_id", sa.BigInteger(), nullable=False),
        sa.Column("code_hash", sa.String(length=64), nullable=False),
        sa.Column("pager_name", sa.String(length=100), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["page_id"],
            ["pager_pages.id"],
            name=op.f("fk_ack_links_page_id_pager_pages"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ack_links")),
        sa.UniqueConstraint("code_hash", name=op.f("uq_ack_links_code_hash")),
    )
    op.create_index("ix_ack_links_page_id", "ack_links", ["page_id"], unique=False)


def downgrade() -> None:
    """Drop them (their indexes go with them)."""
    for table in (
        "ack_links",
        "pager_pages",
        "pagers",
        "oncall_shifts",
        "oncall_rotations",
        "oncall_notices",
    ):
        op.drop_table(table)
