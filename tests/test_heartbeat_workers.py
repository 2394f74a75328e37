"""Several worker processes share one PostgreSQL database through leases.

200 due agents, worker processes running `salesbrain heartbeat` against a fake Messages API:
every agent runs exactly once per due period; a worker killed with SIGKILL in the middle of
its cycles leaves its agents to the others once its leases lapse, and no memory is
duplicated. Everything is bounded in time.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, insert, select, update

from core import clock, directory
from core.db import make_engine, unit_of_work
from core.models import Agent, AgentRole, AgentStatus, Cycle, CycleStatus, MemoryBlock
from migrations import schema
from tests.conftest import create_postgres_database, drop_postgres_database, unique_name
from tests.fakes.anthropic_api import FakeAnthropic

AGENTS = 200
LEASE_SECONDS = 4
SALESBRAIN = Path(sys.executable).parent / "salesbrain"


@pytest.fixture
def pg_url() -> Iterator[str]:
    name = unique_name("salesbrain_workers")
    url = create_postgres_database(name)
    schema.upgrade(url)
    yield url
    drop_postgres_database(name)


def _seed(url: str) -> None:
    engine = make_engine(url)
    with unit_of_work(engine) as session:
        workspace = directory.create_workspace(session, "T0LOAD", "Load")
        team = directory.create_team(session, workspace, "emea", "EMEA")
        due = clock.now() - timedelta(seconds=1)
        session.execute(
            insert(Agent),
            [
                {
                    "workspace_id": workspace.id,
                    "team_id": team.id,
                    "handle": f"sdr-{n:03d}",
                    "display_name": f"sdr-{n:03d}",
                    "role": AgentRole.SDR,
                    "objective": f"Book meetings for territory {n}",
                    "status": AgentStatus.ACTIVE,
                    "next_run_at": due,
                }
                for n in range(AGENTS)
            ],
        )
    engine.dispose()


def _worker(url: str, fake: FakeAnthropic, log: Path) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "SALESBRAIN_DATABASE_URL": url,
        "SALESBRAIN_LLM": "anthropic",
        "ANTHROPIC_API_KEY": "sk-test",
        "ANTHROPIC_BASE_URL": fake.url,
        "SALESBRAIN_HEARTBEAT_LEASE_SECONDS": str(LEASE_SECONDS),
        "SALESBRAIN_HEARTBEAT_TICK_SECONDS": "0.3",
        "SALESBRAIN_HEARTBEAT_CONCURRENCY": "6",
        "SALESBRAIN_HEARTBEAT_MODEL_TIMEOUT_SECONDS": "3",
        "SALESBRAIN_HEARTBEAT_MODEL_MAX_RETRIES": "0",
    }
    with log.open("ab") as out:
        return subprocess.Popen(
            [str(SALESBRAIN), "heartbeat"], env=env, stdout=out, stderr=subprocess.STDOUT
        )


def _wait_for(condition: Callable[[], bool], seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {seconds}s waiting for {what}")
        time.sleep(0.1)


def test_workers_run_each_agent_once_per_period_and_take_over_a_killed_workers_agents(
    pg_url: str, tmp_path: Path
) -> None:
    _seed(pg_url)
    engine = make_engine(pg_url)

    def succeeded() -> int:
        with unit_of_work(engine, readonly=True) as session:
            query = select(func.count()).where(Cycle.status == CycleStatus.SUCCEEDED)
            return session.scalar(query) or 0

    workers: list[subprocess.Popen[bytes]] = []
    try:
        with FakeAnthropic(latency=2.0) as fake:
            doomed = _worker(pg_url, fake, tmp_path / "doomed.log")
            workers.append(doomed)
            _wait_for(lambda: len(fake.requests) >= 6, 30, "the doomed worker's model calls")
            doomed.send_signal(signal.SIGKILL)
            doomed.wait(timeout=10)
            with unit_of_work(engine, readonly=True) as session:
                orphans = dict(
                    session.execute(
                        select(Agent.id, Agent.lease_expires_at).where(
                            Agent.lease_owner.like(f"%:{doomed.pid}/%")
                        )
                    ).all()
                )
            assert len(orphans) >= 6, "the doomed worker held no leases when it was killed"

            fake.latency = 0.05
            workers += [_worker(pg_url, fake, tmp_path / f"w{n}.log") for n in range(3)]
            _wait_for(lambda: succeeded() >= AGENTS, 90, "the first period's cycles")

            # The next due period: every agent is due again, and runs once more.
            with unit_of_work(engine) as session:
                session.execute(update(Agent).values(next_run_at=clock.now()))
            _wait_for(lambda: succeeded() >= 2 * AGENTS, 90, "the second period's cycles")
            time.sleep(0.5)  # a duplicate, if any, would land now
    finally:
        for worker in workers:
            if worker.poll() is None:
                worker.send_signal(signal.SIGTERM)
        for worker in workers:
            try:
                worker.wait(timeout=20)
            except subprocess.TimeoutExpired:
                worker.kill()

    with unit_of_work(engine, readonly=True) as session:
        all_cycles = list(session.scalars(select(Cycle)))
        learnings = Counter(session.scalars(select(MemoryBlock.agent_id)))
        leftover = session.scalar(select(func.count()).where(Agent.lease_owner.is_not(None)))
    engine.dispose()

    runs = Counter(c.agent_id for c in all_cycles)
    assert len(runs) == AGENTS and set(runs.values()) == {2}, "an agent ran twice in a period"
    assert {c.status for c in all_cycles} == {CycleStatus.SUCCEEDED}
    assert not any(f":{doomed.pid}/" in (c.worker or "") for c in all_cycles)
    assert len({(c.worker or "").split("/")[0] for c in all_cycles}) == 3
    # Both cycles of an agent record the same learning: the second confirms the first
    # (a restatement stores no new block), so one block each, never a duplicate.
    assert len(learnings) == AGENTS and set(learnings.values()) == {1}, "memory was duplicated"
    first_runs = {}
    for cycle in sorted(all_cycles, key=lambda c: c.started_at, reverse=True):
        first_runs[cycle.agent_id] = cycle.started_at
    for agent_id, lease_expired in orphans.items():
        assert first_runs[agent_id] >= lease_expired  # taken over only once the lease lapsed
    assert leftover == 0
