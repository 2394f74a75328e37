"""full-text index of words as written

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01 16:00:00

The full-text index stops stemming: Porter (SQLite) and Snowball (PostgreSQL) made
"signed" find "Sign" and "AES-256" find "AE" (issue 11). Words are now indexed as written
(lowercase, without diacritics on SQLite) and context assembly searches for the forms it
accepts itself: a word's singular and plural, exact for short words and words with digits
(core/context/lexicon.py). The index is rebuilt from the active blocks: SQLite recreates
its FTS5 table with the `unicode61` tokenizer, PostgreSQL regenerates its tsvector column
with the 'simple' configuration. Both take about as long as building the index did.
"""

import importlib
from collections.abc import Sequence

from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The index, its triggers and their text as migration 0002 builds them, tokenizer aside.
_FULLTEXT = importlib.import_module("migrations.versions.0002_memory_fulltext")


def _rebuild(sqlite_tokenizer: str, postgresql_configuration: str) -> None:
    _FULLTEXT.downgrade()
    if op.get_bind().dialect.name == "sqlite":
        _FULLTEXT._upgrade_sqlite(sqlite_tokenizer)
    else:
        _FULLTEXT._upgrade_postgresql(postgresql_configuration)


def upgrade() -> None:
    _rebuild("unicode61 remove_diacritics 2", "simple")


def downgrade() -> None:
    _rebuild("porter unicode61 remove_diacritics 2", "english")
