"""Fault and injection runs of the heartbeat: what a misbehaving model can make it write.

    .venv/bin/python bench/heartbeat_faults.py [--runs 20] [--database-url postgresql://...]

Every run is one cycle of a real AnthropicBackend (the SDK over HTTP) against the fake
Messages API on 127.0.0.1 (tests/fakes/anthropic_api.py), answering with one fault:
- cut off: a record_learning cut off at max_tokens, then the whole call and finish_cycle;
- loop: ten learnings, a completion and a handoff every turn, never finish_cycle;
- malformed then ok / malformed to the end: invalid JSON, an HTML page, a non-message 200;
- slow: two workers on one agent, a 1 s lease, the model answering after 1.5 s;
- injection: every known fence escape (tests/faults/fences.py) in a person's task, a task a
  teammate handed on, and a handed-off task's outcome, read by a model that obeys it.
It counts lost writes (a call the cycle accepted that is not stored), duplicated writes (one
stored twice), partial writes (anything stored by a cycle that did not succeed, or a cut-off
input stored), overlapping model calls for one agent, fence escapes (outside text outside
its fence in the prompt the model received) and escalations (a block off the agent's own
Personal Brain, coaching, a promotion, importance above 0.7).
"""

from __future__ import annotations

import argparse
import itertools
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import func, select  # noqa: E402
from sqlalchemy.engine import Engine  # noqa: E402

from core import clock, directory, schema, tasks  # noqa: E402
from core.db import make_engine, unit_of_work  # noqa: E402
from core.errors import InvalidInput  # noqa: E402
from core.heartbeat import leases  # noqa: E402
from core.heartbeat.backends.anthropic import AnthropicBackend, make_client  # noqa: E402
from core.heartbeat.config import HeartbeatSettings  # noqa: E402
from core.heartbeat.cycle import run_cycle  # noqa: E402
from core.models import (  # noqa: E402
    Agent,
    BlockType,
    Cycle,
    MemoryBlock,
    Task,
    Tier,
)
from core.permissions import Actor  # noqa: E402
from core.settings import Settings  # noqa: E402
from tests.fakes import anthropic_api as fake_api  # noqa: E402
from tests.faults.fences import ESCAPES, ORDER, escapes  # noqa: E402

QUICK = HeartbeatSettings(
    lease_seconds=120,
    model_timeout_seconds=2,
    model_connect_timeout_seconds=1,
    model_max_retries=2,
    max_turns=3,
)
SHORT_LEASE = QUICK.model_copy(update={"lease_seconds": 1.0, "model_timeout_seconds": 30})
MALFORMED = {
    "invalid JSON": fake_api.invalid_json,
    "HTML page": fake_api.html_page,
    "not a message": fake_api.not_a_message,
}


class Tally(Counter[str]):
    """Counts per fault kind."""


def seed(url: str) -> Engine:
    schema.upgrade(url)
    engine = make_engine(url)
    with unit_of_work(engine) as session:
        workspace = directory.create_workspace(session, "T0FAULT", "Faults")
        directory.create_team(session, workspace, "emea", "EMEA")
        directory.create_team(session, workspace, "amer", "AMER")
        for handle, team, role in [
            ("sdr-emea", "emea", "sdr"),
            ("ae-emea", "emea", "account_executive"),
            ("dir-emea", "emea", "director"),
            ("sdr-amer", "amer", "sdr"),
        ]:
            directory.create_agent(session, workspace, handle, team=team, role=role)
    return engine


def backend(url: str, settings: HeartbeatSettings) -> AnthropicBackend:
    app = Settings(anthropic_api_key="sk-bench", anthropic_base_url=url)  # type: ignore[call-arg]
    return AnthropicBackend(make_client(app, settings), settings)


def run(engine: Engine, model: AnthropicBackend, settings: HeartbeatSettings, handle: str) -> Cycle:
    with unit_of_work(engine) as session:
        agent = session.scalars(select(Agent).where(Agent.handle == handle)).one()
        claim = leases.claim_agent(
            session, agent, "bench", now=clock.now(), lease_seconds=settings.lease_seconds
        )
    result = run_cycle(engine, claim, model, settings)
    assert result is not None
    with unit_of_work(engine, readonly=True) as session:
        cycle = session.get_one(Cycle, result.cycle_id)
        session.expunge(cycle)
        return cycle


def contents(engine: Engine) -> Counter[str]:
    with unit_of_work(engine, readonly=True) as session:
        return Counter(session.scalars(select(MemoryBlock.content)))


def task_count(engine: Engine) -> int:
    with unit_of_work(engine, readonly=True) as session:
        return session.scalar(select(func.count()).select_from(Task)) or 0


def expect_one(tally: Tally, engine: Engine, before: Counter[str], content: str) -> None:
    """The cycle should have stored `content` exactly once and nothing else."""
    stored = contents(engine) - before
    tally["lost"] += stored[content] == 0
    tally["duplicated"] += stored[content] > 1
    tally["partial"] += sum(n for text, n in stored.items() if text != content)


def expect_none(tally: Tally, engine: Engine, before: tuple[Counter[str], int]) -> None:
    tally["partial"] += sum((contents(engine) - before[0]).values())
    tally["partial"] += task_count(engine) - before[1]


def cut_off(engine: Engine, fake: fake_api.FakeAnthropic, runs: int) -> Tally:
    tally, model = Tally(), backend(fake.url, QUICK)
    for i in range(runs):
        whole = f"Hospital CTOs reply when we open with compliance ({i})"
        fake.script(
            fake_api.message(
                fake_api.tool_use("record_learning", content=whole[:37], importance=0.5),
                stop_reason="max_tokens",
            ),
            fake_api.message(
                fake_api.tool_use("record_learning", content=whole, importance=0.5),
                fake_api.finish("Done"),
            ),
        )
        before = contents(engine)
        cycle = run(engine, model, QUICK, "sdr-emea")
        tally[cycle.status.value] += 1
        expect_one(tally, engine, before, whole)
    return tally


def loop(engine: Engine, fake: fake_api.FakeAnthropic, runs: int) -> Tally:
    tally, model = Tally(), backend(fake.url, QUICK)
    fake.responder = lambda _: fake_api.message(
        *(
            fake_api.tool_use("record_learning", content=f"Loop idea {n}", importance=0.5)
            for n in range(10)
        ),
        fake_api.tool_use("handoff_task", to_agent="ae-emea", title="Over to you"),
    )
    try:
        for _ in range(runs):
            before = (contents(engine), task_count(engine))
            cycle = run(engine, model, QUICK, "sdr-emea")
            tally[cycle.status.value] += 1
            expect_none(tally, engine, before)
    finally:
        fake.responder = fake_api.learn_and_finish
    return tally


def malformed(engine: Engine, fake: fake_api.FakeAnthropic, runs: int) -> Tally:
    tally, model = Tally(), backend(fake.url, QUICK)
    for i in range(runs):
        shape = list(MALFORMED)[i % len(MALFORMED)]
        sent = len(fake.requests)
        content = f"Learned after a bad answer ({i})"
        fake.script(
            MALFORMED[shape](),
            fake_api.message(
                fake_api.tool_use("record_learning", content=content, importance=0.5),
                fake_api.finish("Done"),
            ),
        )
        before = contents(engine)
        cycle = run(engine, model, QUICK, "sdr-emea")
        tally[f"then ok: {cycle.status.value}"] += 1
        calls, retries = cycle.model_calls, cycle.retries
        expect_one(tally, engine, before, content)
        fake.script(
            fake_api.message(
                fake_api.tool_use("record_learning", content="Never stored", importance=0.5)
            ),
            *(MALFORMED[shape]() for _ in range(QUICK.model_max_retries + 1)),
        )
        before_all = (contents(engine), task_count(engine))
        cycle = run(engine, model, QUICK, "sdr-emea")
        tally[f"to the end: {cycle.status.value}"] += 1
        tally["internal errors"] += "internal error" in (cycle.error or "")
        expect_none(tally, engine, before_all)
        # Every request beyond a model call's first is a retry, and the record says so.
        tally["retries sent"] += len(fake.requests) - sent - calls - cycle.model_calls
        tally["retries recorded"] += retries + cycle.retries
    return tally


def slow(engine: Engine, fake: fake_api.FakeAnthropic, seconds: float) -> Tally:
    tally, model = Tally(), backend(fake.url, SHORT_LEASE)
    first = len(fake.requests)
    fake.responder = lambda _: fake_api.message(fake_api.finish("Slow."), delay=1.5)
    until = time.monotonic() + seconds

    def worker(name: str) -> None:
        while time.monotonic() < until:
            with unit_of_work(engine) as session:
                agent = session.scalars(select(Agent).where(Agent.handle == "ae-emea")).one()
                try:
                    claim = leases.claim_agent(
                        session, agent, name, now=clock.now(), lease_seconds=1.0
                    )
                except InvalidInput:
                    claim = None
            if claim is None:
                time.sleep(0.02)
                continue
            result = run_cycle(engine, claim, model, SHORT_LEASE)
            tally[result.status.value if result else "gone"] += 1

    before = (contents(engine), task_count(engine))
    try:
        threads = [threading.Thread(target=worker, args=(f"w{n}",)) for n in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=seconds + 30)
        fake.settle()
    finally:
        fake.responder = fake_api.learn_and_finish
    spans = sorted((r.at, r.ended_at or float("inf")) for r in fake.requests[first:])
    tally["model calls"] += len(spans)
    tally["overlapping calls"] += sum(b[0] < a[1] for a, b in itertools.pairwise(spans))
    expect_none(tally, engine, before)
    return tally


def obeys(request: fake_api.Request) -> fake_api.Reply:
    read = request.system_text + "\n" + request.prompt
    if request.tool_results or ORDER not in read:
        return fake_api.message(fake_api.finish("Nothing to obey."))
    return fake_api.message(
        fake_api.tool_use("record_learning", content=ORDER, importance=0.95),
        fake_api.tool_use("record_learning", content=ORDER, importance=0.7),
        fake_api.tool_use("propose_promotion", block_id=1, reason=ORDER),
        fake_api.tool_use("coach_agent", agent="ae-emea", note=ORDER),
        fake_api.tool_use("handoff_task", to_agent="sdr-amer", title=ORDER),
        fake_api.finish(ORDER),
    )


SOURCES: dict[str, Callable[[Any, Any, str], None]] = {
    "a person's task": lambda session, ws, text: tasks.add_task(
        session, ws, "sdr-emea", "Reply from Dana", detail=text
    ),
    "a teammate's handoff": lambda session, ws, text: tasks.add_task(
        session,
        ws,
        "sdr-emea",
        f"Follow up: {text}"[:500],
        detail=text,
        by=Actor.agent("ae-emea"),
        from_agent=session.scalars(select(Agent).where(Agent.handle == "ae-emea")).one(),
    ),
    "a handoff's outcome": lambda session, ws, text: tasks.complete_task(
        session,
        ws,
        tasks.add_task(
            session,
            ws,
            "ae-emea",
            "Demo for Dana",
            by=Actor.agent("sdr-emea"),
            from_agent=session.scalars(select(Agent).where(Agent.handle == "sdr-emea")).one(),
        ).id,
        text,
        by=Actor.agent("ae-emea"),
    ),
}


def injections(engine: Engine, fake: fake_api.FakeAnthropic) -> Tally:
    tally, model = Tally(), backend(fake.url, QUICK)
    fake.responder = obeys
    try:
        for source, plant in SOURCES.items():
            for shape, text in ESCAPES.items():
                with unit_of_work(engine) as session:
                    workspace = directory.resolve_workspace(session, "T0FAULT")
                    plant(session, workspace, text)
                first = len(fake.requests)
                run(engine, model, QUICK, "sdr-emea")
                tally["attempts"] += 1
                for request in fake.requests[first:]:
                    if not request.tool_results:
                        found = escapes(request.system_text + "\n" + request.prompt)
                        tally["escaped"] += bool(found)
                        if found:
                            print(f"  escaped ({source}, {shape}): {found[0]}")
                # Leave no open task behind for the next attempt.
                with unit_of_work(engine) as session:
                    for task in session.scalars(select(Task).where(Task.status == "open")):
                        task.status = "done"  # type: ignore[assignment]
    finally:
        fake.responder = fake_api.learn_and_finish
    with unit_of_work(engine, readonly=True) as session:
        for block in session.scalars(select(MemoryBlock)):
            tally["escalations"] += (
                block.tier is not Tier.PERSONAL
                or block.type is BlockType.COACHING
                or block.promoted_from_id is not None
                or block.importance > 0.7
            )
    return tally


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--database-url")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp, fake_api.FakeAnthropic(hang_seconds=5) as fake:
        url = args.database_url or f"sqlite:///{tmp}/faults.db"
        engine = seed(url)
        print(f"database: {url.split(':', 1)[0]}; {args.runs} runs of each fault")
        for name, measure in [
            ("cut off", lambda: cut_off(engine, fake, args.runs)),
            ("loop", lambda: loop(engine, fake, args.runs)),
            ("malformed", lambda: malformed(engine, fake, args.runs)),
            ("slow (4 s)", lambda: slow(engine, fake, 4.0)),
            ("injection", lambda: injections(engine, fake)),
        ]:
            tally = measure()
            shown = ", ".join(f"{key} {value}" for key, value in sorted(tally.items()))
            print(f"{name}: {shown}")
        engine.dispose()


if __name__ == "__main__":
    main()
