"""Benchmark: the token bill of a team of five agents on hourly heartbeats, with prompt caching.

    .venv/bin/python bench/tokens.py [--hours 24] [--memory 0,8,20] [--seed 7]

A team of five (SDR, account executive, director, marketing manager, ad manager) in one
workspace with one Company Brain policy runs hourly cycles on a simulated clock (each agent's
next cycle an hour after its last, plus the scheduler's jitter of up to 5% of the interval;
their first cycles spread over the first hour) through the anthropic backend and the real
SDK, against the fake Messages API (tests/fakes/anthropic_api.py), which reports usage as the
API does: the cached prefix written once per TTL, read after, never below the model's
minimum. Token counts are the fake's (about 4 characters a token); prices are
core/data/model_prices.toml's for claude-sonnet-5-5.

For each memory size (blocks per agent, about 60 tokens each) and each cache TTL (1h, the
default, and 5m), it prints: the cached prefix, the prompt per cycle, the share of input
tokens read from cache in steady state (every cycle after the first; mean, and the lowest),
and the cost per cycle against the same tokens with no caching.
Target: at least 70% of input tokens read from cache per cycle in steady state.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Literal

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import select  # noqa: E402

from bench.generated import Corpus  # noqa: E402
from core import clock, directory, memory  # noqa: E402
from core.db import make_engine, unit_of_work  # noqa: E402
from core.heartbeat.config import HeartbeatSettings  # noqa: E402
from core.heartbeat.prompt import DEFAULT_OBJECTIVES, shared_prompt  # noqa: E402
from core.heartbeat.tools import every_tool_definition  # noqa: E402
from core.models import DEFAULT_MODEL, Agent, BlockType  # noqa: E402
from core.permissions import Actor  # noqa: E402
from core.pricing import table  # noqa: E402
from migrations import schema  # noqa: E402
from tests.cycles import anthropic_backend, run_now  # noqa: E402
from tests.fakes.anthropic_api import FakeAnthropic, Reply, Request, finish, message  # noqa: E402
from tests.fakes.anthropic_api import tokens as estimated_tokens  # noqa: E402

START = datetime(2026, 11, 30, 8, 0, tzinfo=UTC)
TEAM = (
    ("sdr-emea", "sdr"),
    ("ae-emea", "account_executive"),
    ("dir-emea", "director"),
    ("mm-emea", "marketing_manager"),
    ("ads-emea", "ad_manager"),
)
ADMIN = "U0ADMIN"


class Simulated:
    def __init__(self) -> None:
        self.now = START

    def timestamp(self) -> float:
        return self.now.timestamp()


def just_finish(_: Request) -> Reply:
    """Every cycle reports and writes nothing, so that memory stays the size it was given."""
    return message(finish("Worked the task, applying the coaching in memory."))


def team_database(blocks_per_agent: int, seed: int) -> Any:
    url = f"sqlite:///{Path(tempfile.mkdtemp()) / 'tokens.db'}"
    schema.upgrade(url)
    engine = make_engine(url)
    words = Corpus(seed)
    with unit_of_work(engine) as session:
        workspace = directory.create_workspace(session, "T0001", "Acme")
        directory.create_team(session, workspace, "emea", "EMEA Sales")
        directory.set_member(session, workspace, ADMIN, "admin")
        for handle, role in TEAM:
            directory.create_agent(session, workspace, handle, team="emea", role=role)
        memory.write_company(
            session,
            workspace,
            "Never offer a discount above 10% without the director's approval",
            by=Actor.member(ADMIN),
            type="coaching",
            importance=0.9,
        )
        for handle, _ in TEAM:
            agent = session.scalars(select(Agent).where(Agent.handle == handle)).one()
            # Each block names the agent's objective (the task of a cycle with no open task),
            # so that all of them are relevant and the memory section holds them all.
            objective = DEFAULT_OBJECTIVES[agent.role].lower()
            for _ in range(blocks_per_agent):
                memory.write_learning(
                    session,
                    workspace,
                    agent,
                    f"{words.block_text(BlockType.LEARNING)} To {objective}.",
                    by=Actor.agent(handle),
                    importance=0.5,
                )
    return engine, workspace


def simulate(
    hours: int, blocks_per_agent: int, ttl: Literal["5m", "1h"], seed: int
) -> list[dict[str, Any]]:
    engine, workspace = team_database(blocks_per_agent, seed)
    settings = HeartbeatSettings(lease_seconds=120, model_max_retries=0, prompt_cache_ttl=ttl)
    now = Simulated()
    chance = random.Random(seed)
    # First cycles spread over the first hour; then every hour plus up to 3 minutes of jitter.
    due = {handle: START + timedelta(seconds=chance.uniform(0, 3600)) for handle, _ in TEAM}
    cycles = []
    with FakeAnthropic(just_finish, clock=now.timestamp) as fake, clock.running_on(lambda: now.now):
        backend = anthropic_backend(fake.url, settings)
        while True:
            handle = min(due, key=lambda h: due[h])
            if due[handle] >= START + timedelta(hours=hours):
                break
            now.now = due[handle]
            cycles.append(run_now(engine, workspace, handle, backend, settings))
            due[handle] += timedelta(minutes=60, seconds=chance.uniform(0, 180))
    engine.dispose()
    return cycles


def report(cycles: list[dict[str, Any]], ttl: str, blocks_per_agent: int) -> None:
    price = table().price(DEFAULT_MODEL)
    assert price is not None
    steady = cycles[1:]
    shares = [c["tokens"]["cache_share"] for c in steady]
    prompts = [
        c["tokens"]["input"] + c["tokens"]["cache_read"] + c["tokens"]["cache_write"]
        for c in cycles
    ]
    cost = sum(c["cost_usd"] for c in cycles) / len(cycles)
    uncached = (
        sum(
            p * price.input + c["tokens"]["output"] * price.output
            for p, c in zip(prompts, cycles, strict=True)
        )
        / len(cycles)
        / 1_000_000
    )
    failed = sum(c["status"] != "succeeded" for c in cycles)
    print(
        f"{blocks_per_agent:>6}  {ttl:>3}  {len(cycles):>6}  {statistics.mean(prompts):>7,.0f}  "
        f"{statistics.mean(shares):>10.1%}  {min(shares):>6.1%}  "
        f"{sum(c['tokens']['cache_write'] > 0 for c in cycles):>6}  "
        f"${cost * 1000:>8.3f}  ${uncached * 1000:>8.3f}  {1 - cost / uncached:>6.0%}"
        + (f"  ({failed} failed)" if failed else "")
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hours", type=int, default=24)
    parser.add_argument("--memory", default="0,8,20", help="memory blocks per agent, a list")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    sizes = [int(size) for size in args.memory.split(",")]
    if not 2 <= args.hours <= 24 * 7 or not all(0 <= size <= 50 for size in sizes):
        parser.error("--hours must be 2..168 and each --memory size 0..50")

    prefix = json.dumps(list(every_tool_definition())) + shared_prompt(())
    print(
        f"cached prefix (tools, manual, no company orders): about {estimated_tokens(prefix):,} "
        f"tokens; a team of {len(TEAM)} on hourly heartbeats for {args.hours} h; {DEFAULT_MODEL} "
        f"prices as of {table().as_of}"
    )
    print("memory  ttl  cycles   prompt  from cache  lowest  writes  cost/1000  uncached  saving")
    for size in sizes:
        for ttl in ("1h", "5m"):
            report(simulate(args.hours, size, ttl, args.seed), ttl, size)  # type: ignore[arg-type]


if __name__ == "__main__":
    main()
