"""director proposals: promotions and coaching that wait for a manager, or were applied

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-01 18:40:00

`proposals`: what a director agent proposed (autonomy `propose`) or did at once (autonomy
`apply`): a promotion or a coaching note, who proposed and who decided or retracted, the
block it wrote, and the Slack message that shows it. A new table: replicas of the previous
version never read it.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import core.dialect

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "proposals",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("workspace_id", sa.Integer(), nullable=False),
        sa.Column(
            "kind",
            sa.Enum("promotion", "coaching", name="proposalkind", native_enum=False, length=32),
            nullable=False,
        ),
        sa.Column(
            "status",
            sa.Enum(
                "pending",
                "applied",
                "rejected",
                "retracted",
                name="proposalstatus",
                native_enum=False,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("team_id", sa.Integer(), nullable=False),
        sa.Column("proposed_by", sa.String(length=100), nullable=False),
        sa.Column("cycle_id", sa.Integer(), nullable=True),
        sa.Column("agent_id", sa.Integer(), nullable=True),
        sa.Column("source_block_id", sa.Integer(), nullable=True),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("importance", sa.Float(), nullable=True),
        sa.Column("evidence", core.dialect.JSONDocument(), nullable=True),
        sa.Column("block_id", sa.Integer(), nullable=True),
        sa.Column("created_at", core.dialect.UTCDateTime(timezone=True), nullable=False),
        sa.Column("decided_by", sa.String(length=100), nullable=True),
        sa.Column("decided_at", core.dialect.UTCDateTime(timezone=True), nullable=True),
        sa.Column("retracted_by", sa.String(length=100), nullable=True),
        sa.Column("retracted_at", core.dialect.UTCDateTime(timezone=True), nullable=True),
        sa.Column("slack_channel", sa.String(length=32), nullable=True),
        sa.Column("slack_ts", sa.String(length=32), nullable=True),
        sa.ForeignKeyConstraint(
            ["agent_id"],
            ["agents.id"],
            name=op.f("fk_proposals_agent_id_agents"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["block_id"],
            ["memory_blocks.id"],
            name=op.f("fk_proposals_block_id_memory_blocks"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["cycle_id"],
            ["cycles.id"],
            name=op.f("fk_proposals_cycle_id_cycles"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["source_block_id"],
            ["memory_blocks.id"],
            name=op.f("fk_proposals_source_block_id_memory_blocks"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["team_id"], ["teams.id"], name=op.f("fk_proposals_team_id_teams"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["workspace_id"],
            ["workspaces.id"],
            name=op.f("fk_proposals_workspace_id_workspaces"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_proposals")),
    )
    with op.batch_alter_table("proposals", schema=None) as batch_op:
        batch_op.create_index(
            "ix_proposals_agent_created", ["agent_id", "created_at"], unique=False
        )
        batch_op.create_index(
            "ix_proposals_message", ["workspace_id", "slack_channel", "slack_ts"], unique=False
        )
        batch_op.create_index(
            "ix_proposals_workspace_status", ["workspace_id", "status"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("proposals", schema=None) as batch_op:
        batch_op.drop_index("ix_proposals_workspace_status")
        batch_op.drop_index("ix_proposals_message")
        batch_op.drop_index("ix_proposals_agent_created")

    op.drop_table("proposals")
