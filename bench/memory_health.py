"""How long the memory health check takes on a large brain (it runs on every App Home open).

    .venv/bin/python bench/memory_health.py [--scale 1] [--runs 20] [--url postgresql://...]

On the context benchmark's large brain (bench/context_scale.py: one workspace of two teams,
about 24,000 blocks at scale 1, ages spread over a year, nothing ever surfaced), this times
`memory_health` for an admin (the whole workspace) and for the manager of one team, `--runs`
times each after one warm-up run, and prints p50 and p95 with what was found. Then the same
for `home_health`, what the App Home calls: its answer is remembered while the workspace's
memory is unchanged, so each open costs the check of that state (the baseline, found again on
each open, is the first figure).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import func, select  # noqa: E402

from bench.context_scale import NOW, open_large_brain  # noqa: E402
from core import clock, directory  # noqa: E402
from core.db import UnitOfWork  # noqa: E402
from core.health import home_health, memory_health  # noqa: E402
from core.models import BlockStatus, MemoryBlock, Team, Workspace  # noqa: E402
from core.permissions import Actor  # noqa: E402

ADMIN, MANAGER = "U0BENCHADMIN", "U0BENCHMGR"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--url", default=None, help="PostgreSQL URL (default: SQLite file)")
    args = parser.parse_args(argv)
    runs = max(1, min(args.runs, 1000))

    engine = open_large_brain(args.url, args.seed, args.scale)
    with UnitOfWork(engine) as uow:
        workspace = uow.session.scalars(select(Workspace).order_by(Workspace.id)).first()
        assert workspace is not None
        team = uow.session.scalars(
            select(Team).where(Team.workspace_id == workspace.id).order_by(Team.id)
        ).first()
        assert team is not None
        if directory.get_member(uow.session, workspace, ADMIN) is None:
            directory.set_member(uow.session, workspace, ADMIN, "admin")
            directory.set_member(uow.session, workspace, MANAGER, "manager", [team.slug])
        active = uow.session.scalar(
            select(func.count()).where(
                MemoryBlock.workspace_id == workspace.id, MemoryBlock.status == BlockStatus.ACTIVE
            )
        )
    where = engine.url.render_as_string(hide_password=True)
    print(f"memory_health: {active:,} active blocks in one workspace of {where}")
    print("                                   p50        p95   items by kind")
    for name, user in (("admin", ADMIN), (f"manager of {team.slug}", MANAGER)):
        found = {}
        for how, check in (("found", memory_health), ("remembered", home_health)):
            seconds = []
            for run in range(runs + 1):
                started = time.perf_counter()
                with clock.frozen_at(NOW), UnitOfWork(engine, readonly=True) as uow:
                    health = check(uow.session, uow.session.merge(workspace), Actor.member(user))
                if run:  # the first run warms the caches (and, remembered, finds the items)
                    seconds.append(time.perf_counter() - started)
            found[how] = p50, p95 = _percentiles(seconds)
            counts = ", ".join(f"{kind} {count}" for kind, count in health.counts.items())
            print(f"  {name + ', ' + how:<29} {p50:8.1f} ms {p95:8.1f} ms   {counts}")
        ratio = found["found"][1] / found["remembered"][1]
        print(f"  {name + ', p95 found / remembered':<29} {ratio:8.0f} x")


def _percentiles(seconds: list[float]) -> tuple[float, float]:
    """p50 and p95 in milliseconds."""
    p95 = sorted(seconds)[max(0, round(0.95 * len(seconds)) - 1)]
    return statistics.median(seconds) * 1000, p95 * 1000


if __name__ == "__main__":
    main()
