"""intake: commands acknowledged to Slack, stored inside the ack

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-01 18:45:00

A /coach note or a `/brain run` is acknowledged at once and its work done after the ack;
the command is now stored in this table first, so that a process killed after the ack
loses nothing (issue 16). A new table only: replicas of the previous version keep working
beside it (they neither read nor write it).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import core.dialect

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "intake",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("team_id", sa.String(length=32), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("delivery", sa.String(length=100), nullable=False),
        sa.Column("payload", core.dialect.JSONDocument(), nullable=False),
        sa.Column("received_at", core.dialect.UTCDateTime(timezone=True), nullable=False),
        sa.Column("claimed_by", sa.String(length=100), nullable=True),
        sa.Column("claimed_until", core.dialect.UTCDateTime(timezone=True), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("done_at", core.dialect.UTCDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_intake")),
        sa.UniqueConstraint("team_id", "delivery", name=op.f("uq_intake_team_id_delivery")),
    )
    with op.batch_alter_table("intake", schema=None) as batch_op:
        batch_op.create_index("ix_intake_open", ["done_at", "claimed_until"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("intake", schema=None) as batch_op:
        batch_op.drop_index("ix_intake_open")
    op.drop_table("intake")
