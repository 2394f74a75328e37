"""context assembly covering indexes

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-25 12:20:00

Context assembly scores an agent's readable blocks from these indexes alone, one range per
tier, and reads table rows only for the best few (core/context/search.py).
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_COVERED = ["type", "importance", "updated_at", "subject_company", "subject_domain"]
_INDEXES = {
    "ix_memory_blocks_context_personal": ["agent_id", "tier", "status", "workspace_id", *_COVERED],
    "ix_memory_blocks_context_team": ["team_id", "tier", "status", "workspace_id", *_COVERED],
    "ix_memory_blocks_context_company": ["workspace_id", "tier", "status", *_COVERED],
}


def upgrade() -> None:
    with op.batch_alter_table("memory_blocks", schema=None) as batch_op:
        for name, columns in _INDEXES.items():
            batch_op.create_index(name, columns, unique=False)


def downgrade() -> None:
    with op.batch_alter_table("memory_blocks", schema=None) as batch_op:
        for name in reversed(_INDEXES):
            batch_op.drop_index(name)
