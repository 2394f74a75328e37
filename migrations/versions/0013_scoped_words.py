"""PostgreSQL: each block's words under its owner's scope, indexed

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-01 22:00:00

Context assembly looks for a task's words among the blocks one agent reads (issue 11). On
PostgreSQL the GIN index of `memory_fts` holds each word for every workspace: a task's
common words ("group", "review") are posting lists of tens of thousands of blocks, and
testing the agent's ~500 rows one by one instead costs a tsquery per row and per phrase
group (8-20 ms at 100,000 blocks). SQLite's FTS5 index already prefixes each word with its
owner's scope (`p<agent id>x`, `t<team id>x`, `c<workspace id>x`: migration 0002); this
gives PostgreSQL the same: a generated text[] column of the block's lexemes ('simple'
configuration, as `memory_fts`) under that prefix, with a GIN index over active blocks, so
that a lookup reads the reader's own hits only. Positions stay in `memory_fts`, which still
decides phrases. Additive: a generated column and an index, which the previous version
neither reads nor writes. SQLite: nothing to do.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# A generated column may call only immutable functions: casts of integers to text are, and
# text || smallint (anytextcat) is not.
_SCOPE = (
    "CASE tier WHEN 'personal' THEN 'p' || agent_id::text"
    " WHEN 'team' THEN 't' || team_id::text ELSE 'c' || workspace_id::text END || 'x'"
)


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        return
    op.execute(
        "CREATE FUNCTION memory_fts_scoped(scope text, body tsvector) RETURNS text[] "
        "LANGUAGE sql IMMUTABLE PARALLEL SAFE "
        "RETURN ARRAY(SELECT scope || lexeme FROM unnest(tsvector_to_array(body)) AS lexeme)"
    )
    op.execute(
        "ALTER TABLE memory_blocks ADD COLUMN memory_fts_scoped text[] GENERATED ALWAYS AS "
        f"(memory_fts_scoped({_SCOPE}, to_tsvector('simple'::regconfig, content))) STORED"
    )
    op.execute(
        "CREATE INDEX memory_fts_scoped_index ON memory_blocks USING gin (memory_fts_scoped) "
        "WHERE status = 'active'"
    )


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        return
    op.execute("DROP INDEX IF EXISTS memory_fts_scoped_index")
    op.execute("ALTER TABLE memory_blocks DROP COLUMN IF EXISTS memory_fts_scoped")
    op.execute("DROP FUNCTION IF EXISTS memory_fts_scoped(text, tsvector)")
