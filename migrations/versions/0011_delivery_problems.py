"""delivery problems: a destination that takes no reports, until it is fixed

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-01 18:30:00

A report Slack refuses for a reason only a person can fix (the bot is not in the channel,
the channel is gone or archived, the token was revoked) now waits in the outbox as
`blocked` instead of `failed`, and its destination gets one row here: what Slack said,
when, and when the agents' managers were told. Additive: a replica of the previous version
never claims a blocked report (it claims pending ones) and ignores this table.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import core.dialect

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "delivery_problems",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("workspace_id", sa.Integer(), nullable=False),
        sa.Column("destination", sa.String(length=64), nullable=False),
        sa.Column("error", sa.String(length=64), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.Column("opened_at", core.dialect.UTCDateTime(timezone=True), nullable=False),
        sa.Column("last_failed_at", core.dialect.UTCDateTime(timezone=True), nullable=False),
        sa.Column("notified_at", core.dialect.UTCDateTime(timezone=True), nullable=True),
        sa.Column("resolved_at", core.dialect.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["workspace_id"],
            ["workspaces.id"],
            name=op.f("fk_delivery_problems_workspace_id_workspaces"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_delivery_problems")),
        sa.UniqueConstraint(
            "workspace_id",
            "destination",
            name=op.f("uq_delivery_problems_workspace_id_destination"),
        ),
    )


def downgrade() -> None:
    op.drop_table("delivery_problems")
