"""Benchmark: the CPU a heartbeat cycle costs outside the model, worker and database, on PostgreSQL.

    scripts/postgres-throwaway start     # then, with its URL and an empty database:
    .venv/bin/python bench/cycle_cost.py --database-url postgresql+psycopg://.../EMPTY_DB
                                         [--agents 300] [--blocks 500] [--concurrency 8]

The model answers at once (the fake Messages API in tests/fakes, in a process of its own, with
no delay), through the real SDK, so that what the SDK costs counts; each agent holds
`--blocks` memory blocks of its own (a year of notes and learnings; ~500 is what an agent
reads in bench/context_scale.py) besides its coaching and a task. Reports are delivered
through the outbox to a console that discards them. Prints, from one run:
- the baseline: CPU per bare SDK call to the same fake server (no salesbrain around it);
- for the Anthropic backend and for the offline backend: the worker process's CPU and the
  database server's CPU (the postmaster and its children, read from /proc) per cycle, and
  the ratio of the worker's CPU to the baseline's;
- the database's size per agent (seeded) and what a cycle adds to it;
- lease claims per second with 1 and 3 worker processes, each claiming one due agent per
  statement and finishing its lease at once, for `--claim-seconds` (the worst case: a
  runner claims as many agents as it has free slots in one statement).
The database server must run on this machine (its /proc is read); CPU of connections that
close during a phase is not counted (the pools keep theirs open).
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import sys
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import insert, select, text, update  # noqa: E402
from sqlalchemy.engine import Engine  # noqa: E402

from bench.heartbeat import client_for, fake_api, seed  # noqa: E402
from bot.runner import HeartbeatRunner  # noqa: E402
from core import clock  # noqa: E402
from core.db import make_engine, unit_of_work  # noqa: E402
from core.heartbeat import leases  # noqa: E402
from core.heartbeat.backends.anthropic import AnthropicBackend  # noqa: E402
from core.heartbeat.backends.offline import OfflineBackend  # noqa: E402
from core.heartbeat.config import HeartbeatSettings  # noqa: E402
from core.heartbeat.outbox import ConsoleSink  # noqa: E402
from core.heartbeat.prompt import shared_prompt  # noqa: E402
from core.models import (  # noqa: E402
    Agent,
    BlockStatus,
    BlockType,
    Cycle,
    CycleStatus,
    MemoryBlock,
    SourceKind,
    Tier,
)
from migrations import schema  # noqa: E402

TICKS = os.sysconf("SC_CLK_TCK")
# What agents' memory says, varied so that full-text search has words to index and rank.
SUBJECTS = ["healthcare CTOs", "fintech CFOs", "DACH retail", "Nordic logistics", "US SaaS"]
LESSONS = [
    "answer within a day and book twice as often",
    "reply to a short first email with one question",
    "ask for the audit trail before any feature",
    "prefer a call on Tuesday mornings",
    "forward to procurement after the second meeting",
]


def cpu_of(pid: int) -> float:
    """User and system CPU seconds of a process so far (0 once it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / TICKS


def children_of(parent: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            if ppid == parent:
                found.append(int(entry.name))
    return found


@dataclass
class Server:
    """The database server's processes: the postmaster and its children (backends, writers)."""

    postmaster: int

    @classmethod
    def of(cls, engine: Engine) -> Server:
        with engine.connect() as connection:
            data = connection.execute(text("SHOW data_directory")).scalar_one()
        return cls(int(Path(data, "postmaster.pid").read_text().split()[0]))

    def cpu(self) -> float:
        pids = [self.postmaster, *children_of(self.postmaster)]
        return sum(cpu_of(pid) for pid in pids)


@dataclass
class Cost:
    """What one phase cost: wall time, worker CPU, database CPU, and how many units of work."""

    name: str
    seconds: float
    worker: float
    database: float
    count: int

    def per(self) -> tuple[float, float]:
        """Worker and database CPU per unit, in milliseconds."""
        return self.worker / self.count * 1000, self.database / self.count * 1000


def measured(name: str, server: Server, work: Callable[[], int]) -> Cost:
    worker, database, started = time.process_time(), server.cpu(), time.perf_counter()
    count = work()
    return Cost(
        name,
        time.perf_counter() - started,
        time.process_time() - worker,
        server.cpu() - database,
        count,
    )


def add_memory(engine: Engine, blocks: int) -> None:
    """`blocks` notes and learnings of its own for every agent, written over the past year."""
    with unit_of_work(engine) as session:
        agents = list(session.execute(select(Agent.id, Agent.workspace_id)))
        now = clock.now()
        for start in range(0, len(agents), 50):
            session.execute(
                insert(MemoryBlock),
                [
                    {
                        "workspace_id": workspace_id,
                        "tier": Tier.PERSONAL,
                        "agent_id": agent_id,
                        "type": BlockType.LEARNING if n % 3 else BlockType.ACCOUNT_CONTEXT,
                        "content": f"{SUBJECTS[(agent_id + n) % 5]}: {LESSONS[n % 5]} "
                        f"(seen {n % 17 + 1} times, account {agent_id}-{n})",
                        "importance": 0.2 + (n % 7) / 10,
                        "source_kind": SourceKind.AGENT_CYCLE,
                        "source_ref": f"cycle:{n}",
                        "source_by": "bench",
                        "created_at": now - timedelta(hours=n * 40),
                        "updated_at": now - timedelta(hours=n * 40),
                        "status": BlockStatus.ACTIVE,
                        "times_surfaced": n % 5,
                    }
                    for agent_id, workspace_id in agents[start : start + 50]
                    for n in range(blocks)
                ],
            )


def size(engine: Engine) -> int:
    with engine.connect() as connection:
        return int(
            connection.execute(text("SELECT pg_database_size(current_database())")).scalar_one()
        )


def tables(engine: Engine) -> dict[str, int]:
    """Bytes on disk of each table with its indexes and TOAST."""
    with engine.connect() as connection:
        rows = connection.execute(
            text("SELECT relname, pg_total_relation_size(relid) FROM pg_stat_user_tables")
        )
        return {name: int(size) for name, size in rows}


def all_due(engine: Engine) -> None:
    with unit_of_work(engine) as session:
        session.execute(
            update(Agent).values(next_run_at=clock.now(), lease_owner=None, lease_expires_at=None)
        )


def run_all(engine: Engine, backend: object, settings: HeartbeatSettings) -> Callable[[], int]:
    def work() -> int:
        before = succeeded(engine)
        # Reports go through the outbox to a console that discards them: delivery counts.
        with open(os.devnull, "w") as console:
            sinks = [ConsoleSink(console)]
            runner = HeartbeatRunner(engine, backend, settings, sinks=sinks, worker="bench")  # type: ignore[arg-type]
            runner.run_once()
            # run_once delivers one batch; the rest of this phase's reports, as serve would.
            for _ in range(len(agents_of(engine)) // 10 + 2):
                if not runner.deliver().delivered:
                    break
            runner.stop()
        return succeeded(engine) - before

    return work


def agents_of(engine: Engine) -> list[int]:
    with unit_of_work(engine, readonly=True) as session:
        return list(session.scalars(select(Agent.id)))


def succeeded(engine: Engine) -> int:
    with unit_of_work(engine, readonly=True) as session:
        return len(
            session.scalars(select(Cycle.id).where(Cycle.status == CycleStatus.SUCCEEDED)).all()
        )


def bare_calls(api_url: str, calls: int, concurrency: int) -> Callable[[], int]:
    def work() -> int:
        client = client_for(api_url, HeartbeatSettings())
        request = {
            "model": "claude-sonnet-5-5",
            "max_tokens": 1024,
            "system": [{"type": "text", "text": shared_prompt(())}],
            "messages": [{"role": "user", "content": "Task: write first-touch emails"}],
        }
        with ThreadPoolExecutor(concurrency) as pool:
            list(pool.map(lambda _: client.messages.create(**request), range(calls)))  # type: ignore[arg-type]
        return calls

    return work


def claim_and_finish(url: str, seconds: float) -> tuple[int, float, float, float]:
    """One worker process for `seconds`: claim one due agent per statement and finish its
    lease at once (due again, last in line), as a cycle that costs nothing would: how many,
    and the CPU seconds of this process and of its database backend, and the wall seconds."""
    engine = make_engine(url, pool_size=1)
    with engine.connect() as connection:  # connected before the clock starts
        backend = connection.execute(text("SELECT pg_backend_pid()")).scalar_one()
    claimed, started, cpu, backend_cpu = (
        0,
        time.perf_counter(),
        time.process_time(),
        cpu_of(backend),
    )
    worker = f"claimer-{os.getpid()}"
    while time.perf_counter() - started < seconds:
        with unit_of_work(engine) as session:
            got = leases.claim_due(session, worker, now=clock.now(), limit=1, lease_seconds=900)
        for claim in got:
            with unit_of_work(engine) as session:
                now = clock.now()
                leases.finish(session, claim, last_cycle_at=now, next_run_at=now)
        claimed += len(got)
    wall = time.perf_counter() - started
    used = time.process_time() - cpu, cpu_of(backend) - backend_cpu
    engine.dispose()
    return claimed, *used, wall


def claims(url: str, engine: Engine, processes: int, seconds: float) -> Cost:
    all_due(engine)
    # Spawned, not forked: a fork would share this process's open connections.
    with ProcessPoolExecutor(processes, mp_context=multiprocessing.get_context("spawn")) as pool:
        done = list(pool.map(claim_and_finish, [url] * processes, [seconds] * processes))
    return Cost(
        f"claim+finish, {processes} proc",
        max(wall for *_, wall in done),
        sum(cpu for _, cpu, _, _ in done),
        sum(database for _, _, database, _ in done),  # their backends (gone since)
        sum(count for count, *_ in done),
    )


@contextmanager
def phase(title: str) -> Iterator[None]:
    print(f"... {title}", file=sys.stderr, flush=True)
    yield


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", required=True, help="an empty PostgreSQL database")
    parser.add_argument("--agents", type=int, default=300)
    parser.add_argument("--blocks", type=int, default=500, help="memory blocks per agent")
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--claim-seconds", type=float, default=10.0)
    args = parser.parse_args()
    if not args.database_url.startswith("postgresql"):
        parser.error("--database-url must be PostgreSQL (its server's CPU is measured)")
    if not 1 <= args.agents <= 5_000 or not 0 <= args.blocks <= 2_000:
        parser.error("--agents must be 1..5000 and --blocks 0..2000")

    url = args.database_url
    with phase("migrating and seeding"):
        schema.upgrade(url)
        seed(url, args.agents)
        engine = make_engine(url, pool_size=args.concurrency + 4)
        empty = size(engine)
        add_memory(engine, args.blocks)
        with engine.connect() as connection:
            connection.execute(text("ANALYZE"))
            connection.commit()
        seeded = size(engine)
    server = Server.of(engine)
    settings = HeartbeatSettings(
        concurrency=args.concurrency, max_workers=args.concurrency, model_max_retries=0
    )
    before_model = tables(engine)
    with fake_api(0.0) as api_url:
        with phase("bare SDK calls"):
            baseline = measured("bare SDK calls", server, bare_calls(api_url, args.agents, 8))
        with phase("cycles, Anthropic backend"):
            all_due(engine)
            backend = AnthropicBackend(client_for(api_url, settings), settings)
            model = measured("cycles, Anthropic SDK", server, run_all(engine, backend, settings))
    after_model = size(engine)
    grown = {name: size - before_model.get(name, 0) for name, size in tables(engine).items()}
    with phase("cycles, offline backend"):
        all_due(engine)
        offline = measured("cycles, offline", server, run_all(engine, OfflineBackend(), settings))
    after_offline = size(engine)
    tables_seen = tables(engine)
    with phase("lease claims"):
        claim_costs = [claims(url, engine, n, args.claim_seconds) for n in (1, 3)]
    with engine.connect() as connection:
        blocks = connection.execute(text("SELECT count(*) FROM memory_blocks")).scalar_one()
    engine.dispose()

    base_worker, _ = baseline.per()
    print(
        f"database   PostgreSQL, {args.agents} agents, {args.blocks} blocks each "
        f"(+3 coaching, 1 task); concurrency {args.concurrency}; zero-latency fake model"
    )
    print(f"load avg   {' '.join(f'{x:.2f}' for x in os.getloadavg())} (2 cores, shared)")
    print("phase                         count   wall s   worker ms/each   db ms/each   x base")
    for cost in (baseline, model, offline, *claim_costs):
        worker_ms, db_ms = cost.per()
        print(
            f"{cost.name:<28} {cost.count:>6} {cost.seconds:>8.1f} {worker_ms:>16.2f} "
            f"{db_ms:>12.2f} {worker_ms / base_worker:>8.1f}"
        )
    for cost in claim_costs:
        print(f"{cost.name}: {cost.count / cost.seconds:.0f} claims/s (with their finish)")
    print(
        f"size       empty schema {empty / 2**20:.1f} MiB; seeded {seeded / 2**20:.1f} MiB "
        f"= {(seeded - empty) / args.agents / 1024:.1f} KiB per agent; a cycle adds "
        f"{(after_model - seeded) / max(model.count, 1) / 1024:.1f} KiB (Anthropic), "
        f"{(after_offline - after_model) / max(offline.count, 1) / 1024:.1f} KiB (offline)"
    )
    print(
        f"tables     memory_blocks {tables_seen['memory_blocks'] / blocks:.0f} B per block "
        f"(indexes and full-text included); grown per cycle (Anthropic): "
        + ", ".join(
            f"{name} {grown[name] / max(model.count, 1) / 1024:.1f} KiB"
            for name in sorted(grown, key=grown.__getitem__, reverse=True)[:5]
        )
    )


if __name__ == "__main__":
    main()
