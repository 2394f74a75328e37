"""signals: performance signals, findings and analysis marks

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-25 12:02:22.152755
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import core.dialect

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "signal_marks",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("workspace_id", sa.Integer(), nullable=False),
        sa.Column("scope", sa.String(length=64), nullable=False),
        sa.Column(
            "last_signal_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("analysed_at", core.dialect.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["workspace_id"],
            ["workspaces.id"],
            name=op.f("fk_signal_marks_workspace_id_workspaces"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_signal_marks")),
        sa.UniqueConstraint(
            "workspace_id", "scope", name=op.f("uq_signal_marks_workspace_id_scope")
        ),
    )
    op.create_table(
        "signals",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("workspace_id", sa.Integer(), nullable=False),
        sa.Column("external_id", sa.String(length=200), nullable=False),
        sa.Column("agent_id", sa.Integer(), nullable=False),
        sa.Column(
            "type",
            sa.Enum(
                "email_sent",
                "email_opened",
                "email_replied",
                "meeting_booked",
                "bounced",
                "unsubscribed",
                name="signaltype",
                native_enum=False,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("occurred_at", core.dialect.UTCDateTime(timezone=True), nullable=False),
        sa.Column("thread", sa.String(length=200), nullable=True),
        sa.Column("prospect_email", sa.String(length=320), nullable=True),
        sa.Column("company", sa.String(length=200), nullable=True),
        sa.Column("domain", sa.String(length=200), nullable=True),
        sa.Column("title", sa.String(length=200), nullable=True),
        sa.Column("industry", sa.String(length=100), nullable=True),
        sa.Column("segment", sa.String(length=100), nullable=True),
        sa.Column("subject", sa.String(length=500), nullable=True),
        sa.Column("subject_format", sa.String(length=100), nullable=True),
        sa.Column("template", sa.String(length=100), nullable=True),
        sa.Column("reply_text", sa.Text(), nullable=True),
        sa.Column("objection", sa.String(length=100), nullable=True),
        sa.Column("received_at", core.dialect.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["agent_id"], ["agents.id"], name=op.f("fk_signals_agent_id_agents"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["workspace_id"],
            ["workspaces.id"],
            name=op.f("fk_signals_workspace_id_workspaces"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_signals")),
        sa.UniqueConstraint(
            "workspace_id", "external_id", name=op.f("uq_signals_workspace_id_external_id")
        ),
    )
    with op.batch_alter_table("signals", schema=None) as batch_op:
        batch_op.create_index("ix_signals_agent_id_id", ["agent_id", "id"], unique=False)

    op.create_table(
        "signal_findings",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("workspace_id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=400), nullable=False),
        sa.Column("agent_id", sa.Integer(), nullable=True),
        sa.Column("team_id", sa.Integer(), nullable=True),
        sa.Column("metric", sa.String(length=32), nullable=False),
        sa.Column("dimension", sa.String(length=32), nullable=False),
        sa.Column("value", sa.String(length=100), nullable=False),
        sa.Column("holds", sa.Boolean(), nullable=False),
        sa.Column("n", sa.Integer(), nullable=False),
        sa.Column("successes", sa.Integer(), nullable=False),
        sa.Column("baseline", sa.Float(), nullable=False),
        sa.Column("low", sa.Float(), nullable=False),
        sa.Column("high", sa.Float(), nullable=False),
        sa.Column("block_id", sa.Integer(), nullable=True),
        sa.Column("created_at", core.dialect.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", core.dialect.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["agent_id"],
            ["agents.id"],
            name=op.f("fk_signal_findings_agent_id_agents"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["block_id"],
            ["memory_blocks.id"],
            name=op.f("fk_signal_findings_block_id_memory_blocks"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["team_id"],
            ["teams.id"],
            name=op.f("fk_signal_findings_team_id_teams"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["workspace_id"],
            ["workspaces.id"],
            name=op.f("fk_signal_findings_workspace_id_workspaces"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_signal_findings")),
        sa.UniqueConstraint(
            "workspace_id", "key", name=op.f("uq_signal_findings_workspace_id_key")
        ),
    )
    with op.batch_alter_table("signal_findings", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_signal_findings_agent_id"), ["agent_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_signal_findings_team_id"), ["team_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("signal_findings", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_signal_findings_team_id"))
        batch_op.drop_index(batch_op.f("ix_signal_findings_agent_id"))

    op.drop_table("signal_findings")
    with op.batch_alter_table("signals", schema=None) as batch_op:
        batch_op.drop_index("ix_signals_agent_id_id")

    op.drop_table("signals")
    op.drop_table("signal_marks")
