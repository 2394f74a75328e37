"""Replaying a cycle on another model: the same recorded memory, nothing written."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.engine import Engine

from core import clock
from core.db import unit_of_work
from core.errors import InvalidInput, NotFound
from core.heartbeat.backends.offline import OfflineBackend
from core.heartbeat.replay import Replay, replay, replayable
from core.models import Agent, AuditEvent, Cycle, MemoryBlock, OutboxMessage, Task
from tests.conftest import World
from tests.cycles import FAST, import_question_subject_effect, run_now
from tests.fakes.anthropic_api import FakeAnthropic, finish, message, tool_use
from tests.test_heartbeat_anthropic import _backend, fake, sdr_with_work  # noqa: F401 (fixtures)

OFFLINE = OfflineBackend()
MONDAY = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


def _everything(engine: Engine) -> dict[str, Any]:
    """What a replay must leave as it was."""
    with unit_of_work(engine, readonly=True) as session:
        return {
            table.__name__: session.scalar(select(func.count()).select_from(table))
            for table in (MemoryBlock, Task, Cycle, OutboxMessage, AuditEvent)
        } | {
            "blocks": [(b.id, b.content, b.times_surfaced) for b in session.scalars(
                select(MemoryBlock).order_by(MemoryBlock.id))],
            "tasks": [(t.id, t.status) for t in session.scalars(select(Task).order_by(Task.id))],
            "agents": [(a.handle, a.model, a.last_cycle_at) for a in session.scalars(
                select(Agent).order_by(Agent.id))],
        }  # fmt: skip


def _replay(
    engine: Engine, world: World, cycle_id: int, model: str, backend: Any = OFFLINE
) -> Replay:
    with unit_of_work(engine, readonly=True) as session:
        cycle = replayable(session, world.workspace, cycle_id, model)
    return replay(engine, cycle, backend, FAST)


def test_an_offline_replay_reasons_as_the_cycle_did_on_the_new_model_and_writes_nothing(
    engine: Engine,
    world: World,
    sdr_with_work: int,  # noqa: F811
) -> None:
    cycle = run_now(engine, world.workspace, "sdr-emea", OFFLINE)
    before = _everything(engine)

    result = _replay(engine, world, cycle["id"], "claude-opus-5-5")

    assert _everything(engine) == before
    assert (result.original.model, result.replay.model) == ("claude-sonnet-5-5", "claude-opus-5-5")
    assert result.blocks == len(cycle["context"]["blocks"]) == 1
    # The same memory gives the offline backend the same answer, whatever the model.
    assert [(c["name"], c["input"]) for c in result.replay.tool_calls] == [
        (c["name"], c["input"]) for c in cycle["tool_calls"]
    ]
    assert [c["status"] for c in result.replay.tool_calls] == ["accepted"] * 3
    assert result.as_dict()["written"] is False


def test_a_replay_sees_the_blocks_at_the_content_they_had_in_the_cycle(
    engine: Engine,
    world: World,
    sdr_with_work: int,  # noqa: F811
) -> None:
    cycle = run_now(engine, world.workspace, "sdr-emea", OFFLINE)
    with unit_of_work(engine) as session:
        block = session.get_one(MemoryBlock, cycle["context"]["blocks"][0]["id"])
        block.content = "Lead with price"

    result = _replay(engine, world, cycle["id"], "claude-opus-5-5")

    [completed, *_] = result.replay.tool_calls
    assert "Lead with the compliance angle" in completed["input"]["outcome"]
    assert "Lead with price" not in completed["input"]["outcome"]


def test_replays_of_findings_and_a_directors_promotion_reason_as_their_cycles_did(
    engine: Engine, world: World
) -> None:
    """Findings reach the replay as recorded, and the director's own Team Brain copy does
    not turn the replay's proposal into a repeat."""
    import_question_subject_effect(engine)
    with clock.frozen_at(MONDAY):
        sdr = run_now(engine, world.workspace, "sdr-emea", OFFLINE)
    with clock.frozen_at(MONDAY + timedelta(hours=1)):
        run_now(engine, world.workspace, "ae-emea", OFFLINE)
        director = run_now(engine, world.workspace, "dir-emea", OFFLINE)
    before = _everything(engine)

    sdr_again = _replay(engine, world, sdr["id"], "claude-opus-5-5")
    director_again = _replay(engine, world, director["id"], "claude-opus-5-5")

    assert sdr_again.original.learnings and sdr_again.replay.learnings == (
        sdr_again.original.learnings
    )
    [proposal] = [c for c in director["tool_calls"] if c["name"] == "propose_promotion"]
    [again] = [c for c in director_again.replay.tool_calls if c["name"] == "propose_promotion"]
    assert (again["input"], again["status"]) == (proposal["input"], "accepted")
    assert _everything(engine) == before


def test_an_anthropic_replay_goes_through_the_same_client_with_the_recorded_memory(
    engine: Engine,
    world: World,
    fake: FakeAnthropic,  # noqa: F811
    sdr_with_work: int,  # noqa: F811
) -> None:
    cycle = run_now(engine, world.workspace, "sdr-emea", OFFLINE)
    before = _everything(engine)
    fake.script(
        message(
            tool_use(
                "record_learning", content="Healthcare CTOs answer compliance", importance=0.5
            ),
            finish("Answered Dana with compliance first."),
        )
    )
    result = _replay(engine, world, cycle["id"], "claude-opus-5-5", _backend(fake))

    [request] = fake.requests
    assert request.body["model"] == "claude-opus-5-5"
    assert "Lead with the compliance angle for healthcare CTOs" in request.system_text
    assert "Reply from Dana (Mercy Health)" in request.prompt
    assert result.replay.backend == "anthropic" and result.replay.status == "succeeded"
    assert result.replay.learnings == ["Healthcare CTOs answer compliance"]
    assert result.original.learnings == []
    assert result.replay.input_tokens > 0 and result.replay.output_tokens > 0
    assert _everything(engine) == before


def test_replays_of_a_failed_cycle_another_workspaces_cycle_or_a_bad_model_are_refused(
    engine: Engine, world: World
) -> None:
    with unit_of_work(engine) as session:
        session.get_one(Agent, world.sdr.id).model = "claude-2.1"  # retired: its cycle fails
    failed = run_now(engine, world.workspace, "sdr-emea", OFFLINE)
    other = run_now(engine, world.other_workspace, "sdr-emea", OFFLINE)
    fine = run_now(engine, world.workspace, "ae-emea", OFFLINE)
    before = _everything(engine)

    with unit_of_work(engine, readonly=True) as session:
        with pytest.raises(InvalidInput, match=r"cycle \d+ failed: model retired on 2025-07-21"):
            replayable(session, world.workspace, failed["id"], "claude-opus-5-5")
        with pytest.raises(NotFound, match=f"cycle {other['id']} not found"):
            replayable(session, world.workspace, other["id"], "claude-opus-5-5")
        with pytest.raises(InvalidInput, match=r"claude-2\.1 was retired on 2025-07-21"):
            replayable(session, world.workspace, fine["id"], "claude-2.1")
        with pytest.raises(InvalidInput, match="gpt-4 is not a model this installation knows"):
            replayable(session, world.workspace, fine["id"], "gpt-4")
        assert replayable(session, world.workspace, fine["id"], "claude-next", force=True)
    assert _everything(engine) == before
