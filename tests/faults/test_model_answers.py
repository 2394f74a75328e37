"""Answers that must never be applied as they stand: cut off, unfinished, malformed."""

from __future__ import annotations

import pytest
from sqlalchemy.engine import Engine

from core import tasks
from core.db import unit_of_work
from tests.conftest import World
from tests.cycles import blocks, outbox_of, run_now
from tests.fakes.anthropic_api import (
    FakeAnthropic,
    Reply,
    finish,
    html_page,
    invalid_json,
    message,
    not_a_message,
    text,
    tool_use,
)
from tests.faults.conftest import QUICK, backend, refusals, writes


def _open_task(engine: Engine, world: World) -> int:
    with unit_of_work(engine) as session:
        return tasks.add_task(
            session, world.workspace, "sdr-emea", "Reply from Dana", detail="Tuesday works."
        ).id


def test_a_tool_call_cut_off_at_max_tokens_is_refused_and_never_stored(
    engine: Engine, world: World, fake: FakeAnthropic
) -> None:
    cut = "Hospital CTOs reply when we open with"
    fake.script(
        message(tool_use("record_learning", content=cut, importance=0.6), stop_reason="max_tokens"),
        message(finish("Ran out of room, said less")),
    )
    cycle = run_now(engine, world.workspace, "sdr-emea", backend(fake), QUICK)

    assert cycle["status"] == "succeeded"
    learning, _ = cycle["tool_calls"]
    assert learning["status"] == "refused" and "cut off (max_tokens)" in learning["result"]
    assert [b.content for b in blocks(engine)] == []
    [result] = fake.requests[1].tool_results
    assert result["is_error"] is True
    assert refusals(engine) == ["tool.record_learning"]


def test_a_cut_off_finish_cycle_does_not_end_the_cycle(
    engine: Engine, world: World, fake: FakeAnthropic
) -> None:
    fake.script(
        message(
            tool_use("record_learning", content="A whole thought", importance=0.5),
            tool_use("finish_cycle", summary="Half a rep"),
            stop_reason="max_tokens",
        ),
        message(
            tool_use("record_learning", content="A whole thought", importance=0.5), finish("Done.")
        ),
    )
    cycle = run_now(engine, world.workspace, "sdr-emea", backend(fake), QUICK)

    assert cycle["status"] == "succeeded" and cycle["report"] == "Done."
    assert [b.content for b in blocks(engine)] == ["A whole thought"]


def test_a_model_that_never_finishes_ends_incomplete_and_writes_only_its_record(
    engine: Engine, world: World, fake: FakeAnthropic
) -> None:
    task_id = _open_task(engine, world)
    before = writes(engine)

    def loops(_: object) -> Reply:
        return message(
            *(tool_use("record_learning", content=f"Idea {i}", importance=0.5) for i in range(50)),
            tool_use("complete_task", task_id=task_id, outcome="done?"),
            tool_use("handoff_task", to_agent="ae-emea", title="Over to you"),
        )

    fake.responder = loops
    cycle = run_now(engine, world.workspace, "sdr-emea", backend(fake), QUICK)

    assert cycle["status"] == "incomplete"
    assert "did not call finish_cycle within 3 turns" in cycle["error"]
    assert len(fake.requests) == QUICK.max_turns
    assert writes(engine) == before
    assert cycle["new_block_ids"] == [] and cycle["handoff_task_ids"] == []
    statuses = {call["status"] for call in cycle["tool_calls"]}
    assert statuses == {"discarded", "refused"}
    # Over the cap (3 learnings a cycle) and repeats of the task are refused, and audited.
    assert refusals(engine).count("tool.record_learning") == 3 * 50 - 3
    report = outbox_of(engine, cycle["id"])
    assert report is not None and "Incomplete:" in report.text
    assert "Nothing was written" in report.text


def test_an_answer_without_a_tool_call_is_asked_for_finish_cycle(
    engine: Engine, world: World, fake: FakeAnthropic
) -> None:
    fake.script(message(text("I think we should wait.")), message(finish("Waited.")))
    cycle = run_now(engine, world.workspace, "sdr-emea", backend(fake), QUICK)

    assert cycle["status"] == "succeeded" and cycle["report"] == "Waited."
    # The last turn is a list of content blocks (it carries the conversation's cache marker).
    [nudge] = fake.requests[1].body["messages"][-1]["content"]
    assert "finish_cycle" in nudge["text"]


def test_learnings_over_the_cap_are_refused_and_recorded(
    engine: Engine, world: World, fake: FakeAnthropic
) -> None:
    fake.script(
        message(
            *(tool_use("record_learning", content=f"Idea {i}", importance=0.5) for i in range(50)),
            finish("Fifty ideas"),
        )
    )
    cycle = run_now(engine, world.workspace, "sdr-emea", backend(fake), QUICK)

    assert cycle["status"] == "succeeded"
    assert [b.content for b in blocks(engine)] == ["Idea 0", "Idea 1", "Idea 2"]
    refused = [c for c in cycle["tool_calls"] if c["status"] == "refused"]
    assert len(refused) == 47 and "at most 3 learnings" in refused[0]["result"]
    assert refusals(engine) == ["tool.record_learning"] * 47


def test_the_learning_cap_is_a_heartbeat_setting(
    engine: Engine, world: World, fake: FakeAnthropic
) -> None:
    settings = QUICK.model_copy(update={"max_learnings_per_cycle": 1})
    fake.script(
        message(
            tool_use("record_learning", content="First", importance=0.5),
            tool_use("record_learning", content="Second", importance=0.5),
            finish("Two ideas"),
        )
    )
    run_now(engine, world.workspace, "sdr-emea", backend(fake, settings), settings)
    assert [b.content for b in blocks(engine)] == ["First"]


MALFORMED = {
    "invalid JSON": invalid_json,
    "an HTML page": html_page,
    "not a message": not_a_message,
}


@pytest.mark.parametrize("shape", MALFORMED)
def test_a_malformed_200_is_retried_like_a_server_error(
    engine: Engine, world: World, fake: FakeAnthropic, shape: str
) -> None:
    fake.script(MALFORMED[shape](), message(finish("Done after a bad answer")))
    cycle = run_now(engine, world.workspace, "sdr-emea", backend(fake), QUICK)

    assert cycle["status"] == "succeeded"
    assert (cycle["model_calls"], cycle["retries"], len(fake.requests)) == (1, 1, 2)


@pytest.mark.parametrize("shape", MALFORMED)
def test_malformed_200s_until_the_retries_run_out_fail_the_cycle_cleanly(
    engine: Engine, world: World, fake: FakeAnthropic, shape: str
) -> None:
    task_id = _open_task(engine, world)
    before = writes(engine)
    fake.script(
        message(
            tool_use("record_learning", content="Before the bad answers", importance=0.5),
            tool_use("complete_task", task_id=task_id, outcome="no"),
        ),
        *(MALFORMED[shape]() for _ in range(QUICK.model_max_retries + 1)),
    )
    cycle = run_now(engine, world.workspace, "sdr-emea", backend(fake), QUICK)

    assert cycle["status"] == "failed"
    assert cycle["error"].startswith("the model API answered 200 with a")
    assert cycle["error"].endswith(f"(after {QUICK.model_max_retries} retries)")
    assert "internal error" not in cycle["error"]
    assert len(fake.requests) == 1 + QUICK.model_max_retries + 1
    assert (cycle["model_calls"], cycle["retries"]) == (2, QUICK.model_max_retries)
    assert writes(engine) == before


def test_an_empty_answer_ends_the_cycle_incomplete(
    engine: Engine, world: World, fake: FakeAnthropic
) -> None:
    fake.script(message())
    cycle = run_now(engine, world.workspace, "sdr-emea", backend(fake), QUICK)
    assert cycle["status"] == "incomplete" and len(fake.requests) == 1
