"""The incident record: pages sent for alerts, hand-set milestones, notices.

`pages` holds every escalation ping (and, later, pager message) per alert;
`timeline_revisions.old_kind` keeps an edited entry's kind;
`incidents.milestones_by_hand` names the milestones a person set, which inference leaves
alone; `alerts.notice` marks heads-ups (expiry notices) that never fire or resolve.
Existing rows keep their meaning: no milestone was set by hand, no alert was a notice, and
every timeline entry a person wrote already has the kind `note`.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-04
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    """Add the `pages` table and the two columns, with defaults for existing rows."""
    op.create_table(
        "pages",
        sa.Column("id", ID, nullable=False),
        sa.Column("guild_id", sa.BigInteger(), nullable=False),
        sa.Column("alert_id", ID, nullable=False),
        sa.Column("level", sa.Integer(), nullable=False),
        sa.Column("target", sa.String(length=32), nullable=False),
        sa.Column("target_id", sa.BigInteger(), nullable=True),
        sa.Column("target_name", sa.String(), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["alert_id"],
            ["alerts.id"],
            name=op.f("fk_pages_alert_id_alerts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_pages")),
    )
    op.create_index("ix_pages_alert_id_sent_at", "pages", ["alert_id", "sent_at"], unique=False)
    with op.batch_alter_table("incidents") as batch:
        batch.add_column(
            sa.Column("milestones_by_hand", sa.String(), nullable=False, server_default="")
        )
    with op.batch_alter_table("alerts") as batch:
        batch.add_column(
            sa.Column("notice", sa.Boolean(), nullable=False, server_default=sa.false())
        )
    with op.batch_alter_table("timeline_revisions") as batch:
        batch.add_column(sa.Column("old_kind", sa.String(length=32), nullable=True))


def downgrade() -> None:
    """Drop what `upgrade` added."""
    with op.batch_alter_table("timeline_revisions") as batch:
        batch.drop_column("old_kind")
    with op.batch_alter_table("alerts") as batch:
        batch.drop_column("notice")
    with op.batch_alter_table("incidents") as batch:
        batch.drop_column("milestones_by_hand")
    op.drop_table("pages")
