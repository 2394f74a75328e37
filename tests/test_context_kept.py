"""What context assembly keeps between calls (core/context/kept.py) is never stale: after any
write, by this process or another, the next assembly equals one on a new connection, and
nothing kept for one brain reaches another. On both databases (PostgreSQL keeps nothing)."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine

from core import clock, memory
from core.coaching import coach_one
from core.context import ContextSettings, assemble_context
from core.db import UnitOfWork, make_engine
from core.dialect import full_text
from core.models import Agent, BlockStatus, BlockType, MemoryBlock, Workspace
from core.permissions import Actor
from tests.conftest import ADMIN, EMEA_MANAGER, GLOBEX_ADMIN, World

UoW = Callable[..., UnitOfWork]
MANAGER = Actor.member(EMEA_MANAGER)
ROOT = Path(__file__).resolve().parents[1]
TASK = "Draft the renewal email for the CFO at Northwind about security"
SETTINGS = ContextSettings(standing_orders=2)


@pytest.fixture
def fresh(db_url: str) -> Iterator[Engine]:
    """A second engine on the same database: its connections have kept nothing."""
    engine = make_engine(db_url)
    yield engine
    engine.dispose()


def _context(engine: Engine, agent_id: int, task: str = TASK) -> dict[str, object]:
    with UnitOfWork(engine, readonly=True) as u:
        agent = u.session.get(Agent, agent_id)
        assert agent is not None
        return assemble_context(u.session, agent, task, settings=SETTINGS).as_dict()


def _same_as_fresh(engine: Engine, fresh: Engine, agent_id: int) -> list[int]:
    """The assembly on the engine that keeps, checked against a new connection's at the same
    instant: blocks as relevant and important as each other rank by recency, which moves
    between two calls (an older block of a longer half-life overtakes a newer one of a
    shorter half-life: one run of the suite under load caught it)."""
    with clock.frozen_at(clock.now()):
        kept, new = _context(engine, agent_id), _context(fresh, agent_id)
    assert kept == new
    blocks = kept["blocks"]
    assert isinstance(blocks, list)
    return [block["id"] for block in blocks]


def _learn(uow: UoW, world: World, agent: Agent, content: str, **options: object) -> int:
    options.setdefault("importance", 0.5)
    with uow() as u:
        block = memory.write_learning(
            u.session, world.workspace, agent, content, by=Actor.agent(agent.handle), **options
        )  # type: ignore[arg-type]
        return block.id


def _company(
    uow: UoW, workspace: Workspace, content: str, by: str = ADMIN, **options: object
) -> int:
    """A block on the workspace's Company Brain (kept between calls for all its agents)."""
    with uow() as u:
        stored = u.session.get(Workspace, workspace.id)
        assert stored is not None
        return memory.write_company(u.session, stored, content, by=Actor.member(by), **options).id  # type: ignore[arg-type]


def _change(uow: UoW, block_id: int, **values: object) -> None:
    with uow() as u:
        block = u.session.get(MemoryBlock, block_id)
        assert block is not None
        for name, value in values.items():
            setattr(block, name, value)


def test_every_kind_of_write_shows_in_the_next_assembly(
    engine: Engine, fresh: Engine, uow: UoW, world: World
) -> None:
    own = _learn(uow, world, world.sdr, "The CFO asked about security reviews")
    note = _learn(
        uow, world, world.sdr, "Board meets in March",
        type=BlockType.ACCOUNT_CONTEXT, subject={"company": "Northwind Health"},
    )  # fmt: skip
    with uow() as u:
        coaching = coach_one(
            u.session, world.workspace, "sdr-emea", "Lead with the security review", by=MANAGER
        ).id
    policy = _company(
        uow, world.workspace, "Security reviews go through the CFO office", importance=0.5
    )
    agent = world.sdr.id
    first = _same_as_fresh(engine, fresh, agent)
    assert {own, note, coaching, policy} <= set(first)
    assert _same_as_fresh(engine, fresh, agent) == first  # kept, and still right
    assert _same_as_fresh(engine, fresh, agent) == first  # the Company Brain's phrases kept
    _change(uow, policy, content="Pricing questions go to the deal desk")
    assert policy not in _same_as_fresh(engine, fresh, agent)
    _change(uow, policy, content="Security reviews go through the CFO office")
    assert policy in _same_as_fresh(engine, fresh, agent)

    added = _learn(uow, world, world.sdr, "Security questionnaires slow the CFO down")
    assert added in _same_as_fresh(engine, fresh, agent)
    _change(uow, own, content="Nothing here matches any more")
    assert own not in _same_as_fresh(engine, fresh, agent)
    _change(uow, added, importance=0.05)
    _same_as_fresh(engine, fresh, agent)
    _change(uow, note, subject_company="Contoso")  # the account renamed: no longer named
    assert note not in _same_as_fresh(engine, fresh, agent)
    with uow() as u:
        memory.archive(u.session, world.workspace, coaching, by=MANAGER)
    assert coaching not in _same_as_fresh(engine, fresh, agent)
    _change(uow, added, status=BlockStatus.SUPERSEDED)
    assert added not in _same_as_fresh(engine, fresh, agent)
    with uow() as u:  # a new standing order, which the task does not mention
        order = coach_one(
            u.session, world.workspace, "sdr-emea", "Always copy the AE", by=MANAGER
        ).id
    assert order in _same_as_fresh(engine, fresh, agent)


def test_a_commit_from_another_process_shows_in_the_next_assembly(
    engine: Engine, fresh: Engine, uow: UoW, world: World, db_url: str
) -> None:
    block = _company(
        uow, world.workspace, "Security reviews go through the CFO office", importance=0.5
    )
    for _ in range(3):  # read, then the Company Brain's parts kept, then its phrases
        assert block in _same_as_fresh(engine, fresh, world.sdr.id)
    write = (
        "import sys\n"
        "from sqlalchemy import text\n"
        "from core.db import make_engine\n"
        "engine = make_engine(sys.argv[1])\n"
        "with engine.begin() as connection:\n"
        "    connection.execute(text('UPDATE memory_blocks SET content = :c WHERE id = :i'),"
        " {'c': 'Nothing to see', 'i': int(sys.argv[2])})\n"
        "engine.dispose()\n"
    )
    subprocess.run(
        [sys.executable, "-c", write, db_url, str(block)], cwd=ROOT, check=True, timeout=120
    )
    assert block not in _same_as_fresh(engine, fresh, world.sdr.id)


def test_what_a_rolled_back_write_showed_is_not_kept(
    engine: Engine, fresh: Engine, uow: UoW, world: World
) -> None:
    _same_as_fresh(engine, fresh, world.sdr.id)
    with pytest.raises(RuntimeError), uow() as u:
        block = memory.write_learning(
            u.session, world.workspace, world.sdr, "Security reviews matter to the CFO",
            by=Actor.agent("sdr-emea"), importance=0.5,
        )  # fmt: skip
        seen = assemble_context(u.session, world.sdr, TASK, settings=SETTINGS)
        assert block.id in [b.id for b in seen.blocks]  # its own write, in its transaction
        raise RuntimeError("rolled back")
    assert block.id not in _same_as_fresh(engine, fresh, world.sdr.id)


def test_nothing_kept_for_one_agent_reaches_another_team_or_workspace(
    engine: Engine, fresh: Engine, uow: UoW, world: World
) -> None:
    mine = _learn(uow, world, world.sdr, "The CFO asked about security reviews")
    with uow() as u:
        team = memory.promote(u.session, world.workspace, mine, "team", by=MANAGER).id
    _change(uow, mine, content="The CFO wants the security checklist first")  # no duplicate
    acme = _company(uow, world.workspace, "Security reviews go through the CFO office")
    globex = _company(
        uow, world.other_workspace, "The CFO signs off security reviews", by=GLOBEX_ADMIN
    )
    for _ in range(2):  # read, then kept
        first = _same_as_fresh(engine, fresh, world.sdr.id)
        assert {mine, team, acme} <= set(first) and globex not in first
        ae = set(_same_as_fresh(engine, fresh, world.ae.id))
        assert ae & {mine, team, acme, globex} == {team, acme}
        amer = set(_same_as_fresh(engine, fresh, world.amer_sdr.id))
        assert amer & {mine, team, acme, globex} == {acme}
        other = set(_same_as_fresh(engine, fresh, world.globex_sdr.id))
        assert other & {mine, team, acme, globex} == {globex}


def test_the_memory_version_holds_while_nothing_is_written(
    engine: Engine, uow: UoW, world: World
) -> None:
    def version() -> object:
        with UnitOfWork(engine, readonly=True) as u:
            connection = u.session.connection()
            return full_text(connection).memory_version(connection)

    before = version()
    assert version() == before
    _learn(uow, world, world.sdr, "Anything at all")
    after = version()
    if engine.dialect.name == "sqlite":
        assert before is not None and after is not None and after != before
    else:
        assert before is None and after is None  # no exact version: nothing is kept
    with uow() as u:
        memory.write_learning(
            u.session,
            world.workspace,
            world.sdr,
            "More",
            by=Actor.agent("sdr-emea"),
            importance=0.5,
        )
        connection = u.session.connection()
        # A transaction that wrote may still roll back: nothing it reads is kept.
        assert full_text(connection).memory_version(connection) is None
