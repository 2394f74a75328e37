"""Cycle reports through the outbox to Slack: one message per report, one reply per new
learning (a reaction on it promotes exactly that block), nothing lost or posted twice."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import update
from sqlalchemy.engine import Engine

from bot.app import create_app, web_client
from bot.reports import SlackNoticePoster, SlackSink
from bot.runner import HeartbeatRunner
from bot.server import create_web_app
from core import clock, directory, memory, notices, report_messages
from core.db import UnitOfWork
from core.heartbeat.backends.offline import OfflineBackend
from core.models import Cycle, OutboxMessage, OutboxStatus
from tests.conftest import EMEA_MANAGER, MEMBER, World
from tests.cycles import FAST, run_now
from tests.fakes.slack_api import FakeSlack
from tests.fakes.slack_requests import SlackSender, running
from tests.slack.conftest import BOT_TOKEN, SIGNING_SECRET, deliver, sdr_learning, slack_settings

CHANNEL = "C0REPORTS"


@pytest.fixture
def reported(engine: Engine, uow: Callable[..., UnitOfWork], world: World) -> dict[str, Any]:
    """A finished cycle of sdr-emea that recorded a learning, its report queued for Slack."""
    with uow() as u:
        directory.update_agent(
            u.session, u.session.merge(world.workspace), "sdr-emea", channel=CHANNEL
        )
    view = run_now(engine, world.workspace, "sdr-emea", OfflineBackend())
    with uow() as u:
        learning = sdr_learning(u.session, world, "Hospital CTOs answer on Tuesdays")
        cycle = u.session.get(Cycle, view["id"])
        assert cycle is not None
        cycle.new_block_ids = [*cycle.new_block_ids, learning.id]
    return {**view, "learning": learning.id}


def outbox_status(uow: Callable[..., UnitOfWork], cycle_id: int) -> OutboxStatus:
    with uow(readonly=True) as u:
        message = u.session.query(OutboxMessage).filter_by(cycle_id=cycle_id).one()
        return message.status


def test_a_report_is_one_message_and_each_learning_a_reply_that_a_reaction_promotes(
    engine: Engine,
    sink: SlackSink,
    send: SlackSender,
    slack: FakeSlack,
    uow: Callable[..., UnitOfWork],
    world: World,
    reported: dict[str, Any],
) -> None:
    assert deliver(engine, sink).delivered == 1

    report, reply = slack.calls_to("chat.postMessage")
    assert report.args["channel"] == CHANNEL and "thread_ts" not in report.args
    header = report.args["blocks"][0]["text"]["text"]
    assert header.startswith(f"sdr-emea · cycle {reported['id']}")
    assert reply.args["thread_ts"] == "1700000000.000001"  # the report's ts
    assert f"block {reported['learning']}" in reply.args["text"]
    assert outbox_status(uow, reported["id"]) is OutboxStatus.DELIVERED

    send.event(
        {
            "type": "reaction_added",
            "user": EMEA_MANAGER,
            "reaction": "brain",
            "item": {"type": "message", "channel": CHANNEL, "ts": "1700000000.000002"},
        }
    )
    [confirmation] = slack.wait_for("chat.postMessage", 3)[2:]
    assert confirmation.args["thread_ts"] == "1700000000.000001"
    with uow(readonly=True) as u:
        [team] = memory.list_blocks(u.session, world.workspace, tier="team")
        assert team.promoted_from_id == reported["learning"]


def test_a_rate_limited_report_waits_as_slack_asks_and_is_posted_once(
    engine: Engine, sink: SlackSink, slack: FakeSlack, reported: dict[str, Any]
) -> None:
    slack.fail("chat.postMessage", 429, times=1, retry_after=1)

    assert deliver(engine, sink).delivered == 1

    first, second, reply = slack.calls_to("chat.postMessage")
    assert first.args["_failed"] == 429 and second.at - first.at >= 0.9
    assert "thread_ts" not in second.args and reply.args["thread_ts"]


def test_a_delivery_that_fails_half_way_posts_only_what_is_missing_when_retried(
    engine: Engine,
    sink: SlackSink,
    slack: FakeSlack,
    uow: Callable[..., UnitOfWork],
    world: World,
    reported: dict[str, Any],
) -> None:
    # The report goes out; its learning's reply fails.
    original = slack.answer

    def failing_replies(method: str, args: dict[str, Any]) -> dict[str, Any]:
        return (
            {"ok": False, "error": "fatal_error"}
            if args.get("thread_ts")
            else original(method, args)
        )

    slack.answer = failing_replies  # type: ignore[method-assign]
    run = deliver(engine, sink)
    assert (run.delivered, run.retrying) == (0, 1)
    assert outbox_status(uow, reported["id"]) is OutboxStatus.PENDING

    slack.answer = original  # type: ignore[method-assign]
    with uow() as u:  # due again now
        u.session.execute(update(OutboxMessage).values(next_attempt_at=clock.now()))
    assert deliver(engine, sink).delivered == 1

    posts = slack.calls_to("chat.postMessage")
    reports = [c for c in posts if "thread_ts" not in c.args]
    replies = [c for c in posts if c.args.get("thread_ts")]
    assert len(reports) == 1  # the report was not posted again
    assert len(replies) == 2 and replies[-1].args["thread_ts"] == "1700000000.000001"
    with uow(readonly=True) as u:
        message = report_messages.report_message(
            u.session, world.workspace, CHANNEL, "1700000000.000002"
        )
        assert message is not None and message.block_id == reported["learning"]


@pytest.fixture
def with_runner(
    db_url: str, engine: Engine, slack: FakeSlack, sink: SlackSink, world: World
) -> Iterator[SlackSender]:
    """The HTTP server with a heartbeat runner (offline model), reports through the sink."""
    runner = HeartbeatRunner(engine, OfflineBackend(), FAST, sinks=[sink])
    app = create_app(slack_settings(db_url, slack), engine, runner=runner)
    with running(create_web_app(app, engine)) as url:
        yield SlackSender(url, SIGNING_SECRET, slack)


def test_brain_run_answers_at_once_and_the_report_follows_in_the_agents_channel(
    with_runner: SlackSender, slack: FakeSlack, uow: Callable[..., UnitOfWork], world: World
) -> None:
    with uow() as u:
        directory.update_agent(
            u.session, u.session.merge(world.workspace), "sdr-emea", channel=CHANNEL
        )

    refused = with_runner.command("/brain", "run @sdr-emea", MEMBER)
    reply = with_runner.command("/brain", "run @sdr-emea", EMEA_MANAGER)

    assert "may not run sdr-emea now" in refused.text
    assert reply.text == f"Running sdr-emea now: its report follows <#{CHANNEL}>."
    [report] = slack.wait_for("chat.postMessage", timeout=15)
    assert report.args["channel"] == CHANNEL
    assert report.args["blocks"][0]["text"]["text"].startswith("sdr-emea · cycle ")


def test_brain_why_shows_what_shaped_a_cycle(send: SlackSender, reported: dict[str, Any]) -> None:
    reply = send.command("/brain", f"why {reported['id']}", MEMBER)

    blocks = reply.json()["blocks"]
    assert blocks[0]["text"]["text"] == f"Why sdr-emea saw this · cycle {reported['id']}"
    assert send.command("/brain", "why 99999", MEMBER).text == "cycle 99999 not found"


def test_notices_reach_a_channel_and_a_persons_direct_messages_once_after_an_outage(
    db_url: str, engine: Engine, uow: Callable[..., UnitOfWork], world: World, slack: FakeSlack
) -> None:
    client = web_client(slack_settings(db_url, slack), BOT_TOKEN)
    posts: dict[str, notices.Post] = {"slack": SlackNoticePoster(engine, lambda ws: client)}
    with uow() as u:
        workspace = u.session.merge(world.workspace)
        notices.post_once(u.session, workspace, "digest:emea:2026-11-23", "slack:C0EMEA", "Week")
        notices.post_once(
            u.session, workspace, "coaching-flag:block:1", f"slack:{EMEA_MANAGER}", "Hm"
        )
        notices.post_once(u.session, workspace, "digest:emea:2026-11-23", "slack:C0EMEA", "Again")
    slack.fail("chat.postMessage", 500, times=3)  # the client's own retries, then a failure

    assert notices.deliver_notices(engine, posts, "test") == 1
    with clock.frozen_at(clock.now() + timedelta(hours=1)):  # past the backoff
        assert notices.deliver_notices(engine, posts, "test") == 1
        assert notices.deliver_notices(engine, posts, "test") == 0

    posted = [(c.args["channel"], c.args["text"]) for c in slack.calls_to("chat.postMessage")]
    # The digest failed (and waited), the direct message went, then the digest: once each.
    assert posted[-2:] == [(EMEA_MANAGER, "Hm"), ("C0EMEA", "Week")]
    assert "Again" not in str(posted)
