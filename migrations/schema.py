"""The database schema as a whole: metadata for Alembic, and migrate/check helpers (outside
core/: the domain knows nothing of Alembic)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import MetaData

from core.dialect import normalise_url
from core.models import Base


def metadata() -> MetaData:
    """Every table salesbrain owns: core.models, and slack_sdk's tables for installs' tokens."""
    import bot.installation_store  # noqa: F401  (registers its tables on the metadata)

    return Base.metadata


def include_object(
    obj: Any, name: str | None, type_: str, reflected: bool, compare_to: Any
) -> bool:
    """What the models do not describe is not drift when it is the full-text index (the
    SQLite FTS5 table and its shadows; the PostgreSQL tsvector column and its GIN index)."""
    if reflected and compare_to is None and name is not None:
        if name.startswith("memory_fts"):
            return False
        return not (type_ == "table" and name.startswith("sqlite_"))
    return True


def alembic_config(url: str) -> Config:
    """An Alembic configuration for one database, without an ini file."""
    config = Config()
    config.set_main_option("script_location", str(Path(__file__).parent))
    config.attributes["url"] = normalise_url(url)
    return config


def upgrade(url: str, revision: str = "head") -> None:
    """Migrate the database to `revision` (head by default)."""
    command.upgrade(alembic_config(url), revision)


def downgrade(url: str, revision: str = "base") -> None:
    command.downgrade(alembic_config(url), revision)


def check(url: str) -> None:
    """Raise if the models and the migrations disagree (autogenerate finds changes)."""
    command.check(alembic_config(url))


def current(url: str) -> str | None:
    """The revision the database is at."""
    from alembic.runtime.migration import MigrationContext

    from core.db import make_engine

    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            return MigrationContext.configure(connection).get_current_revision()
    finally:
        engine.dispose()
