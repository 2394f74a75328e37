"""The promote emoji on a learning of a cycle report promotes it to the Team Brain, once."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from core import audit, memory, report_messages
from core.db import UnitOfWork
from tests.conftest import ADMIN, AMER_MANAGER, EMEA_MANAGER, MEMBER, World
from tests.fakes.slack_api import FakeSlack
from tests.fakes.slack_requests import SlackSender
from tests.slack.conftest import sdr_learning

CHANNEL, REPORT_TS, LEARNING_TS = "C0REPORTS", "1700000000.000100", "1700000000.000200"


@pytest.fixture
def learning(uow: Callable[..., UnitOfWork], world: World) -> int:
    """A learning of sdr-emea, posted as one reply in the thread of a cycle report."""
    with uow() as u:
        block = sdr_learning(u.session, world, "Healthcare CTOs answer on Tuesdays")
        report_messages.remember_report_message(
            u.session,
            world.workspace,
            channel=CHANNEL,
            ts=LEARNING_TS,
            thread_ts=REPORT_TS,
            block_id=block.id,
        )
        return block.id


def reaction(user: str, emoji: str = "brain", ts: str = LEARNING_TS) -> dict[str, Any]:
    return {
        "type": "reaction_added",
        "user": user,
        "reaction": emoji,
        "item": {"type": "message", "channel": CHANNEL, "ts": ts},
        "item_user": "UBOT0001",
        "event_ts": "1700000001.000001",
    }


def team_blocks(uow: Callable[..., UnitOfWork], world: World) -> list[int | None]:
    with uow(readonly=True) as u:
        return [
            b.promoted_from_id for b in memory.list_blocks(u.session, world.workspace, tier="team")
        ]


def test_manager_reaction_promotes_the_learning_and_confirms_in_the_thread(
    send: SlackSender, slack: FakeSlack, uow: Callable[..., UnitOfWork], world: World, learning: int
) -> None:
    reply = send.event(reaction(EMEA_MANAGER))

    assert reply.status == 200
    [confirmation] = slack.wait_for("chat.postMessage")
    assert confirmation.args["channel"] == CHANNEL
    assert confirmation.args["thread_ts"] == REPORT_TS
    assert f"Block {learning} promoted to the Team Brain" in confirmation.args["text"]
    assert team_blocks(uow, world) == [learning]


def test_the_same_event_delivered_three_times_promotes_once(
    send: SlackSender,
    slack: FakeSlack,
    uow: Callable[..., UnitOfWork],
    world: World,
    learning: int,
) -> None:
    event = reaction(EMEA_MANAGER)
    with ThreadPoolExecutor(3) as pool:
        replies = list(pool.map(lambda retry: send.event(event, "EvSAME0001", retry), [None, 1, 2]))

    assert [r.status for r in replies] == [200, 200, 200]
    # The event id is recorded with the promotion: a delivery that comes after it is
    # recognised before any listener runs, one at the same time when it writes the id too.
    slack.wait_for("chat.postMessage")
    assert team_blocks(uow, world) == [learning]
    assert len(slack.calls_to("chat.postMessage")) == 1
    assert slack.calls_to("chat.postEphemeral") == []


@pytest.mark.parametrize("user", [MEMBER, AMER_MANAGER])
def test_a_refused_reaction_is_explained_ephemerally_and_changes_nothing(
    send: SlackSender,
    slack: FakeSlack,
    uow: Callable[..., UnitOfWork],
    world: World,
    learning: int,
    user: str,
) -> None:
    send.event(reaction(user))

    [told] = slack.wait_for("chat.postEphemeral")
    assert (told.args["channel"], told.args["user"]) == (CHANNEL, user)
    assert f"may not promote block {learning}" in told.args["text"]
    assert team_blocks(uow, world) == []
    assert slack.calls_to("chat.postMessage") == []
    with uow(readonly=True) as u:
        assert audit.recent(u.session, world.workspace, 1)[0].outcome == "refused"


def test_other_emoji_and_other_messages_are_ignored(
    send: SlackSender, slack: FakeSlack, uow: Callable[..., UnitOfWork], world: World, learning: int
) -> None:
    send.event(reaction(ADMIN, emoji="thumbsup"))
    send.event(reaction(ADMIN, ts="1700000000.999999"))
    # A later event that does something shows the two before it were handled (and ignored).
    send.event(reaction(ADMIN))
    slack.wait_for("chat.postMessage")

    assert team_blocks(uow, world) == [learning]
    assert len(slack.calls_to("chat.postMessage")) == 1


def test_the_promote_emoji_is_a_workspace_setting(
    send: SlackSender, slack: FakeSlack, uow: Callable[..., UnitOfWork], world: World, learning: int
) -> None:
    assert ":star:" in send.command("/brain", "emoji :star:", ADMIN).text
    send.event(reaction(EMEA_MANAGER, emoji="brain"))
    send.event(reaction(EMEA_MANAGER, emoji="star"))

    slack.wait_for("chat.postMessage")
    assert team_blocks(uow, world) == [learning]
    assert "only admins" in send.command("/brain", "emoji fire", EMEA_MANAGER).text
