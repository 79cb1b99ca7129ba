"""Bounded history: partial indexes for ingest's per-batch stream lookups and outbox pruning.

`ix_alerts_stream_attached` and `ix_alerts_stream_firing` let "which of these streams does
an open incident follow" and "which of these streams is firing" read only the rows that can
answer instead of every stored episode of each stream. `ix_outbox_delivered_done_at` lets
the pruning job find delivered events older than the retention without a table scan.
`ix_incidents_guild_id_status_number` serves `/incident list`'s pages, newest first.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-04
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

STREAM = ["guild_id", "source", "stream_key"]
ATTACHED = "incident_id IS NOT NULL"
FIRING = "state = 'firing'"
DELIVERED = "done_at IS NOT NULL"


def upgrade() -> None:
    """Create the indexes."""
    for name, where in (
        ("ix_alerts_stream_attached", ATTACHED),
        ("ix_alerts_stream_firing", FIRING),
    ):
        op.create_index(
            name, "alerts", STREAM, sqlite_where=sa.text(where), postgresql_where=sa.text(where)
        )
    op.create_index(
        "ix_outbox_delivered_done_at",
        "outbox",
        ["done_at"],
        sqlite_where=sa.text(DELIVERED),
        postgresql_where=sa.text(DELIVERED),
    )
    op.create_index(
        "ix_incidents_guild_id_status_number", "incidents", ["guild_id", "status", "number"]
    )


def downgrade() -> None:
    """Drop them."""
    op.drop_index("ix_incidents_guild_id_status_number", table_name="incidents")
    op.drop_index("ix_outbox_delivered_done_at", table_name="outbox")
    op.drop_index("ix_alerts_stream_firing", table_name="alerts")
    op.drop_index("ix_alerts_stream_attached", table_name="alerts")
