"""Ask the brain in Slack: the AI app pane (Bolt's Assistant) and mentions, through the
real Bolt app over signed HTTP and Socket Mode, against the fake Slack.

The answers come from a background thread, where the test's frozen clock does not reach:
the brain is stocked at the real time instead, and the questions ask about the last week
and month from it, so that no answer depends on the date the tests run."""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable
from typing import Any

import pytest
from slack_sdk.models.blocks import Block
from sqlalchemy import update
from sqlalchemy.engine import Engine

from bot.app import create_app
from bot.server import create_web_app
from core.ask import EXAMPLES
from core.db import UnitOfWork
from core.models import Agent
from tests.brain_questions import COACHING_TEXT, Stocked, stock_the_brain
from tests.conftest import EMEA_MANAGER, GLOBEX_ADMIN, MEMBER, World
from tests.fakes.anthropic_api import FakeAnthropic, message, text
from tests.fakes.slack_api import Call, FakeSlack
from tests.fakes.slack_requests import SlackSender, running
from tests.slack.conftest import SIGNING_SECRET, over_socket_mode, slack_settings

PANE = "D0PANE"
_threads = itertools.count(1)


@pytest.fixture
def stocked(engine: Engine, world: World) -> Stocked:
    return stock_the_brain(engine, world)


def thread_started(user: str, viewing: str = "C0GENERAL") -> dict[str, Any]:
    thread = f"1800000000.{next(_threads):06d}"
    return {
        "type": "assistant_thread_started",
        "assistant_thread": {
            "user_id": user,
            "context": {"channel_id": viewing, "team_id": "T0001", "enterprise_id": None},
            "channel_id": PANE,
            "thread_ts": thread,
        },
        "event_ts": thread,
    }


def question(user: str, text: str, thread: str, **extra: Any) -> dict[str, Any]:
    return {
        "type": "message",
        "channel": PANE,
        "channel_type": "im",
        "user": user,
        "text": text,
        "ts": f"1800000001.{next(_threads):06d}",
        "thread_ts": thread,
        **extra,
    }


def answers_in(slack: FakeSlack, thread: str, count: int) -> list[dict[str, Any]]:
    """The answers posted in a thread (after its greeting), each checked against Slack's
    limits by slack_sdk's own models."""
    posted = slack.wait_for(
        "chat.postMessage",
        count + 1,
        timeout=15,
        where=lambda call: call.args.get("thread_ts") == thread,
    )
    return [valid(call) for call in posted[1:]]


def valid(call: Call) -> dict[str, Any]:
    blocks = call.args.get("blocks")
    blocks = json.loads(blocks) if isinstance(blocks, str) else blocks or []
    assert len(blocks) <= 50
    for block in blocks:
        Block.parse(block).validate_json()  # type: ignore[union-attr]
    return {"text": call.args["text"], "shown": json.dumps(blocks)}


def ask_in_the_pane(
    send: SlackSender, slack: FakeSlack, user: str, texts: list[str], viewing: str = "C0GENERAL"
) -> list[dict[str, Any]]:
    started = thread_started(user, viewing)
    thread = started["assistant_thread"]["thread_ts"]
    assert send.event(started).status == 200
    for n, asked in enumerate(texts, start=1):
        assert send.event(question(user, asked, thread)).status == 200
        # One at a time: each answer before the next question, as a person asks.
        answers_in(slack, thread, n)
    return answers_in(slack, thread, len(texts))


def test_a_new_thread_greets_and_offers_the_four_questions(
    send: SlackSender, slack: FakeSlack, world: World
) -> None:
    started = thread_started(EMEA_MANAGER)
    send.event(started)

    [greeting] = slack.wait_for("chat.postMessage")
    [prompts] = slack.wait_for("assistant.threads.setSuggestedPrompts")
    assert "Ask me about your agents' memory" in greeting.args["text"]
    assert greeting.args["thread_ts"] == started["assistant_thread"]["thread_ts"]
    offered = (
        json.loads(prompts.args["prompts"])
        if isinstance(prompts.args["prompts"], str)
        else prompts.args["prompts"]
    )
    assert [p["message"] for p in offered] == list(EXAMPLES)


@pytest.mark.parametrize("who", [EMEA_MANAGER, MEMBER])
def test_the_pane_answers_the_four_questions_with_their_records_cited(
    who: str, send: SlackSender, slack: FakeSlack, stocked: Stocked
) -> None:
    knows, cycle, coaching, changes = ask_in_the_pane(send, slack, who, stocked.questions())

    coaching_note = f"`block {stocked.coaching_id}`"
    assert coaching_note in knows["shown"] and coaching_note in coaching["shown"]
    assert f"`cycle {stocked.cycle_id}`" in cycle["shown"] and "to ae-emea" in cycle["shown"]
    assert f"`block {stocked.team_copy_id}`" in changes["shown"]
    # The coaching note's words are for the managers of its team (and admins) only.
    quoted = [COACHING_TEXT in answer["shown"] for answer in (knows, cycle, coaching)]
    assert quoted == [who == EMEA_MANAGER] * 3
    # salesbrain says it is working while it reads (and writes) the answer.
    assert len(slack.calls_to("assistant.threads.setStatus")) == 4


def test_a_question_without_an_agent_is_about_the_agent_of_the_channel_in_view(
    send: SlackSender, slack: FakeSlack, uow: Callable[..., UnitOfWork], stocked: Stocked
) -> None:
    with uow() as u:
        u.session.execute(
            update(Agent).where(Agent.handle == "sdr-emea").values(report_channel="C0SDR")
        )
    started = thread_started(EMEA_MANAGER, viewing="C0ELSEWHERE")
    thread = started["assistant_thread"]["thread_ts"]
    send.event(started)
    slack.wait_for("chat.postMessage")
    # The person opens sdr-emea's channel with the pane open: Bolt keeps it as the context.
    send.event(
        {
            "type": "assistant_thread_context_changed",
            "assistant_thread": {
                **started["assistant_thread"],
                "context": {"channel_id": "C0SDR", "team_id": "T0001"},
            },
            "event_ts": "1800000002.000001",
        }
    )
    slack.wait_for("chat.update")
    send.event(question(EMEA_MANAGER, "what does it know about hospital CTOs?", thread))

    [answer] = answers_in(slack, thread, 1)
    assert "What sdr-emea knows about hospital CTOs" in answer["text"]
    assert f"`block {stocked.coaching_id}`" in answer["shown"]


def test_a_person_of_another_workspace_gets_nothing(
    send: SlackSender, slack: FakeSlack, stocked: Stocked
) -> None:
    started = thread_started(GLOBEX_ADMIN)
    thread = started["assistant_thread"]["thread_ts"]
    send.event(started)
    asked = stocked.questions()[0]
    send.event(question(GLOBEX_ADMIN, asked, thread, user_team="T0002"))

    [answer] = answers_in(slack, thread, 1)
    assert "belongs to another Slack workspace" in answer["text"]
    assert "block" not in answer["text"] and "block" not in answer["shown"]


def test_another_workspaces_pane_answers_from_its_own_records_only(
    send: SlackSender, slack: FakeSlack, stocked: Stocked
) -> None:
    send.team_id = "T0002"
    [answer] = ask_in_the_pane(send, slack, GLOBEX_ADMIN, stocked.questions()[:1])

    assert "sdr-emea holds nothing" in answer["shown"]
    assert "`block" not in answer["shown"]


def test_a_mention_in_a_thread_gets_the_same_answer(
    send: SlackSender, slack: FakeSlack, stocked: Stocked
) -> None:
    asked = f"<@UBOT0001> {stocked.questions()[1]}"
    send.event(
        {
            "type": "app_mention",
            "user": MEMBER,
            "channel": "C0SALES",
            "ts": "1.5",
            "thread_ts": "1.1",
            "text": asked,
        }
    )

    [posted] = slack.wait_for("chat.postMessage", timeout=15)
    answer = valid(posted)
    assert posted.args["channel"] == "C0SALES" and posted.args["thread_ts"] == "1.1"
    assert f"`cycle {stocked.cycle_id}`" in answer["shown"] and "to ae-emea" in answer["shown"]


def test_a_mention_without_a_question_lists_what_can_be_asked_and_the_commands(
    send: SlackSender, slack: FakeSlack, world: World
) -> None:
    send.event(
        {
            "type": "app_mention",
            "user": MEMBER,
            "channel": "C0SALES",
            "ts": "1.5",
            "text": "<@UBOT0001>",
        }
    )

    [posted] = slack.wait_for("chat.postMessage", timeout=15)
    assert "Which coaching worked this month?" in valid(posted)["shown"]
    assert "/brain help" in valid(posted)["shown"]


def test_a_rate_limited_answer_is_waited_out_and_posted_once(
    send: SlackSender, slack: FakeSlack, stocked: Stocked
) -> None:
    slack.fail("chat.postMessage", 429, times=1, retry_after=1)
    send.event(
        {
            "type": "app_mention",
            "user": MEMBER,
            "channel": "C0SALES",
            "ts": "1.5",
            "text": stocked.questions()[2],
        }
    )

    first, second = slack.wait_for("chat.postMessage", 2, timeout=15)
    assert first.args["_failed"] == 429 and "_failed" not in second.args
    assert f"`block {stocked.coaching_id}`" in valid(second)["shown"]


def test_the_pane_answers_over_socket_mode(
    db_url: str, engine: Engine, slack: FakeSlack, stocked: Stocked
) -> None:
    started = thread_started(EMEA_MANAGER)
    thread = started["assistant_thread"]["thread_ts"]
    asked = question(EMEA_MANAGER, stocked.questions()[0], thread)
    with over_socket_mode(db_url, engine, slack) as socket:
        for n, event in enumerate([started, asked]):
            socket.deliver("events_api", envelope(event, n))
        [answer] = answers_in(slack, thread, 1)

    assert COACHING_TEXT in answer["shown"] and f"`block {stocked.coaching_id}`" in answer["shown"]


def envelope(event: dict[str, Any], n: int) -> dict[str, Any]:
    return {
        "team_id": "T0001",
        "api_app_id": "A0001",
        "type": "event_callback",
        "event_id": f"EvSOCKET{n}",
        "event_time": 1800000000,
        "authorizations": [{"team_id": "T0001", "user_id": "UBOT0001", "is_bot": True}],
        "event": event,
    }


def test_with_the_anthropic_backend_the_model_writes_the_answer_from_the_records(
    db_url: str, engine: Engine, slack: FakeSlack, stocked: Stocked
) -> None:
    with FakeAnthropic() as model:
        written = f"Lead with HIPAA compliance [block {stocked.coaching_id}]."
        model.script(message(text(written)))
        settings = slack_settings(
            db_url,
            slack,
            SALESBRAIN_LLM="anthropic",
            ANTHROPIC_API_KEY="sk-test",
            ANTHROPIC_BASE_URL=model.url,
        )
        with running(create_web_app(create_app(settings, engine), engine)) as url:
            send = SlackSender(url, SIGNING_SECRET, slack)
            [answer] = ask_in_the_pane(send, slack, EMEA_MANAGER, stocked.questions()[:1])

    assert written in answer["shown"] and f"`block {stocked.coaching_id}`" in answer["shown"]
    [request] = model.requests
    assert COACHING_TEXT in request.prompt  # the records, fenced, are all the model is given


def test_a_direct_message_outside_the_pane_is_answered_in_its_thread(
    send: SlackSender, slack: FakeSlack, stocked: Stocked
) -> None:
    dm = {"type": "message", "channel": "D0DM", "channel_type": "im", "user": MEMBER, "ts": "2.1"}
    send.event({**dm, "text": stocked.questions()[3]})

    [posted] = slack.wait_for("chat.postMessage", timeout=15)
    assert (posted.args["channel"], posted.args["thread_ts"]) == ("D0DM", "2.1")
    assert f"`block {stocked.team_copy_id}`" in valid(posted)["shown"]
