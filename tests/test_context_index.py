"""The full-text index as the migrations build it: existing blocks are indexed on upgrade,
and on SQLite the triggers that keep it in step are in place at head."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.engine import Engine

from core import clock, directory, memory
from core.coaching import coach_one
from core.context import assemble_context, optimize_index
from core.db import UnitOfWork, make_engine, unavailable
from core.models import Agent, BlockStatus, MemoryBlock
from core.permissions import Actor
from migrations import schema
from tests.conftest import (
    DIALECTS,
    World,
    create_postgres_database,
    drop_postgres_database,
    unique_name,
)

TRIGGERS = {"memory_fts_after_insert", "memory_fts_after_update", "memory_fts_after_delete"}


@pytest.fixture(params=DIALECTS)
def foundation_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A database migrated to the foundation only (before the full-text index)."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'foundation.db'}"
        schema.upgrade(url, "0001")
        yield url
        return
    name = unique_name("salesbrain_fts")
    url = create_postgres_database(name)
    schema.upgrade(url, "0001")
    yield url
    drop_postgres_database(name)


def test_upgrading_indexes_the_blocks_that_already_exist(foundation_url: str) -> None:
    engine = make_engine(foundation_url)
    try:
        with UnitOfWork(engine) as u:
            workspace = directory.create_workspace(u.session, "T0001", "Acme")
            directory.create_team(u.session, workspace, "emea", "EMEA")
            directory.set_member(u.session, workspace, "U0001", "manager", ["emea"])
            agent = directory.create_agent(
                u.session, workspace, "sdr-emea", team="emea", role="sdr"
            )
            # At revision 0001 the table has no full-text column: insert only what it has.
            kept = coach_one(
                u.session, workspace, "sdr-emea", "Mention HIPAA early", by=Actor.member("U0001")
            ).id
            archived = coach_one(
                u.session, workspace, "sdr-emea", "Mention HIPAA late", by=Actor.member("U0001")
            )
            archived.status = BlockStatus.ARCHIVED
        schema.upgrade(foundation_url)
        schema.check(foundation_url)

        with clock.frozen_at(clock.now()), UnitOfWork(engine, readonly=True) as u:
            context = assemble_context(u.session, agent, "HIPAA")
            assert [(b.id, round(b.relevance, 6)) for b in context.blocks] == [(kept, 1.0)]
            if engine.dialect.name == "sqlite":
                indexed = u.session.scalar(text("SELECT count(*) FROM memory_fts_docsize"))
                active = u.session.scalar(
                    select(func.count())
                    .select_from(MemoryBlock)
                    .where(MemoryBlock.status == BlockStatus.ACTIVE)
                )
                assert indexed == active == 1
    finally:
        engine.dispose()


def test_the_sqlite_triggers_that_keep_the_index_in_step_exist_at_head(tmp_path: Path) -> None:
    # A later migration that rebuilds memory_blocks in batch mode (copy, drop, rename) drops
    # these triggers with the old table: it must create them again.
    url = f"sqlite:///{tmp_path / 'head.db'}"
    schema.upgrade(url)
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            triggers = connection.execute(
                text(
                    "SELECT name FROM sqlite_master WHERE type = 'trigger' "
                    "AND tbl_name = 'memory_blocks'"
                )
            ).scalars()
            assert set(triggers) >= TRIGGERS
    finally:
        engine.dispose()


def test_optimizing_the_index_changes_no_result(
    engine: Engine, uow: Callable[..., UnitOfWork], world: World
) -> None:
    with uow() as u:
        for n in range(30):  # one transaction each: many small index segments on SQLite
            memory.write_learning(
                u.session,
                world.workspace,
                world.sdr,
                f"Pricing note {n} about procurement and security reviews",
                by=Actor.agent("sdr-emea"),
                importance=0.3 + n / 100,
            )
            u.session.commit()
    later = clock.now() + timedelta(days=3)

    def context() -> list[tuple[int, float]]:
        with clock.frozen_at(later), uow(readonly=True) as u:
            agent = u.session.get(Agent, world.sdr.id)
            assert agent is not None
            found = assemble_context(u.session, agent, "security review pricing")
            return [(b.id, round(b.score, 9)) for b in found.blocks]

    before = context()
    assert optimize_index(engine, pages=4) >= 1  # small steps: several of them on SQLite
    assert context() == before and len(before) == 20
    assert optimize_index(engine) == 1  # nothing left to merge


def test_a_read_only_unit_of_work_still_discards_what_it_wrote(
    uow: Callable[..., UnitOfWork], world: World
) -> None:
    # PostgreSQL ends a read-only unit of work that wrote nothing with COMMIT (psycopg keeps
    # its prepared statements); one that wrote must still roll back.
    with uow(readonly=True) as u:
        agent = u.session.get(Agent, world.sdr.id)
        assert agent is not None
        assemble_context(u.session, agent, "pricing")
        memory.write_learning(
            u.session,
            world.workspace,
            world.sdr,
            "never stored",
            by=Actor.agent("sdr-emea"),
            importance=0.5,
        )
        u.session.flush()
    with uow(readonly=True) as u:
        assemble_context(u.session, world.sdr, "pricing")  # a clean read ends cleanly
        found = u.session.scalar(
            select(func.count())
            .select_from(MemoryBlock)
            .where(MemoryBlock.content == "never stored")
        )
    assert found == 0


def test_a_read_only_unit_of_work_whose_connection_the_server_dropped_says_the_database_is_away(
    engine: Engine, uow: Callable[..., UnitOfWork], world: World
) -> None:
    # A restart drops the connections of read-only units of work in the middle: the error
    # must be the one that says so (the edges answer it with "try again"), not the
    # PendingRollbackError of ending a transaction on a connection that is gone.
    if engine.dialect.name != "postgresql":
        pytest.skip("a server that drops a connection: PostgreSQL (a restart, a failover)")
    with pytest.raises(Exception) as raised, uow(readonly=True) as u:
        backend = u.session.execute(text("SELECT pg_backend_pid()")).scalar_one()
        with engine.connect() as admin:
            admin.execute(text(f"SELECT pg_terminate_backend({int(backend)})"))
        u.session.get(Agent, world.sdr.id)
    assert unavailable(raised.value), repr(raised.value)
    with uow(readonly=True) as u:  # the pool gives a working connection again
        assert u.session.get(Agent, world.sdr.id) is not None


@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)
def test_postgresql_puts_a_written_blocks_words_in_the_scoped_index_at_once(
    uow: Callable[..., UnitOfWork], world: World
) -> None:
    # Migration 0014: a GIN pending list would be read whole by every phrase lookup until
    # VACUUM merged it (7 to 45 times slower after 250 to 2,000 writes at 100,000 blocks).
    with uow() as u:
        for n in range(5):
            memory.write_learning(
                u.session,
                world.workspace,
                world.sdr,
                f"Procurement note {n}",
                by=Actor.agent("sdr-emea"),
                importance=0.5,
            )
            u.session.commit()
    with uow() as u:
        pending = text("SELECT gin_clean_pending_list('memory_fts_scoped_index')")
        assert u.session.scalar(pending) == 0
        context = assemble_context(u.session, world.sdr, "procurement")
        assert len(context.blocks) == 5


@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)
def test_postgresql_assembles_context_without_compiling_its_statements(
    uow: Callable[..., UnitOfWork], world: World
) -> None:
    # A long task's phrase statement passes jit_above_cost: compiling it cost more than
    # running it. Only the assembly's transaction is concerned.
    long_task = " ".join(f"topic{n} review" for n in range(40))
    with uow(readonly=True) as u:
        configured = u.session.scalar(text("SHOW jit"))
        assemble_context(u.session, world.sdr, long_task)
        assert u.session.scalar(text("SHOW jit")) == "off"
    with uow(readonly=True) as u:
        assert u.session.scalar(text("SHOW jit")) == configured
