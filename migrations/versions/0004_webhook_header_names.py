"""Webhooks get optional signature and timestamp header names (Grafana lets users rename
them); NULL, Grafana's default names, for every existing webhook.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-04
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Add the nullable `webhooks.signature_header` and `webhooks.timestamp_header`."""
    with op.batch_alter_table("webhooks") as batch:
        batch.add_column(sa.Column("signature_header", sa.String(), nullable=True))
        batch.add_column(sa.Column("timestamp_header", sa.String(), nullable=True))


def downgrade() -> None:
    """Drop the columns (a batch rebuild on SQLite)."""
    with op.batch_alter_table("webhooks") as batch:
        batch.drop_column("timestamp_header")
        batch.drop_column("signature_header")
