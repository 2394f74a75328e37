"""Context assembly of another revision and of this working tree, side by side.

    .venv/bin/python -m bench.side_by_side HEAD~1 --optimized              # SQLite, 1M blocks
    .venv/bin/python -m bench.side_by_side main --blocks 100000 --url postgresql+psycopg://...
    .venv/bin/python -m bench.side_by_side HEAD --large-brain --queries 200

Two processes answer context_scale's (agent, task) pairs: one runs the revision's `core`
(`git archive`, in a temporary directory), the other this working tree's. Each pair goes to
both in turn, which one first alternating, as context_scale.measure times a call: a fresh
read-only unit of work, the agent loaded first, the clock at the bench's NOW. A machine
whose speed drifts between runs (this one's differed by 30% from one run to the next)
drifts for both sides alike, which runs one after the other cannot tell from a change; and
each side keeps its own caches and garbage collector, which one process for both cannot.

It prints each side's wall time and CPU time (mean, p50, p95), the ratio of the means, the
median of the paired differences, and how many answers differ (block ids, in order).
"""

from __future__ import annotations

import argparse
import io
import json
import os
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from datetime import datetime
from pathlib import Path
from typing import IO, Any

import core
from core import clock
from core.context import ContextSettings, assemble_context
from core.db import UnitOfWork, make_engine
from core.models import Agent

ROOT = Path(__file__).resolve().parent.parent


class Side:
    """A process answering pairs with one revision's core (see _serve)."""

    def __init__(
        self, name: str, path: list[Path], url: str, now: str, args: argparse.Namespace
    ) -> None:
        self.name = name
        command = [sys.executable, "-m", "bench.side_by_side", "--serve", url, "--now", now]
        command += ["--limit", str(args.limit), "--budget", str(args.budget)]
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(map(str, path))}
        # `-m` puts the working directory first on the path: the revision's core comes first.
        self._process = subprocess.Popen(
            command, cwd=path[0], env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
        )
        # The first line says where the process's core came from.
        self.core = self._read()["core"]
        self.wall: list[float] = []
        self.cpu: list[float] = []
        self.answers: list[list[int]] = []

    def answer(self, agent_id: int, task: str, *, keep: bool) -> None:
        stdin = self._process.stdin
        assert stdin is not None
        stdin.write(json.dumps([agent_id, task]) + "\n")
        stdin.flush()
        found = self._read()
        if keep:
            self.wall.append(found["wall"])
            self.cpu.append(found["cpu"])
            self.answers.append(found["ids"])

    def _read(self) -> dict[str, Any]:
        stdout = self._process.stdout
        assert stdout is not None
        line = stdout.readline()
        if not line:
            sys.exit(f"side_by_side: the {self.name} side stopped (its error is above)")
        found: dict[str, Any] = json.loads(line)
        return found

    def close(self) -> None:
        if self._process.stdin is not None:
            self._process.stdin.close()
        self._process.wait(timeout=30)


def _serve(url: str, limit: int, budget: int, now: str) -> None:
    """Answer (agent id, task) lines on stdin with the core found first on the path."""
    engine = make_engine(url)
    settings = ContextSettings()
    moment = datetime.fromisoformat(now)
    print(json.dumps({"core": str(Path(core.__file__).parent)}), flush=True)
    for line in sys.stdin:
        agent_id, task = json.loads(line)
        with clock.frozen_at(moment), UnitOfWork(engine, readonly=True) as uow:
            agent = uow.session.get(Agent, agent_id)
            assert agent is not None
            cpu, wall = time.thread_time(), time.perf_counter()
            context = assemble_context(
                uow.session, agent, task, limit=limit, token_budget=budget, settings=settings
            )
            wall, cpu = time.perf_counter() - wall, time.thread_time() - cpu
        ids = [block.id for block in context.blocks]
        print(json.dumps({"wall": wall, "cpu": cpu, "ids": ids}), flush=True)


def _commit(revision: str) -> str:
    """The commit id of a revision of this repository."""
    try:
        return subprocess.run(
            ["git", "-C", str(ROOT), "rev-parse", "--verify", "--quiet", f"{revision}^{{commit}}"],
            check=True,
            capture_output=True,
            text=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        sys.exit(f"side_by_side: {revision!r} is not a revision of the git repository at {ROOT}")


def _extract(commit: str, into: Path) -> None:
    """The commit's core/ under `into`."""
    archive = subprocess.run(
        ["git", "-C", str(ROOT), "archive", "--format=tar", commit, "core"],
        check=True,
        capture_output=True,
    ).stdout
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(into, filter="data")


def _figures(values: list[float]) -> str:
    cuts = statistics.quantiles(values, n=100, method="inclusive")
    return f"{statistics.mean(values) * 1000:6.2f} {cuts[49] * 1000:8.2f} {cuts[94] * 1000:8.2f}"


def report(base: Side, head: Side, out: IO[str]) -> None:
    for side in (base, head):
        print(f"  {side.name}: core from {side.core}", file=out)
    width = max(len(base.name), len(head.name))
    print(f"  {'':{width + 5}}   mean      p50      p95 (ms)", file=out)
    for label, values in (("wall", "wall"), ("CPU", "cpu")):
        for side in (base, head):
            print(f"  {label:4} {side.name:{width}} {_figures(getattr(side, values))}", file=out)
        before, after = getattr(base, values), getattr(head, values)
        paired = [new - old for old, new in zip(before, after, strict=True)]
        print(
            f"  {label:4} {head.name} / {base.name}: ratio of means "
            f"{sum(after) / sum(before):.3f}, median paired difference "
            f"{statistics.median(paired) * 1000:+.3f} ms",
            file=out,
        )
    differ = sum(old != new for old, new in zip(base.answers, head.answers, strict=True))
    print(f"  differing answers: {differ} of {len(base.answers)}", file=out)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("revision", nargs="?", help="a git revision (branch, tag, commit)")
    parser.add_argument("--blocks", type=int, default=1_000_000)
    parser.add_argument("--url", default=None, help="PostgreSQL URL (default: SQLite file)")
    parser.add_argument("--optimized", action="store_true", help="as context_scale")
    parser.add_argument("--large-brain", action="store_true", help="as context_scale")
    parser.add_argument("--queries", type=int, default=1_000)
    parser.add_argument("--warm", type=int, default=50, help="pairs answered first, not timed")
    parser.add_argument("--limit", type=int, default=20)
    parser.add_argument("--budget", type=int, default=2_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--serve", metavar="URL", help=argparse.SUPPRESS)
    parser.add_argument("--now", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve:
        _serve(args.serve, args.limit, args.budget, args.now)
        return
    if not args.revision:
        parser.error("give the git revision to compare with")
    commit = _commit(args.revision)

    # Only here: the other side's process runs this file with the revision's core.
    from bench.context_scale import _queries, open_or_exit
    from bench.generated import NOW

    engine = open_or_exit(
        "side_by_side",
        args.url,
        args.seed,
        blocks=None if args.large_brain else args.blocks,
        optimized=args.optimized,
    )
    queries = _queries(engine, args.queries, args.seed, "team-0" if args.large_brain else None)
    url = engine.url.render_as_string(hide_password=False)
    engine.dispose()
    with tempfile.TemporaryDirectory(prefix="side_by_side-") as directory:
        _extract(commit, Path(directory))
        now = NOW.isoformat()
        base = Side(f"{args.revision} ({commit[:7]})", [Path(directory), ROOT], url, now, args)
        head = Side("working tree", [ROOT], url, now, args)
        warm = queries[: args.warm]
        try:
            for number, (agent_id, task) in enumerate(warm + queries):
                sides = (base, head) if number % 2 == 0 else (head, base)
                for side in sides:
                    side.answer(agent_id, task, keep=number >= len(warm))
        finally:
            base.close()
            head.close()
    where = engine.url.render_as_string(hide_password=True)
    print(f"side_by_side: {len(queries)} pairs in {where}, each answered by both in turn")
    report(base, head, sys.stdout)


if __name__ == "__main__":
    main()
