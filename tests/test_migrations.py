"""Migrations: upgrade, downgrade and upgrade again on both databases, with no drift."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic.script import ScriptDirectory
from sqlalchemy import inspect

from core.db import make_engine
from migrations import schema
from tests.conftest import (
    DIALECTS,
    create_postgres_database,
    drop_postgres_database,
    unique_name,
)


@pytest.fixture(params=DIALECTS)
def empty_db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'fresh.db'}"
        return
    name = unique_name("salesbrain_migrate")
    yield create_postgres_database(name)
    drop_postgres_database(name)


def _tables(url: str) -> set[str]:
    engine = make_engine(url)
    try:
        return set(inspect(engine).get_table_names()) - {"alembic_version"}
    finally:
        engine.dispose()


def test_upgrade_downgrade_upgrade_leaves_no_drift(empty_db_url: str) -> None:
    schema.upgrade(empty_db_url)
    assert {"memory_blocks", "agents", "audit_events"} <= _tables(empty_db_url)
    schema.check(empty_db_url)  # raises when the models and the migrations disagree

    schema.downgrade(empty_db_url, "base")
    assert _tables(empty_db_url) == set()
    assert schema.current(empty_db_url) is None

    schema.upgrade(empty_db_url)
    schema.check(empty_db_url)
    assert (
        schema.current(empty_db_url)
        == ScriptDirectory.from_config(schema.alembic_config(empty_db_url)).get_current_head()
    )


def test_migrations_form_one_line_of_history() -> None:
    scripts = ScriptDirectory.from_config(schema.alembic_config("sqlite://"))
    assert len(scripts.get_heads()) == 1, "several heads: chain the new migration after the last"
