"""A channel the bot is not in: its reports wait, the agent's managers are told once how to
fix it, the App Home shows it, and once fixed the waiting reports go out in order, once."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from slack_sdk.models.blocks import Block
from sqlalchemy import select
from sqlalchemy.engine import Engine

from bot.reports import SlackSink
from core import clock, directory
from core.db import UnitOfWork
from core.heartbeat.backends.offline import OfflineBackend
from core.models import AuditEvent, DeliveryProblem, OutboxMessage, OutboxStatus
from tests.conftest import EMEA_MANAGER, MEMBER, World
from tests.cycles import FAST, run_now
from tests.fakes.slack_api import BOT_USER, Call, FakeSlack
from tests.fakes.slack_requests import SlackSender
from tests.slack.conftest import deliver
from tests.test_cli import Run, run  # noqa: F401  (fixtures)

CHANNEL = "C0SDREMEA"


@pytest.fixture
def uninvited(uow: Callable[..., UnitOfWork], world: World, slack: FakeSlack) -> str:
    """sdr-emea reports to a channel salesbrain was never invited to."""
    with uow() as u:
        directory.update_agent(
            u.session, u.session.merge(world.workspace), "sdr-emea", channel=CHANNEL
        )
    slack.outside.add(CHANNEL)
    return CHANNEL


def reports_in(slack: FakeSlack, channel: str) -> list[int]:
    """The cycles whose reports Slack accepted in the channel, in the order it got them."""
    return [
        m["metadata"]["event_payload"]["cycle_id"]
        for m in slack.messages.get(channel, [])
        if "thread_ts" not in m and m.get("metadata")
    ]


def dms_to(slack: FakeSlack, user: str) -> list[Call]:
    return [c for c in slack.calls_to("chat.postMessage") if c.args.get("channel") == user]


def statuses(uow: Callable[..., UnitOfWork]) -> list[OutboxStatus]:
    with uow(readonly=True) as u:
        return list(u.session.scalars(select(OutboxMessage.status).order_by(OutboxMessage.id)))


def test_a_report_to_a_channel_without_the_bot_waits_and_its_manager_is_told_once(
    engine: Engine,
    sink: SlackSink,
    slack: FakeSlack,
    uow: Callable[..., UnitOfWork],
    world: World,
    uninvited: str,
) -> None:
    run_now(engine, world.workspace, "sdr-emea", OfflineBackend())
    first = deliver(engine, sink)
    run_now(engine, world.workspace, "sdr-emea", OfflineBackend())
    second = deliver(engine, sink)

    assert (first.blocked, first.failed, second.delivered) == (1, 0, 0)
    # The second report is not even tried: it waits behind the first, in order.
    assert statuses(uow) == [OutboxStatus.BLOCKED, OutboxStatus.PENDING]
    [dm] = dms_to(slack, EMEA_MANAGER)
    assert f"invite @salesbrain to <#{CHANNEL}>" in dm.args["text"]
    assert "sdr-emea" in dm.args["blocks"][1]["elements"][0]["text"]
    for block in dm.args["blocks"]:
        Block.parse(block).validate_json()  # type: ignore[union-attr]
    assert not dms_to(slack, MEMBER)
    assert not reports_in(slack, CHANNEL)


def test_once_the_bot_joins_the_channel_the_waiting_reports_are_posted_in_order_once(
    engine: Engine,
    sink: SlackSink,
    send: SlackSender,
    slack: FakeSlack,
    uow: Callable[..., UnitOfWork],
    world: World,
    uninvited: str,
) -> None:
    cycles = []
    for _ in range(2):
        cycles.append(run_now(engine, world.workspace, "sdr-emea", OfflineBackend())["id"])
        deliver(engine, sink)

    send.event({"type": "app_home_opened", "user": EMEA_MANAGER, "channel": "D1", "tab": "home"})
    [home] = slack.wait_for("views.publish")
    shown = " ".join(
        b.get("text", {}).get("text", "") for b in home.args["view"]["blocks"] if "text" in b
    )
    assert "Reports not delivered" in shown and "2 waiting" in shown

    slack.invite(CHANNEL)
    send.event({"type": "member_joined_channel", "user": "U0SOMEONE", "channel": CHANNEL})
    assert statuses(uow)[0] is OutboxStatus.BLOCKED  # somebody else joining changes nothing
    send.event({"type": "member_joined_channel", "user": BOT_USER, "channel": CHANNEL})
    released = deliver(engine, sink)
    again = deliver(engine, sink)

    assert (released.delivered, again.delivered) == (2, 0)
    assert reports_in(slack, CHANNEL) == cycles
    assert len(dms_to(slack, EMEA_MANAGER)) == 1
    assert statuses(uow) == [OutboxStatus.DELIVERED, OutboxStatus.DELIVERED]
    with uow(readonly=True) as u:
        [problem] = u.session.scalars(select(DeliveryProblem))
        assert problem.resolved_at is not None
        [released] = u.session.scalars(
            select(AuditEvent).where(AuditEvent.action == "outbox.release")
        )
        assert released.target == f"channel:{CHANNEL}"


def test_a_channel_fixed_unseen_is_found_by_the_probe_of_its_oldest_report(
    engine: Engine,
    sink: SlackSink,
    slack: FakeSlack,
    uow: Callable[..., UnitOfWork],
    world: World,
    uninvited: str,
) -> None:
    start = clock.now()
    with clock.frozen_at(start):
        cycles = []
        for _ in range(3):
            cycles.append(run_now(engine, world.workspace, "sdr-emea", OfflineBackend())["id"])
            deliver(engine, sink)
    slack.invite(CHANNEL)  # no event reaches salesbrain

    with clock.frozen_at(start + timedelta(seconds=FAST.outbox_blocked_probe_seconds - 1)):
        assert deliver(engine, sink).delivered == 0
    with clock.frozen_at(start + timedelta(seconds=FAST.outbox_blocked_probe_seconds + 1)):
        probe = deliver(engine, sink)
        rest = deliver(engine, sink)

    assert (probe.delivered, rest.delivered) == (1, 2)
    assert reports_in(slack, CHANNEL) == cycles
    assert len(dms_to(slack, EMEA_MANAGER)) == 1


def test_a_revoked_token_blocks_the_reports_instead_of_failing_them(
    engine: Engine,
    sink: SlackSink,
    slack: FakeSlack,
    uow: Callable[..., UnitOfWork],
    world: World,
    uninvited: str,
) -> None:
    original = slack.answer

    def revoked(method: str, args: dict[str, Any]) -> dict[str, Any]:
        if method == "chat.postMessage":
            return {"ok": False, "error": "token_revoked"}
        return original(method, args)

    slack.answer = revoked  # type: ignore[method-assign]
    run_now(engine, world.workspace, "sdr-emea", OfflineBackend())

    assert deliver(engine, sink).blocked == 1
    with uow(readonly=True) as u:
        [problem] = u.session.scalars(select(DeliveryProblem))
        assert problem.error == "token_revoked" and problem.notified_at is not None
    # The direct message was tried once (with the revoked token it cannot arrive).
    assert len(dms_to(slack, EMEA_MANAGER)) == 1


def test_outbox_list_shows_the_waiting_reports_and_the_fix_and_retry_sends_them_in_order(
    engine: Engine,
    sink: SlackSink,
    slack: FakeSlack,
    run: Run,  # noqa: F811
    world: World,
    uninvited: str,
) -> None:
    cycles = []
    for _ in range(2):
        cycles.append(run_now(engine, world.workspace, "sdr-emea", OfflineBackend())["id"])
        deliver(engine, sink)

    listed = run("outbox", "list", "--failed", "--workspace", "T0001")
    shown = run("outbox", "list", "--failed", "--workspace", "T0001", "--json").json()

    assert listed.code == 0, listed.err
    assert f"Fix: invite @salesbrain to <#{CHANNEL}>" in listed.out
    [problem] = shown["problems"]
    assert (problem["error"], problem["agents"], problem["waiting"]) == (
        "not_in_channel",
        ["sdr-emea"],
        2,
    )
    [waiting] = shown["messages"]  # the second report was never tried: it is only pending
    assert (waiting["cycle_id"], waiting["status"]) == (cycles[0], "blocked")
    assert run("outbox", "retry", "--workspace", "T0001").code == 2
    assert run("outbox", "retry", "99999", "--workspace", "T0001").code == 4

    slack.invite(CHANNEL)
    retried = run("outbox", "retry", str(waiting["id"]), "--workspace", "T0001")
    assert (retried.code, retried.out.split(":")[0]) == (0, "2 reports due now")
    assert deliver(engine, sink).delivered == 2
    assert reports_in(slack, CHANNEL) == cycles
    assert run("outbox", "list", "--failed", "--workspace", "T0001", "--json").json() == {
        "problems": [],
        "messages": [],
    }
    assert run("outbox", "retry", str(waiting["id"]), "--workspace", "T0001").code == 2
