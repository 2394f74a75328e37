"""Benchmark: the token bill of a team of five agents on hourly heartbeats, with prompt caching.

    .venv/bin/python bench/tokens.py [--hours 24] [--memory 0,8,20] [--seed 7] [--ttls 1h+5m,1h]

A team of five (SDR, account executive, director, marketing manager, ad manager) in one
workspace with one Company Brain policy runs hourly cycles on a simulated clock (each agent's
next cycle an hour after its last, plus the scheduler's jitter of up to 5% of the interval;
their first cycles spread over the first hour) through the anthropic backend and the real
SDK, against the fake Messages API (tests/fakes/anthropic_api.py), which reports usage as the
API does: the cached prefix written once per TTL, read after, never below the model's
minimum. Token counts are the fake's (about 4 characters a token); prices are
core/data/model_prices.toml's for claude-sonnet-5-5.

Each cycle takes 2 to 4 model calls (drawn per cycle), as real ones do: it completes the task
at hand when it has one, records a learning, hands a follow-up to a teammate (titled with the
teammate's objective, as its blocks are), records a second learning, as many of these as its
calls allow, then calls finish_cycle. Each learning is the same every cycle: after the first
it confirms the block it wrote, so memory keeps its size (two blocks more per agent).

For each memory size (blocks per agent, about 60 tokens each) and each caching (1h+5m, the
default: the shared prefix for an hour and the conversation for five minutes; 1h: the
prefix only; 5m+5m: both for five minutes), it prints: the prompt per cycle (summed over its
calls), the share of input tokens read from cache in steady state (every cycle after the
first; mean, the lowest, and the mean for cycles of 2, 3 and 4 calls), and the cost per
cycle against the same tokens with no caching.
Target: at least 70% of input tokens read from cache per cycle in steady state.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import statistics
import sys
import tempfile
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import select  # noqa: E402

from bench.generated import Corpus  # noqa: E402
from core import clock, directory, memory  # noqa: E402
from core.db import make_engine, unit_of_work  # noqa: E402
from core.heartbeat.config import HeartbeatSettings  # noqa: E402
from core.heartbeat.prompt import DEFAULT_OBJECTIVES, shared_prompt  # noqa: E402
from core.heartbeat.tools import every_tool_definition  # noqa: E402
from core.models import DEFAULT_MODEL, Agent, AgentRole, BlockType  # noqa: E402
from core.permissions import Actor  # noqa: E402
from core.pricing import table  # noqa: E402
from migrations import schema  # noqa: E402
from tests.cycles import anthropic_backend, run_now  # noqa: E402
from tests.fakes.anthropic_api import (  # noqa: E402
    FakeAnthropic,
    Reply,
    Request,
    finish,
    message,
    tool_use,
    turn,
)
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
# The caching compared: (the shared prefix's TTL, whether the conversation has a breakpoint).
CACHINGS = {"1h+5m": ("1h", True), "1h": ("1h", False), "5m+5m": ("5m", True)}


class Simulated:
    def __init__(self) -> None:
        self.now = START

    def timestamp(self) -> float:
        return self.now.timestamp()


_TASK_ID = re.compile(r"^Task: (?:task (\d+) from |.*\(task (\d+)\)$)", re.MULTILINE)
_HANDLE = re.compile(r"^# You\nYou are (\S+) on team", re.MULTILINE)
# The same each cycle: after the first they confirm the block they wrote (core/restatements.py).
_LEARNINGS = (
    "Prospects who answer within a day book meetings twice as often",
    "Follow-ups that quote the prospect's own words get more replies",
)
_TEAMMATE = re.compile(r"^- ([a-z0-9-]+) \(([a-z_]+)\)$", re.MULTILINE)


class TeamWork:
    """The fake's answers: cycles of 2 to 4 calls, in the order of the module docstring."""

    def __init__(self, seed: int) -> None:
        self.chance = random.Random(seed)
        self.plan: list[dict[str, Any]] = []

    def __call__(self, request: Request) -> Reply:
        if turn(request) == 0:
            self.plan = self.cycle(request, calls=self.chance.randint(2, 4))
        return message(self.plan[min(turn(request), len(self.plan) - 1)])

    def cycle(self, request: Request, calls: int) -> list[dict[str, Any]]:
        steps = []
        task = _TASK_ID.search(request.prompt)
        if task:
            task_id = int(task.group(1) or task.group(2))
            steps.append(tool_use("complete_task", task_id=task_id, outcome="Followed up."))
        handle = _HANDLE.search(request.system_text)
        who = handle.group(1) if handle else "this agent"
        learnings = [f"{learning} ({who})." for learning in _LEARNINGS]
        steps.append(tool_use("record_learning", content=learnings[0], importance=0.4))
        teammates = _TEAMMATE.findall(request.system_text.split("# Teammates", 1)[-1])
        if teammates:
            # The title names the teammate's objective, as its memory blocks do.
            to, role = self.chance.choice(sorted(teammates))
            title = f"Follow up: {DEFAULT_OBJECTIVES[AgentRole(role)].lower()}"
            steps.append(tool_use("handoff_task", to_agent=to, title=title))
        steps.append(tool_use("record_learning", content=learnings[1], importance=0.3))
        return [*steps[: calls - 1], finish("Worked the task, applying the coaching in memory.")]


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


def simulate(hours: int, blocks_per_agent: int, caching: str, seed: int) -> list[dict[str, Any]]:
    engine, workspace = team_database(blocks_per_agent, seed)
    ttl, conversation = CACHINGS[caching]
    settings = HeartbeatSettings(lease_seconds=120, model_max_retries=0, prompt_cache_ttl=ttl)
    now = Simulated()
    chance = random.Random(seed)
    # First cycles spread over the first hour; then every hour plus up to 3 minutes of jitter.
    due = {handle: START + timedelta(seconds=chance.uniform(0, 3600)) for handle, _ in TEAM}
    cycles = []
    work = TeamWork(seed)
    with FakeAnthropic(work, clock=now.timestamp) as fake, clock.running_on(lambda: now.now):
        backend = anthropic_backend(fake.url, settings)
        backend.conversation_cache = conversation
        while True:
            handle = min(due, key=lambda h: due[h])
            if due[handle] >= START + timedelta(hours=hours):
                break
            now.now = due[handle]
            cycles.append(run_now(engine, workspace, handle, backend, settings))
            due[handle] += timedelta(minutes=60, seconds=chance.uniform(0, 180))
    engine.dispose()
    return cycles


def report(cycles: list[dict[str, Any]], caching: str, blocks_per_agent: int) -> None:
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
    calls = Counter(c["model_calls"] for c in cycles)
    by_calls = [
        [c["tokens"]["cache_share"] for c in steady if c["model_calls"] == n] for n in (2, 3, 4)
    ]
    print(
        f"{blocks_per_agent:>6}  {caching:>5}  {len(cycles):>6}  "
        f"{'/'.join(str(calls[n]) for n in (2, 3, 4)):>8}  {statistics.mean(prompts):>7,.0f}  "
        f"{statistics.mean(shares):>10.1%}  {min(shares):>6.1%}  "
        + " ".join(f"{statistics.mean(s):>4.0%}" if s else "   -" for s in by_calls)
        + f"  ${cost * 1000:>8.3f}  ${uncached * 1000:>8.3f}  {1 - cost / uncached:>6.0%}"
        + (f"  ({failed} failed)" if failed else "")
        + (f"  (calls: {sorted(calls.items())})" if set(calls) - {2, 3, 4} else "")
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hours", type=int, default=24)
    parser.add_argument("--memory", default="0,8,20", help="memory blocks per agent, a list")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--ttls", default="1h+5m,1h", help=f"a list of {', '.join(CACHINGS)}")
    args = parser.parse_args()
    sizes = [int(size) for size in args.memory.split(",")]
    cachings = args.ttls.split(",")
    if not 2 <= args.hours <= 24 * 7 or not all(0 <= size <= 50 for size in sizes):
        parser.error("--hours must be 2..168 and each --memory size 0..50")
    if not set(cachings) <= set(CACHINGS):
        parser.error(f"--ttls: each of {', '.join(CACHINGS)}")

    prefix = json.dumps(list(every_tool_definition())) + shared_prompt(())
    print(
        f"cached prefix (tools, manual, no company orders): about {estimated_tokens(prefix):,} "
        f"tokens; a team of {len(TEAM)} on hourly heartbeats for {args.hours} h; {DEFAULT_MODEL} "
        f"prices as of {table().as_of}"
    )
    print(
        "memory    ttl  cycles  calls 2/3/4   prompt  from cache  lowest  2/3/4 calls  "
        "cost/1000  uncached  saving"
    )
    for size in sizes:
        for caching in cachings:
            report(simulate(args.hours, size, caching, args.seed), caching, size)


if __name__ == "__main__":
    main()
