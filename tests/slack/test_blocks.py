"""The Block Kit renderers are pure and stay within Slack's limits, whatever the data."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from slack_sdk.models.blocks import Block

from bot import blocks
from core.ask import Answer, Question, Record, Topic
from core.heartbeat.records import CycleView, TokenUsage
from core.heartbeat.tools import CallStatus, ToolCall
from core.home import AgentLine, BrainLine, Home
from core.models import CycleStatus, CycleTrigger


def agent(i: int) -> AgentLine:
    return AgentLine(
        handle=f"sdr-{i}",
        name="Sam <@channel> & co",
        role="sdr",
        team="emea",
        status="active",
        model="claude-sonnet-5-5",
        last_cycle_at=None,
        next_run_at=datetime(2026, 11, 25, 14, 5, tzinfo=UTC),
        open_tasks=i,
        model_warning=None,
    )


def brain(i: int) -> BrainLine:
    return BrainLine(i, "team", "emea", "pattern", "x" * 10_000, 0.7, i)


def texts(rendered: list[dict[str, object]]) -> list[str]:
    found = []
    for block in rendered:
        text = block.get("text")
        if isinstance(text, dict):
            found.append(str(text["text"]))
        for element in block.get("elements") or []:  # type: ignore[attr-defined]
            found.append(str(element["text"]))
    return found


def test_a_long_agent_list_fits_in_one_message_with_a_pointer_to_the_rest() -> None:
    message = blocks.agents_message([agent(i) for i in range(80)])

    assert len(message["blocks"]) == blocks.MESSAGE_BLOCKS
    assert message["blocks"][-1]["type"] == "context"
    assert "salesbrain agent list" in message["blocks"][-1]["elements"][0]["text"]


def test_text_from_people_is_escaped_and_sections_are_clipped() -> None:
    home = Home(
        workspace="Acme",
        role="manager",
        agents=[agent(1)],
        more_agents=0,
        team_blocks=[brain(1)],
        company_blocks=[],
        coaching=[brain(2)],
        is_coach=True,
    )
    view = blocks.home_view(home)

    shown = texts(view["blocks"])
    assert all(len(text) <= blocks.SECTION_LIMIT for text in shown)
    assert any("Sam &lt;@channel&gt; &amp; co" in text for text in shown)
    assert not any("<@channel>" in text for text in shown)
    assert "informed 2 cycles" in "\n".join(shown)
    assert len(view["blocks"]) <= blocks.VIEW_BLOCKS


def test_times_render_in_the_readers_time_zone_with_a_fallback() -> None:
    moment = datetime(2026, 11, 25, 14, 5, tzinfo=UTC)
    assert blocks.when(moment) == (
        f"<!date^{int(moment.timestamp())}^{{date_short_pretty}} {{time}}|2026-11-25 14:05 UTC>"
    )
    assert blocks.when(None) == "never"


def cycle_view(**changes: Any) -> CycleView:
    """A cycle as the heartbeat's `cycle_view` shows it."""
    view = CycleView(
        id=42,
        agent="sdr-emea",
        status=CycleStatus.SUCCEEDED,
        trigger=CycleTrigger.SCHEDULE,
        model="claude-sonnet-5-5",
        backend="offline",
        model_end_of_life=None,
        upgrade_hint=None,
        task_id=7,
        task="Follow up with Northwind",
        scheduled_for=None,
        started_at=None,
        finished_at=None,
        duration_ms=1234.0,
        model_ms=1000.0,
        tokens=TokenUsage(0, 0, 0, 0),
        cost_usd=0.0,
        model_calls=1,
        retries=0,
        context={
            "blocks": [
                {
                    "id": i,
                    "tier": "personal",
                    "type": "coaching",
                    "content": "c" * 5000,
                    "importance": 0.9,
                    "recency": 0.8,
                    "relevance": 0.5,
                    "score": 0.36,
                }
                for i in range(100)
            ]
        },
        tool_calls=(
            ToolCall(
                "handoff_task",
                {"to_agent": "ae-emea", "title": "Warm reply"},
                CallStatus.APPLIED,
                "ok",
                task_id=9,
            ),
            ToolCall(
                "record_learning",
                {"content": "x"},
                CallStatus.REFUSED,
                "refused: importance 0.9 is above 0.7",
            ),
        ),
        report="r" * 10_000,
        actions=("Drafted the follow-up <b>now</b>",),
        new_block_ids=(),
        handoff_task_ids=(9,),
        error=None,
        worker=None,
        slack_channel=None,
        slack_ts=None,
    )
    return replace(view, **changes)


def test_a_cycle_report_shows_what_shaped_it_within_slacks_limits() -> None:
    message = blocks.cycle_report(cycle_view(), learnings=2)

    shown = texts(message["blocks"])
    assert len(message["blocks"]) <= blocks.MESSAGE_BLOCKS
    assert all(len(text) <= blocks.SECTION_LIMIT for text in shown)
    joined = "\n".join(shown)
    assert "sdr-emea · cycle 42" in joined and "Follow up with Northwind" in joined
    assert "task 9 to ae-emea: Warm reply" in joined
    assert "record_learning: importance 0.9 is above 0.7" in joined
    assert (
        "block 0 · personal · coaching · 0.36 (importance 0.90, recency 0.80, relevance 0.50)"
        in joined
    )
    assert "block 5 ·" not in joined  # the top blocks only; the rest via /brain why
    assert "&lt;b&gt;now&lt;/b&gt;" in joined
    assert "`/brain why 42`" in joined and "2 new learnings in the thread" in joined


def test_a_failed_cycle_says_so_plainly() -> None:
    message = blocks.cycle_report(cycle_view(status=CycleStatus.FAILED, error="529 overloaded"), 0)

    joined = "\n".join(texts(message["blocks"]))
    assert "cycle 42 · failed" in joined and "*Failed:* 529 overloaded" in joined
    assert "Nothing was written" in joined


def test_why_lists_every_block_that_fits_with_a_pointer_to_the_rest() -> None:
    message = blocks.why_message(cycle_view())

    assert len(message["blocks"]) == blocks.MESSAGE_BLOCKS
    assert "salesbrain cycles show 42" in str(message["blocks"][-1])


def test_an_answer_over_slacks_limits_is_cut_and_says_so() -> None:
    question = Question("what changed?", Topic.CHANGES)
    records = [Record("block", i, "learning · team · emea", "x") for i in range(1, 400)]
    long_lines = "\n".join(f"• [block {i}] " + "y" * 2_900 for i in range(80))
    answer = Answer(question, "What changed " * 40, long_lines, records, ["n"] * 3, "anthropic")

    message = blocks.answer_message(answer)

    assert len(message["blocks"]) == blocks.MESSAGE_BLOCKS
    for block in message["blocks"]:
        Block.parse(block).validate_json()  # type: ignore[union-attr]
    assert blocks.ANSWER_CUT in texts(message["blocks"])[-1]


def test_a_line_longer_than_a_section_is_cut_and_the_answer_says_so() -> None:
    answer = Answer(Question("q", Topic.HELP), "t", "z" * 10_000, [], [], "offline")

    message = blocks.answer_message(answer)

    assert all(len(text) <= blocks.SECTION_LIMIT for text in texts(message["blocks"]))
    assert blocks.ANSWER_CUT in texts(message["blocks"])[-1]
