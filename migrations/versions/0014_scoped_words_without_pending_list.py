"""PostgreSQL: the scoped words' GIN index takes each write at once, not in a pending list

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-02 02:10:00

A GIN index defers the entries of new rows to a pending list ("fastupdate", on by default)
until VACUUM, ANALYZE or the list's limit (4 MB, thousands of blocks) merges them, and every
search reads the whole list meanwhile. Context assembly probes `memory_fts_scoped_index`
(migration 0013) once per phrase group, so each probe paid for every block written since the
last vacuum: at 100,000 blocks the phrase statement took 1.9 ms after VACUUM, 13.7 ms after
250 new blocks, 48 ms after 1,000 and 86 ms after 2,000 (issue 11, BENCHMARKS.md). With the
list off, a write puts its words in the index itself (single-block inserts cost about the
same, without the occasional merge of the whole list). What is pending now is merged here.
Additive: a storage parameter, which the previous version neither reads nor needs. The
whole-table `memory_fts_index`, which no search reads, keeps its pending list (cheaper
writes). SQLite: nothing to do.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        return
    op.execute("ALTER INDEX memory_fts_scoped_index SET (fastupdate = off)")
    op.execute("SELECT gin_clean_pending_list('memory_fts_scoped_index')")


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        return
    op.execute("ALTER INDEX memory_fts_scoped_index RESET (fastupdate)")
