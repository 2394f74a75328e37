"""memory full-text search

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25 12:10:00

SQLite: an FTS5 index `memory_fts` of the active blocks, kept in step by triggers. Each word
is indexed under its owner's scope (`p<agent>x`, `t<team>x`, `c<workspace>x`, e.g.
`p12xhospital`) so that bm25 counts its statistics within one brain instead of across a
million blocks. The index is contentless: deleting a row repeats the text it was indexed
with, which the triggers rebuild from the old row. core/context/search.py queries it with
the same scopes.

PostgreSQL: a stored generated tsvector column `memory_fts` (always in step, in the same
statement) with a GIN index.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Characters the FTS5 tokenizer splits on, turned into spaces so that every word gets its
# scope prefix. A character missed here only costs the word after it its findability.
_SEPARATORS = [
    *"\t\n\r\v\f\u00a0",
    *"!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~",
    *"\u2018\u2019\u201c\u201d\u2013\u2014\u2026\u2022\u00b7\u00ab\u00bb",
]
_TRIGGER_COLUMNS = "content, status, tier, agent_id, team_id, workspace_id"


def _literal(text: str) -> str:
    if text == "\u00a0" or (text.isspace() and text != " "):
        return f"char({ord(text)})"
    return "'" + text.replace("'", "''") + "'"


def _scoped_rows(row: str, tail: str) -> str:
    """A SELECT of (id, body) for blocks: the text FTS5 indexes, each word prefixed with its
    scope. `row` names the block (new, old, or a table alias that `tail` defines). The
    replacements are staged in sub-selects: SQLite's parser refuses expressions nested more
    than about 30 deep."""
    scope = (
        f"CASE {row}.tier WHEN 'personal' THEN 'p' || {row}.agent_id "
        f"WHEN 'team' THEN 't' || {row}.team_id ELSE 'c' || {row}.workspace_id END || 'x'"
    )
    stage = f"SELECT {row}.id AS id, {scope} AS scope, {row}.content AS body {tail}"
    pairs = [(_literal(separator), "' '") for separator in _SEPARATORS]
    pairs += [("'  '", "' '")] * 3  # runs of spaces would index bare prefixes
    for first in range(0, len(pairs), 12):
        body = "body"
        for found, replacement in pairs[first : first + 12]:
            body = f"replace({body}, {found}, {replacement})"
        stage = f"SELECT id, scope, {body} AS body FROM ({stage})"
    return f"SELECT id, scope || replace(trim(body), ' ', ' ' || scope) AS body FROM ({stage})"


def _upgrade_sqlite(tokenize: str = "porter unicode61 remove_diacritics 2") -> None:
    """The index and its triggers, with the FTS5 tokenizer given (migration 0007 drops
    stemming)."""
    old_rows = _scoped_rows("old", "WHERE old.status = 'active'")
    new_rows = _scoped_rows("new", "WHERE new.status = 'active'")
    active_rows = _scoped_rows("b", "FROM memory_blocks b WHERE b.status = 'active'")
    op.execute(
        f"CREATE VIRTUAL TABLE memory_fts USING fts5(body, content = '', tokenize = '{tokenize}')"
    )
    op.execute(f"INSERT INTO memory_fts(rowid, body) {active_rows}")
    op.execute(
        "CREATE TRIGGER memory_fts_after_insert AFTER INSERT ON memory_blocks BEGIN "
        f"INSERT INTO memory_fts(rowid, body) {new_rows}; END"
    )
    op.execute(
        "CREATE TRIGGER memory_fts_after_delete AFTER DELETE ON memory_blocks BEGIN "
        f"INSERT INTO memory_fts(memory_fts, rowid, body) SELECT 'delete', * FROM ({old_rows}); "
        "END"
    )
    op.execute(
        f"CREATE TRIGGER memory_fts_after_update AFTER UPDATE OF {_TRIGGER_COLUMNS} "
        "ON memory_blocks BEGIN "
        f"INSERT INTO memory_fts(memory_fts, rowid, body) SELECT 'delete', * FROM ({old_rows}); "
        f"INSERT INTO memory_fts(rowid, body) {new_rows}; END"
    )


def _upgrade_postgresql(configuration: str = "english") -> None:
    op.execute(
        "ALTER TABLE memory_blocks ADD COLUMN memory_fts tsvector "
        f"GENERATED ALWAYS AS (to_tsvector('{configuration}'::regconfig, content)) STORED"
    )
    op.execute("CREATE INDEX memory_fts_index ON memory_blocks USING gin (memory_fts)")


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        _upgrade_sqlite()
    else:
        _upgrade_postgresql()


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        for trigger in ("after_update", "after_delete", "after_insert"):
            op.execute(f"DROP TRIGGER IF EXISTS memory_fts_{trigger}")
        op.execute("DROP TABLE IF EXISTS memory_fts")
    else:
        op.execute("DROP INDEX IF EXISTS memory_fts_index")
        op.execute("ALTER TABLE memory_blocks DROP COLUMN IF EXISTS memory_fts")
