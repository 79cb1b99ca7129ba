"""Webhooks get an optional signing secret (Grafana's HMAC), NULL for every existing webhook.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-21
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Add the nullable `webhooks.signing_secret` column."""
    with op.batch_alter_table("webhooks") as batch:
        batch.add_column(sa.Column("signing_secret", sa.String(), nullable=True))


def downgrade() -> None:
    """Drop the column (a batch rebuild on SQLite)."""
    with op.batch_alter_table("webhooks") as batch:
        batch.drop_column("signing_secret")
