"""Benchmark: ingest and analyse 1,000,000 signals for 500 agents on SQLite.

    .venv/bin/python bench/signals.py [--signals 1000000] [--agents 500] [--baseline-rows 20000]

Prints, measured in the same run on the same machine:
- import: signals/s of `import_signals` (a CSV file streamed in batches), against a naive
  baseline that stores the same rows one at a time (one ORM insert and one commit per
  row, as a simple webhook handler would), measured on `--baseline-rows` rows;
- re-import: the same file again (every signal already known);
- analysis: a full `analyze` of every agent and team, in signals/s, against a naive
  baseline that analyses agent after agent (one pass over the signals per agent);
- the heartbeat's check when nothing is new (`analyze_agent`), per agent.
Targets: >= 50,000 signals/s import, a full analysis under 30 s.
"""

from __future__ import annotations

import argparse
import itertools
import os
import resource
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from core import directory
from core.clock import now
from core.db import UnitOfWork, make_engine
from core.models import Agent, MemoryBlock, Signal
from core.signals import analyze, analyze_agent, import_signals
from core.signals.ingest import COLUMNS, _Batch, _csv_records
from core.signals.simulation import Campaign, as_csv, simulate
from migrations import schema

TEAMS = 10


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--signals", type=int, default=1_000_000)
    parser.add_argument("--agents", type=int, default=500)
    parser.add_argument("--baseline-rows", type=int, default=20_000)
    args = parser.parse_args()
    print(f"load average before: {os.getloadavg()}")
    with tempfile.TemporaryDirectory(prefix="salesbrain-bench-") as folder:
        run(Path(folder), args.signals, args.agents, args.baseline_rows)
    print(f"load average after: {os.getloadavg()}")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak resident memory of the process: {peak:,.0f} MB")


def run(folder: Path, signals: int, agents: int, baseline_rows: int) -> None:
    url = f"sqlite:///{folder / 'bench.db'}"
    schema.upgrade(url)
    engine = make_engine(url)
    handles = _world(engine, agents)
    data = folder / "signals.csv"
    started = time.perf_counter()
    written = _write_file(data, handles, signals)
    print(
        f"generated {written:,} signals for {agents} agents "
        f"({data.stat().st_size / 1e6:,.0f} MB CSV) in {time.perf_counter() - started:.1f} s"
    )

    naive_url = f"sqlite:///{folder / 'naive.db'}"
    schema.upgrade(naive_url)
    naive_engine = make_engine(naive_url)
    _world(naive_engine, agents)
    naive = _timed(lambda: _naive_import(naive_engine, data, baseline_rows))
    with data.open(encoding="utf-8", newline="") as lines:
        bulk = _timed(lambda: _check(import_signals(engine, "T0001", lines), written, 0))
    print(
        f"import: {written:,} signals in {bulk.describe(written)} (target >= 50,000/s); "
        f"naive row by row, on {baseline_rows:,} rows: {naive.describe(baseline_rows)}; "
        f"x{naive.wall / baseline_rows * written / bulk.wall:,.1f}"
    )
    with data.open(encoding="utf-8", newline="") as lines:
        again = _timed(lambda: _check(import_signals(engine, "T0001", lines), 0, written))
    print(f"re-import (every signal known): {again.describe(written)}")

    with UnitOfWork(engine) as uow:
        workspace = directory.resolve_workspace(uow.session, "T0001")
        per_agent = _timed(lambda: _per_agent(uow.session, workspace, handles))
        uow.session.rollback()
    with UnitOfWork(engine) as uow:
        workspace = directory.resolve_workspace(uow.session, "T0001")
        full = _timed(lambda: analyze(uow.session, workspace))
    with UnitOfWork(engine, readonly=True) as uow:
        blocks = uow.session.scalar(select(func.count()).select_from(MemoryBlock)) or 0
    print(
        f"analysis: {written:,} signals in {full.describe(written)} (target < 30 s); "
        f"naive agent by agent: {per_agent.describe(written)}; "
        f"x{per_agent.wall / full.wall:,.1f}; {blocks:,} blocks"
    )

    with UnitOfWork(engine) as uow:
        workspace = directory.resolve_workspace(uow.session, "T0001")
        agents_ = list(directory.list_agents(uow.session, workspace))
        quiet = _timed(lambda: [analyze_agent(uow.session, workspace, a) for a in agents_])
    print(f"heartbeat check with nothing new: {quiet.wall / len(agents_) * 1000:.2f} ms per agent")


def _world(engine: Any, agents: int) -> list[str]:
    """A workspace of TEAMS teams; each has a director and SDRs, all of them sending."""
    handles: list[str] = []
    with UnitOfWork(engine) as uow:
        session = uow.session
        workspace = directory.create_workspace(session, "T0001", "Bench")
        for number in range(agents):
            team = f"team-{number % TEAMS}"
            if number < TEAMS:
                directory.create_team(session, workspace, team, team)
            role = "director" if number < TEAMS else "sdr"
            handle = f"agent-{number:04d}"
            directory.create_agent(session, workspace, handle, team=team, role=role)
            handles.append(handle)
    return handles


def _write_file(path: Path, handles: list[str], signals: int) -> int:
    """A CSV file of `signals` signals with effects planted for every agent."""
    sends = signals * 10 // 14 // len(handles) + 10  # about 1.4 signals per send
    campaign = Campaign(
        agents=tuple(handles),
        sends_per_agent=sends,
        effects={"subject_format": {"question": 0.4}, "segment": {"healthcare": 0.1}},
        objections={"budget freeze": 0.3, "timing": 0.04, "competitor": 0.04},
    )
    lines = as_csv(simulate(campaign))
    with path.open("w", encoding="utf-8", newline="") as out:
        out.writelines(itertools.islice(lines, signals + 1))  # the header and the rows
    return signals


def _naive_import(engine: Any, data: Path, rows: int) -> None:
    """The baseline (its own database): the same checks, then one ORM insert and one commit
    per row."""
    with UnitOfWork(engine, readonly=True) as uow:
        workspace = directory.resolve_workspace(uow.session, "T0001")
        agents = {
            handle: agent_id
            for handle, agent_id in uow.session.execute(select(Agent.handle, Agent.id))
        }
    with data.open(encoding="utf-8", newline="") as lines:
        for line, record in itertools.islice(_csv_records(lines), rows):
            batch = _Batch(workspace.id, agents, now())
            batch.add(line, record)
            [row], bad = batch.rows()
            assert not bad, bad
            with UnitOfWork(engine) as uow:
                uow.session.add(Signal(**dict(zip(COLUMNS, row, strict=True))))


def _per_agent(session: Any, workspace: Any, handles: list[str]) -> None:
    for handle in handles:
        analyze(session, workspace, handle)


def _check(result: Any, new: int, known: int) -> None:
    assert (result.new, result.known, result.bad_total) == (new, known, 0), result.as_dict()


@dataclass(frozen=True)
class Timing:
    """Wall time, and the CPU time of this process (steadier on a shared machine)."""

    wall: float
    cpu: float

    def describe(self, signals: int) -> str:
        return (
            f"{self.wall:.1f} s = {signals / self.wall:,.0f} signals/s "
            f"({self.cpu:.1f} s of CPU = {signals / self.cpu:,.0f} signals per CPU-second)"
        )


def _timed(work: Callable[[], object]) -> Timing:
    wall, cpu = time.perf_counter(), time.process_time()
    work()
    return Timing(time.perf_counter() - wall, time.process_time() - cpu)


if __name__ == "__main__":
    main()
