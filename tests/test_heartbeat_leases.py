"""Due agents and leases on both databases: claimed once, released by their owner only."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select, update
from sqlalchemy.engine import Engine

from core.db import unit_of_work
from core.errors import InvalidInput
from core.heartbeat import leases
from core.heartbeat.leases import Claim
from core.models import Agent, AgentStatus
from tests.conftest import World


@pytest.fixture
def later(world: World) -> datetime:
    """A minute after the world's agents fell due."""
    return datetime.now(UTC) + timedelta(minutes=1)


def _claim(engine: Engine, worker: str, now: datetime, limit: int = 100) -> list[Claim]:
    with unit_of_work(engine) as session:
        return leases.claim_due(session, worker, now=now, limit=limit, lease_seconds=60)


def test_due_agents_are_claimed_once_until_their_lease_lapses(
    engine: Engine, world: World, later: datetime
) -> None:
    first = _claim(engine, "w1", later)
    assert {c.agent_id for c in first} == {
        a.id for a in (world.sdr, world.ae, world.director, world.amer_sdr, world.amer_director)
    } | {world.globex_sdr.id}
    assert _claim(engine, "w2", later) == []
    lapsed = _claim(engine, "w2", later + timedelta(seconds=61))
    assert {c.agent_id for c in lapsed} == {c.agent_id for c in first}
    assert all(c.owner.startswith("w2/") for c in lapsed)


def test_paused_and_not_yet_due_agents_are_not_claimed(
    engine: Engine, world: World, later: datetime
) -> None:
    with unit_of_work(engine) as session:
        session.execute(
            update(Agent).where(Agent.id == world.sdr.id).values(status=AgentStatus.PAUSED)
        )
        session.execute(
            update(Agent)
            .where(Agent.id == world.ae.id)
            .values(next_run_at=later + timedelta(hours=1))
        )
    claimed = {c.agent_id for c in _claim(engine, "w1", later)}
    assert world.sdr.id not in claimed
    assert world.ae.id not in claimed
    assert world.director.id in claimed


def test_a_claim_takes_the_longest_overdue_first_up_to_the_limit(
    engine: Engine, world: World, later: datetime
) -> None:
    with unit_of_work(engine) as session:
        session.execute(
            update(Agent)
            .where(Agent.id == world.amer_sdr.id)
            .values(next_run_at=later - timedelta(hours=2))
        )
    [claim] = _claim(engine, "w1", later, limit=1)
    assert claim.agent_id == world.amer_sdr.id
    assert claim.scheduled_for == later - timedelta(hours=2)


def test_finishing_needs_the_lease_and_schedules_the_next_run(
    engine: Engine, world: World, later: datetime
) -> None:
    claims = {c.agent_id: c for c in _claim(engine, "w1", later)}
    mine = claims[world.sdr.id]
    stolen = Claim(mine.agent_id, mine.workspace_id, "w9/other", mine.expires_at, None)
    next_run = later + timedelta(hours=1)
    with unit_of_work(engine) as session:
        assert not leases.finish(session, stolen, last_cycle_at=later, next_run_at=next_run)
        assert leases.finish(session, mine, last_cycle_at=later, next_run_at=next_run)
        assert not leases.finish(session, mine, last_cycle_at=later, next_run_at=next_run)
    with unit_of_work(engine, readonly=True) as session:
        agent = session.get_one(Agent, world.sdr.id)
        assert (agent.lease_owner, agent.lease_expires_at) == (None, None)
        assert agent.next_run_at == next_run
        assert agent.last_cycle_at == later


def test_running_an_agent_now_is_refused_while_another_worker_runs_it(
    engine: Engine, world: World, later: datetime
) -> None:
    _claim(engine, "w1", later)
    with unit_of_work(engine) as session:
        agent = session.get_one(Agent, world.sdr.id)
        with pytest.raises(InvalidInput, match="in a cycle on w1/"):
            leases.claim_agent(session, agent, "w2", now=later, lease_seconds=60)


def test_concurrent_claimers_never_share_an_agent(
    engine: Engine, world: World, later: datetime
) -> None:
    with unit_of_work(engine) as session:
        workspace_id, team_id = world.workspace.id, world.emea.id
        for number in range(60):
            session.add(
                Agent(
                    workspace_id=workspace_id,
                    team_id=team_id,
                    handle=f"load-{number}",
                    display_name=f"load-{number}",
                    role=world.sdr.role,
                    next_run_at=later - timedelta(minutes=5),
                )
            )
    claimed: list[list[Claim]] = [[] for _ in range(6)]
    barrier = threading.Barrier(6)

    def claimer(slot: int) -> None:
        barrier.wait(timeout=10)
        for _ in range(10):
            claimed[slot] += _claim(engine, f"w{slot}", later, limit=3)

    threads = [threading.Thread(target=claimer, args=(slot,)) for slot in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    ids = [claim.agent_id for claims in claimed for claim in claims]
    assert len(ids) == len(set(ids)) == 66
    with unit_of_work(engine, readonly=True) as session:
        owners = dict(session.execute(select(Agent.id, Agent.lease_owner)).all())
    for slot, claims in enumerate(claimed):
        assert all(
            owners[c.agent_id] == c.owner and c.owner.startswith(f"w{slot}/") for c in claims
        )


def test_next_run_is_one_interval_later_with_a_little_deterministic_jitter() -> None:
    finished = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
    first = leases.next_run(7, 60, finished, jitter_share=0.05, max_jitter_seconds=300)
    assert first == leases.next_run(7, 60, finished, jitter_share=0.05, max_jitter_seconds=300)
    assert finished + timedelta(minutes=60) <= first <= finished + timedelta(minutes=63)
    others = {
        leases.next_run(agent, 60, finished, jitter_share=0.05, max_jitter_seconds=300)
        for agent in range(20)
    }
    assert len(others) > 15
