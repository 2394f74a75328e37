"""A model slower than the lease: every request ends before the lease does, so two workers
never have paid calls in flight for the same agent at once."""

from __future__ import annotations

import itertools
import threading
import time

from sqlalchemy import select
from sqlalchemy.engine import Engine

from core import clock
from core.db import unit_of_work
from core.errors import InvalidInput
from core.heartbeat import leases
from core.heartbeat.config import HeartbeatSettings
from core.heartbeat.cycle import run_cycle
from core.models import Agent
from tests.conftest import World
from tests.cycles import cycles
from tests.fakes.anthropic_api import FakeAnthropic, finish, message
from tests.faults.conftest import backend

SHORT_LEASE = HeartbeatSettings(
    lease_seconds=1.0,
    model_timeout_seconds=30,  # the lease, not this, bounds each request
    model_connect_timeout_seconds=1,
    model_max_retries=3,
    max_turns=2,
)


def _claim(engine: Engine, world: World, worker: str) -> leases.Claim | None:
    with unit_of_work(engine) as session:
        agent = session.scalars(
            select(Agent).where(
                Agent.workspace_id == world.workspace.id, Agent.handle == "sdr-emea"
            )
        ).one()
        try:
            return leases.claim_agent(
                session, agent, worker, now=clock.now(), lease_seconds=SHORT_LEASE.lease_seconds
            )
        except InvalidInput:
            return None  # another worker runs it


def test_two_workers_never_have_two_calls_in_flight_for_one_agent(
    engine: Engine, world: World, fake: FakeAnthropic
) -> None:
    fake.responder = lambda _: message(finish("Slow."), delay=1.5)
    model = backend(fake, SHORT_LEASE)
    until = time.monotonic() + 4.0  # bounded: a few leases' worth of attempts

    def worker(name: str) -> None:
        for _ in range(200):
            if time.monotonic() > until:
                return
            claim = _claim(engine, world, name)
            if claim is None:
                time.sleep(0.02)
                continue
            run_cycle(engine, claim, model, SHORT_LEASE)

    threads = [threading.Thread(target=worker, args=(f"w{i}",)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert not any(thread.is_alive() for thread in threads)
    fake.settle()  # the fake notices the last hang-up a moment after the client

    spans = sorted((r.at, r.ended_at) for r in fake.requests)
    assert len(spans) >= 2, "both workers should have tried"
    assert all(end is not None for _, end in spans)
    for (_, ended), (started, _) in itertools.pairwise(spans):
        assert ended is not None and started >= ended, "two calls in flight for one agent"
    assert all(r.abandoned for r in fake.requests)  # each gave up before its lease lapsed
    # Each cycle failed (out of lease) or, when its write came after the lease, was skipped:
    # none applied anything.
    stored = cycles(engine)
    assert stored and {c.status.value for c in stored} <= {"failed", "skipped"}
    assert all("lease" in (c.error or "") for c in stored), [c.error for c in stored]


def test_a_model_within_the_lease_completes_the_cycle(
    engine: Engine, world: World, fake: FakeAnthropic
) -> None:
    fake.script(message(finish("In time."), delay=0.2))
    model = backend(fake, SHORT_LEASE)
    claim = _claim(engine, world, "w1")
    assert claim is not None
    result = run_cycle(engine, claim, model, SHORT_LEASE)
    assert result is not None and result.status.value == "succeeded"
