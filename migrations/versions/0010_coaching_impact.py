"""coaching impact: the cycle that wrote a send; notices (digests, flagged coaching)

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-01 18:30:00

Additive only: a nullable `signals.cycle_id` (with its index) and a new `notices` table, so
that replicas of the previous version keep working beside this one.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import core.dialect

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # A plain ADD COLUMN (no batch rebuild): the signals table may hold millions of rows.
    op.add_column("signals", sa.Column("cycle_id", sa.Integer(), nullable=True))
    op.create_index("ix_signals_cycle_id", "signals", ["cycle_id"], unique=False)
    op.create_table(
        "notices",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("workspace_id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("destination", sa.String(length=64), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "pending", "delivered", "failed", name="outboxstatus", native_enum=False, length=32
            ),
            nullable=False,
        ),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", core.dialect.UTCDateTime(timezone=True), nullable=False),
        sa.Column("claimed_by", sa.String(length=100), nullable=True),
        sa.Column("claimed_until", core.dialect.UTCDateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("delivered_ref", sa.String(length=200), nullable=True),
        sa.Column("created_at", core.dialect.UTCDateTime(timezone=True), nullable=False),
        sa.Column("delivered_at", core.dialect.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["workspace_id"],
            ["workspaces.id"],
            name=op.f("fk_notices_workspace_id_workspaces"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notices")),
        sa.UniqueConstraint("workspace_id", "key", name=op.f("uq_notices_workspace_id_key")),
    )
    op.create_index("ix_notices_due", "notices", ["status", "next_attempt_at"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_notices_due", table_name="notices")
    op.drop_table("notices")
    op.drop_index("ix_signals_cycle_id", table_name="signals")
    with op.batch_alter_table("signals") as batch_op:
        batch_op.drop_column("cycle_id")
