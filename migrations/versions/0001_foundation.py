"""foundation

Revision ID: 0001
Revises:
Create Date: 2026-11-25 11:20:41.992522
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import core.dialect

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "workspaces",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("slack_team_id", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("settings", core.dialect.JSONDocument(), nullable=False),
        sa.Column("created_at", core.dialect.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_workspaces")),
        sa.UniqueConstraint("slack_team_id", name=op.f("uq_workspaces_slack_team_id")),
    )
    op.create_table(
        "audit_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("workspace_id", sa.Integer(), nullable=True),
        sa.Column("at", core.dialect.UTCDateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(length=100), nullable=False),
        sa.Column("action", sa.String(length=64), nullable=False),
        sa.Column("target", sa.String(length=100), nullable=False),
        sa.Column("outcome", sa.String(length=16), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.Column("origin", sa.String(length=16), nullable=False),
        sa.ForeignKeyConstraint(
            ["workspace_id"],
            ["workspaces.id"],
            name=op.f("fk_audit_events_workspace_id_workspaces"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_events")),
    )
    with op.batch_alter_table("audit_events", schema=None) as batch_op:
        batch_op.create_index("ix_audit_events_workspace_at", ["workspace_id", "at"], unique=False)

    op.create_table(
        "members",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("workspace_id", sa.Integer(), nullable=False),
        sa.Column("slack_user_id", sa.String(length=32), nullable=False),
        sa.Column(
            "role",
            sa.Enum("admin", "manager", "member", name="memberrole", native_enum=False, length=32),
            nullable=False,
        ),
        sa.Column("display_name", sa.String(length=200), nullable=True),
        sa.Column("created_at", core.dialect.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", core.dialect.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["workspace_id"],
            ["workspaces.id"],
            name=op.f("fk_members_workspace_id_workspaces"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_members")),
        sa.UniqueConstraint(
            "workspace_id", "slack_user_id", name=op.f("uq_members_workspace_id_slack_user_id")
        ),
    )
    op.create_table(
        "teams",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("workspace_id", sa.Integer(), nullable=False),
        sa.Column("slug", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("created_at", core.dialect.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["workspace_id"],
            ["workspaces.id"],
            name=op.f("fk_teams_workspace_id_workspaces"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_teams")),
        sa.UniqueConstraint("workspace_id", "slug", name=op.f("uq_teams_workspace_id_slug")),
    )
    op.create_table(
        "agents",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("workspace_id", sa.Integer(), nullable=False),
        sa.Column("team_id", sa.Integer(), nullable=False),
        sa.Column("handle", sa.String(length=64), nullable=False),
        sa.Column("display_name", sa.String(length=200), nullable=False),
        sa.Column(
            "role",
            sa.Enum(
                "sdr",
                "account_executive",
                "marketing_manager",
                "ad_manager",
                "director",
                name="agentrole",
                native_enum=False,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("objective", sa.Text(), nullable=False),
        sa.Column("model", sa.String(length=100), nullable=False),
        sa.Column("interval_minutes", sa.Integer(), nullable=False),
        sa.Column("report_channel", sa.String(length=32), nullable=True),
        sa.Column(
            "status",
            sa.Enum("active", "paused", name="agentstatus", native_enum=False, length=32),
            nullable=False,
        ),
        sa.Column("next_run_at", core.dialect.UTCDateTime(timezone=True), nullable=True),
        sa.Column("lease_owner", sa.String(length=100), nullable=True),
        sa.Column("lease_expires_at", core.dialect.UTCDateTime(timezone=True), nullable=True),
        sa.Column("last_cycle_at", core.dialect.UTCDateTime(timezone=True), nullable=True),
        sa.Column("created_at", core.dialect.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", core.dialect.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["team_id"], ["teams.id"], name=op.f("fk_agents_team_id_teams")),
        sa.ForeignKeyConstraint(
            ["workspace_id"],
            ["workspaces.id"],
            name=op.f("fk_agents_workspace_id_workspaces"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_agents")),
        sa.UniqueConstraint("workspace_id", "handle", name=op.f("uq_agents_workspace_id_handle")),
    )
    with op.batch_alter_table("agents", schema=None) as batch_op:
        batch_op.create_index("ix_agents_due", ["status", "next_run_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_agents_team_id"), ["team_id"], unique=False)

    op.create_table(
        "member_teams",
        sa.Column("member_id", sa.Integer(), nullable=False),
        sa.Column("team_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["member_id"],
            ["members.id"],
            name=op.f("fk_member_teams_member_id_members"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["team_id"],
            ["teams.id"],
            name=op.f("fk_member_teams_team_id_teams"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("member_id", "team_id", name=op.f("pk_member_teams")),
    )
    op.create_table(
        "memory_blocks",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("workspace_id", sa.Integer(), nullable=False),
        sa.Column(
            "tier",
            sa.Enum("personal", "team", "company", name="tier", native_enum=False, length=32),
            nullable=False,
        ),
        sa.Column("agent_id", sa.Integer(), nullable=True),
        sa.Column("team_id", sa.Integer(), nullable=True),
        sa.Column(
            "type",
            sa.Enum(
                "coaching",
                "learning",
                "pattern",
                "objection_response",
                "account_context",
                name="blocktype",
                native_enum=False,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("content", sa.Text(), nullable=False),
        sa.Column("importance", sa.Float(), nullable=False),
        sa.Column(
            "source_kind",
            sa.Enum(
                "slack_user",
                "agent_cycle",
                "signal_analysis",
                "promotion",
                "import",
                name="sourcekind",
                native_enum=False,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("source_ref", sa.String(length=500), nullable=True),
        sa.Column("source_by", sa.String(length=100), nullable=True),
        sa.Column("created_at", core.dialect.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", core.dialect.UTCDateTime(timezone=True), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "active", "archived", "superseded", name="blockstatus", native_enum=False, length=32
            ),
            nullable=False,
        ),
        sa.Column("status_reason", sa.Text(), nullable=True),
        sa.Column("promoted_from_id", sa.Integer(), nullable=True),
        sa.Column("supersedes_id", sa.Integer(), nullable=True),
        sa.Column("promoted_by", sa.String(length=100), nullable=True),
        sa.Column("evidence", core.dialect.JSONDocument(), nullable=True),
        sa.Column("times_surfaced", sa.Integer(), nullable=False),
        sa.Column("last_surfaced_at", core.dialect.UTCDateTime(timezone=True), nullable=True),
        sa.Column("subject_company", sa.String(length=200), nullable=True),
        sa.Column("subject_domain", sa.String(length=200), nullable=True),
        sa.Column("subject_segment", sa.String(length=100), nullable=True),
        sa.CheckConstraint(
            "importance >= 0 AND importance <= 1", name=op.f("ck_memory_blocks_importance_range")
        ),
        sa.ForeignKeyConstraint(
            ["agent_id"],
            ["agents.id"],
            name=op.f("fk_memory_blocks_agent_id_agents"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["promoted_from_id"],
            ["memory_blocks.id"],
            name=op.f("fk_memory_blocks_promoted_from_id_memory_blocks"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["supersedes_id"],
            ["memory_blocks.id"],
            name=op.f("fk_memory_blocks_supersedes_id_memory_blocks"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["team_id"],
            ["teams.id"],
            name=op.f("fk_memory_blocks_team_id_teams"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["workspace_id"],
            ["workspaces.id"],
            name=op.f("fk_memory_blocks_workspace_id_workspaces"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_memory_blocks")),
        sa.UniqueConstraint(
            "promoted_from_id", "tier", name=op.f("uq_memory_blocks_promoted_from_id_tier")
        ),
    )
    with op.batch_alter_table("memory_blocks", schema=None) as batch_op:
        batch_op.create_index("ix_memory_blocks_personal", ["agent_id", "status"], unique=False)
        batch_op.create_index("ix_memory_blocks_team", ["team_id", "status"], unique=False)
        batch_op.create_index(
            "ix_memory_blocks_workspace_tier", ["workspace_id", "tier", "status"], unique=False
        )

    op.create_table(
        "tasks",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("workspace_id", sa.Integer(), nullable=False),
        sa.Column("agent_id", sa.Integer(), nullable=False),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.Column(
            "status",
            sa.Enum("open", "done", "cancelled", name="taskstatus", native_enum=False, length=32),
            nullable=False,
        ),
        sa.Column("created_by", sa.String(length=100), nullable=False),
        sa.Column("from_agent_id", sa.Integer(), nullable=True),
        sa.Column("outcome", sa.Text(), nullable=True),
        sa.Column("created_at", core.dialect.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", core.dialect.UTCDateTime(timezone=True), nullable=False),
        sa.Column("completed_at", core.dialect.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["agent_id"], ["agents.id"], name=op.f("fk_tasks_agent_id_agents"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["from_agent_id"],
            ["agents.id"],
            name=op.f("fk_tasks_from_agent_id_agents"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["workspace_id"],
            ["workspaces.id"],
            name=op.f("fk_tasks_workspace_id_workspaces"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tasks")),
    )
    with op.batch_alter_table("tasks", schema=None) as batch_op:
        batch_op.create_index("ix_tasks_agent_status", ["agent_id", "status"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("tasks", schema=None) as batch_op:
        batch_op.drop_index("ix_tasks_agent_status")

    op.drop_table("tasks")
    with op.batch_alter_table("memory_blocks", schema=None) as batch_op:
        batch_op.drop_index("ix_memory_blocks_workspace_tier")
        batch_op.drop_index("ix_memory_blocks_team")
        batch_op.drop_index("ix_memory_blocks_personal")

    op.drop_table("memory_blocks")
    op.drop_table("member_teams")
    with op.batch_alter_table("agents", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_agents_team_id"))
        batch_op.drop_index("ix_agents_due")

    op.drop_table("agents")
    op.drop_table("teams")
    op.drop_table("members")
    with op.batch_alter_table("audit_events", schema=None) as batch_op:
        batch_op.drop_index("ix_audit_events_workspace_at")

    op.drop_table("audit_events")
    op.drop_table("workspaces")
