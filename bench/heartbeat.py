"""Benchmark: 1,000 agents due at once against a fake Messages API answering after 500 ms.

    .venv/bin/python bench/heartbeat.py [--agents 1000] [--latency 0.5] [--concurrency 16]
                                        [--database-url postgresql://...]

Prints, from one run:
- the time to finish every cycle against the ideal (agents x latency / concurrency), and
  against a baseline measured in the same run: the same number of SDK calls to the same
  fake server at the same concurrency, with no salesbrain around them;
- the per-cycle overhead outside the model call (cycle duration minus time in the model),
  p50 and p95 (target: p95 <= 20 ms on SQLite);
- the lateness of cycle starts (start minus due time) against the ideal schedule's.
Targets: overhead p95 <= 20 ms on SQLite; total within 1.2x of the ideal.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import anthropic  # noqa: E402
from sqlalchemy import insert, select, update  # noqa: E402

from bot.runner import HeartbeatRunner  # noqa: E402
from core import clock, directory  # noqa: E402
from core.db import make_engine, unit_of_work  # noqa: E402
from core.heartbeat.backends.anthropic import AnthropicBackend, make_client  # noqa: E402
from core.heartbeat.config import HeartbeatSettings  # noqa: E402
from core.heartbeat.prompt import shared_prompt  # noqa: E402
from core.models import (  # noqa: E402  # noqa: E402
    Agent,
    AgentRole,
    AgentStatus,
    BlockStatus,
    BlockType,
    Cycle,
    CycleStatus,
    MemoryBlock,
    SourceKind,
    Task,
    TaskStatus,
    Tier,
)
from core.settings import Settings  # noqa: E402
from migrations import schema  # noqa: E402

COACHING = [
    "Lead with the compliance angle for healthcare CTOs",
    "Keep first-touch emails under 90 words with one question",
    "Mention the audit trail before any feature",
]


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def seed(url: str, agents: int) -> None:
    """A workspace with `agents` due agents in teams of five, each with coaching and a task."""
    engine = make_engine(url)
    with unit_of_work(engine) as session:
        workspace = directory.create_workspace(session, "T0BENCH", "Bench")
        # Teams of five, as sales teams are: teammates are who an agent may hand off to.
        teams = [
            directory.create_team(session, workspace, f"team-{n:03d}", f"Team {n}").id
            for n in range((agents + 4) // 5)
        ]
        now = clock.now() - timedelta(seconds=1)
        session.execute(
            insert(Agent),
            [
                {
                    "workspace_id": workspace.id,
                    "team_id": teams[n // 5],
                    "handle": f"sdr-{n:04d}",
                    "display_name": f"sdr-{n:04d}",
                    "role": AgentRole.SDR,
                    "objective": "Book meetings with healthcare CTOs",
                    "model": "claude-sonnet-5-5",
                    "interval_minutes": 60,
                    "status": AgentStatus.ACTIVE,
                    "next_run_at": now,
                    "created_at": now,
                    "updated_at": now,
                }
                for n in range(agents)
            ],
        )
        ids = list(session.scalars(select(Agent.id).where(Agent.workspace_id == workspace.id)))
        session.execute(
            insert(MemoryBlock),
            [
                {
                    "workspace_id": workspace.id,
                    "tier": Tier.PERSONAL,
                    "agent_id": agent_id,
                    "type": BlockType.COACHING,
                    "content": text,
                    "importance": 0.9,
                    "source_kind": SourceKind.SLACK_USER,
                    "source_ref": "U0001",
                    "source_by": "U0001",
                    "created_at": now,
                    "updated_at": now,
                    "status": BlockStatus.ACTIVE,
                    "times_surfaced": 0,
                }
                for agent_id in ids
                for text in COACHING
            ],
        )
        session.execute(
            insert(Task),
            [
                {
                    "workspace_id": workspace.id,
                    "agent_id": agent_id,
                    "title": "Write first-touch emails to healthcare CTOs in DACH",
                    "detail": "",
                    "status": TaskStatus.OPEN,
                    "created_by": "member:U0001",
                    "created_at": now,
                    "updated_at": now,
                }
                for agent_id in ids
            ],
        )
    engine.dispose()


@contextmanager
def fake_api(latency: float) -> Iterator[str]:
    """The fake Messages API in a process of its own, so it does not share our GIL."""
    server = subprocess.Popen(
        [sys.executable, "-m", "tests.fakes.anthropic_api", "--latency", str(latency)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert server.stdout is not None
        yield server.stdout.readline().strip()
    finally:
        server.terminate()
        server.wait(timeout=10)


def client_for(url: str, settings: HeartbeatSettings) -> anthropic.Anthropic:
    return make_client(
        Settings(anthropic_api_key="bench", anthropic_base_url=url),  # type: ignore[call-arg]
        settings,
    )


def baseline(url: str, calls: int, concurrency: int) -> float:
    """The same number of model calls at the same concurrency, with nothing else around them."""
    client = client_for(url, HeartbeatSettings())
    request = {
        "model": "claude-sonnet-5-5",
        "max_tokens": 1024,
        "system": [{"type": "text", "text": shared_prompt(())}],
        "messages": [{"role": "user", "content": "Task: write first-touch emails"}],
    }
    started = time.perf_counter()
    with ThreadPoolExecutor(concurrency) as pool:
        list(pool.map(lambda _: client.messages.create(**request), range(calls)))  # type: ignore[arg-type]
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--agents", type=int, default=1000)
    parser.add_argument("--latency", type=float, default=0.5)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--database-url", default=None, help="default: a fresh SQLite file")
    args = parser.parse_args()
    if not 1 <= args.agents <= 20_000:
        parser.error("--agents must be 1..20000")

    url = args.database_url or f"sqlite:///{Path(tempfile.mkdtemp()) / 'bench.db'}"
    schema.upgrade(url)
    seed(url, args.agents)
    engine = make_engine(url, pool_size=args.concurrency + 4)
    settings = HeartbeatSettings(
        concurrency=args.concurrency, max_workers=args.concurrency, model_max_retries=0
    )

    with fake_api(args.latency) as url_of_api:
        measured_ideal = baseline(url_of_api, args.agents, args.concurrency)
        backend = AnthropicBackend(client_for(url_of_api, settings), settings)
        runner = HeartbeatRunner(engine, backend, settings, worker="bench")
        with unit_of_work(engine) as session:  # every agent falls due now, at once
            session.execute(update(Agent).values(next_run_at=clock.now()))
        started = time.perf_counter()
        runner.run_once()
        total = time.perf_counter() - started
        runner.stop()

    with unit_of_work(engine, readonly=True) as session:
        cycles = list(session.scalars(select(Cycle).order_by(Cycle.started_at, Cycle.id)))
    engine.dispose()
    done = [c for c in cycles if c.status is CycleStatus.SUCCEEDED]
    overhead = [c.duration_ms - c.model_ms for c in done]
    model = [c.model_ms for c in done]
    first_due = min(c.scheduled_for for c in cycles if c.scheduled_for)
    late = [(c.started_at - first_due).total_seconds() for c in cycles]
    ideal_late = [(index // args.concurrency) * args.latency for index in range(len(cycles))]
    excess = [actual - ideal for actual, ideal in zip(late, ideal_late, strict=True)]
    ideal = args.agents * args.latency / args.concurrency

    print(
        f"database            {url.split('://')[0]}  ({args.agents} agents, concurrency "
        f"{args.concurrency}, fake model latency {args.latency * 1000:.0f} ms)"
    )
    print(f"cycles              {len(cycles)} run, {len(done)} succeeded")
    print(f"total               {total:.1f} s")
    print(f"ideal (computed)    {ideal:.1f} s  -> ratio {total / ideal:.2f} (target <= 1.20)")
    print(
        f"ideal (measured)    {measured_ideal:.1f} s  (SDK calls alone, same run) -> "
        f"ratio {total / measured_ideal:.2f}"
    )
    print(
        f"model call          p50 {statistics.median(model):.0f} ms  "
        f"p95 {percentile(model, 0.95):.0f} ms"
    )
    print(
        f"overhead per cycle  p50 {statistics.median(overhead):.1f} ms  "
        f"p95 {percentile(overhead, 0.95):.1f} ms  max {max(overhead):.1f} ms "
        "(target p95 <= 20 ms on SQLite)"
    )
    print(
        f"start lateness      p50 {statistics.median(late):.1f} s  p95 "
        f"{percentile(late, 0.95):.1f} s  max {max(late):.1f} s  (ideal schedule: p50 "
        f"{statistics.median(ideal_late):.1f} s, max {max(ideal_late):.1f} s)"
    )
    print(
        f"lateness beyond the ideal schedule  p50 {statistics.median(excess):.2f} s  "
        f"p95 {percentile(excess, 0.95):.2f} s"
    )
    print(f"load average        {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    print(f"threads at end      {threading.active_count()}")


if __name__ == "__main__":
    main()
