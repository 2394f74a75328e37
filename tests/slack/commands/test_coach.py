"""/coach through Slack: acknowledged at once; the note is stored as the Slack user after the
ack and the person told, ephemerally, through the command's response URL."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import select
from sqlalchemy.engine import Engine

from bot.after_ack import Traffic
from bot.app import create_app
from bot.intake import CommandIntake
from bot.listeners.commands.coach import CoachingQueue, coaching_queue, take_from_intake
from bot.server import create_web_app
from core import memory
from core.db import UnitOfWork
from core.models import AuditEvent
from tests.conftest import ADMIN, EMEA_MANAGER, MEMBER, World
from tests.fakes.slack_api import FakeSlack
from tests.fakes.slack_requests import SlackSender, running
from tests.slack.conftest import SIGNING_SECRET, slack_settings

NOTE = "@sdr-emea Lead with compliance angle for healthcare CTOs"


def _blocks(uow: Callable[..., UnitOfWork], world: World) -> list[tuple[str, str | None, str]]:
    with uow(readonly=True) as u:
        found = memory.list_blocks(u.session, world.workspace, status=None)
        return [(b.content, b.source_by, b.type.value) for b in found]


def test_the_ack_is_immediate_and_empty_and_the_confirmation_follows_ephemerally(
    send: SlackSender, slack: FakeSlack, uow: Callable[..., UnitOfWork], world: World
) -> None:
    reply = send.command("/coach", NOTE, EMEA_MANAGER)

    assert (reply.status, reply.body) == (200, "")
    [confirmation] = slack.wait_for(f"respond/{reply.response_url}")
    assert confirmation.args["response_type"] == "ephemeral"
    assert confirmation.args["replace_original"] is False
    text = confirmation.args["text"]
    [(content, by, kind)] = _blocks(uow, world)
    assert content == "Lead with compliance angle for healthcare CTOs"
    assert (by, kind) == (EMEA_MANAGER, "coaching")
    assert "Stored block" in text and "sdr-emea's Personal Brain" in text
    assert "reaches sdr-emea only" in text


def test_coach_finds_the_agent_by_display_name(
    send: SlackSender, uow: Callable[..., UnitOfWork], world: World
) -> None:
    with uow() as u:
        agent = u.session.merge(world.ae)
        agent.display_name = "Alex Morgan"
    reply = send.command("/coach", "@Alex Morgan Ask for the budget owner early", ADMIN)

    assert "ae-emea's Personal Brain" in send.shown(reply)
    assert _blocks(uow, world)[0][0] == "Ask for the budget owner early"


def test_unknown_agent_is_one_line_listing_the_known_agents_and_stores_nothing(
    send: SlackSender, uow: Callable[..., UnitOfWork], world: World
) -> None:
    text = send.shown(send.command("/coach", "@sdr-nowhere Be brief", EMEA_MANAGER))

    assert "agent 'sdr-nowhere' not found" in text
    assert "sdr-emea" in text and "ae-emea" in text
    assert "\n" not in text
    assert _blocks(uow, world) == []


def test_empty_and_oversized_notes_are_refused(
    send: SlackSender, uow: Callable[..., UnitOfWork], world: World
) -> None:
    empty = send.command("/coach", "@sdr-emea   ", EMEA_MANAGER)
    huge = send.command("/coach", "@sdr-emea " + "x" * 4001, EMEA_MANAGER)

    assert send.shown(empty) == "note: is empty"
    assert send.shown(huge) == "note: is 4,001 characters; the limit is 4,000"
    assert _blocks(uow, world) == []


def test_a_member_may_not_coach_and_nothing_is_stored(
    send: SlackSender, uow: Callable[..., UnitOfWork], world: World
) -> None:
    reply = send.command("/coach", "@sdr-emea Push harder", MEMBER)

    assert "may not coach sdr-emea" in send.shown(reply)
    assert _blocks(uow, world) == []
    with uow(readonly=True) as u:
        refused = u.session.scalars(select(AuditEvent).where(AuditEvent.outcome == "refused"))
        assert [(e.actor, e.action) for e in refused] == [(f"member:{MEMBER}", "coach")]


def test_a_manager_of_another_team_may_not_coach(
    send: SlackSender, uow: Callable[..., UnitOfWork], world: World
) -> None:
    reply = send.command("/coach", "@sdr-amer Push harder", EMEA_MANAGER)

    assert "may not coach sdr-amer" in send.shown(reply)
    assert _blocks(uow, world) == []


def test_notes_sent_at_once_are_each_stored_once_and_confirmed_with_a_block_of_their_own(
    send: SlackSender, uow: Callable[..., UnitOfWork], world: World
) -> None:
    notes = [f"Note {n}: ask about the renewal date" for n in range(40)]
    with ThreadPoolExecutor(10) as pool:
        replies = list(
            pool.map(lambda note: send.command("/coach", f"@sdr-emea {note}", EMEA_MANAGER), notes)
        )

    confirmations = [send.shown(reply) for reply in replies]
    block_ids = {re.search(r"Stored block (\d+) ", text) for text in confirmations}
    assert len({match.group(1) for match in block_ids if match}) == len(notes)
    assert sorted(content for content, _, _ in _blocks(uow, world)) == sorted(notes)


def test_a_command_delivered_twice_stores_its_note_once_and_confirms_it_once(
    send: SlackSender,
    slack: FakeSlack,
    coaching: CoachingQueue,
    uow: Callable[..., UnitOfWork],
    world: World,
) -> None:
    first = send.command("/coach", NOTE, EMEA_MANAGER)
    again = send.command("/coach", NOTE, EMEA_MANAGER, name=first.response_url)

    assert again.status == 200
    assert coaching.join()
    assert len(_blocks(uow, world)) == 1
    assert len(slack.responses(first.response_url)) == 1


def test_a_confirmation_slack_fails_to_take_is_posted_again_and_the_note_stored_once(
    send: SlackSender, slack: FakeSlack, uow: Callable[..., UnitOfWork], world: World
) -> None:
    slack.fail("respond/r1", 500, times=1)
    reply = send.command("/coach", NOTE, EMEA_MANAGER)

    failed, posted = slack.wait_for("respond/r1", count=2)
    assert failed.args["_failed"] == 500 and "_failed" not in posted.args
    assert "Stored block" in posted.args["text"]
    assert reply.response_url == "r1" and len(_blocks(uow, world)) == 1


@pytest.fixture
def send_when_full(
    db_url: str, engine: Engine, slack: FakeSlack, world: World
) -> Iterator[SlackSender]:
    """The app with no room for notes after the ack: each stays in the intake."""
    app = create_app(slack_settings(db_url, slack), engine, coaching=coaching_queue(engine, 0))
    with running(create_web_app(app, engine)) as url:
        yield SlackSender(url, SIGNING_SECRET, slack)


def test_when_the_queue_is_full_the_ack_is_immediate_and_a_sweep_stores_the_note_once(
    send_when_full: SlackSender,
    engine: Engine,
    slack: FakeSlack,
    uow: Callable[..., UnitOfWork],
    world: World,
) -> None:
    reply = send_when_full.command("/coach", NOTE, EMEA_MANAGER)
    again = send_when_full.command("/coach", NOTE, EMEA_MANAGER, name=reply.response_url)

    assert (reply.status, reply.body) == (200, "")  # the ack waits for no store
    assert (again.status, again.body) == (200, "")
    assert _blocks(uow, world) == []
    # Another process's sweep (its lease lapsed at once: the note is free for anyone).
    elsewhere = CommandIntake(engine, lease_seconds=30, sweep_seconds=1)
    coaching = coaching_queue(engine)
    take_from_intake(elsewhere, coaching)
    assert elsewhere.sweep() == 1
    assert coaching.join()
    assert elsewhere.sweep() == 0

    [(content, by, _)] = _blocks(uow, world)
    assert (content, by) == ("Lead with compliance angle for healthcare CTOs", EMEA_MANAGER)
    [confirmation] = slack.wait_for(f"respond/{reply.response_url}")
    assert "Stored block" in confirmation.args["text"]
    coaching.close()


def test_the_server_counts_its_requests_in_flight_for_the_notes_that_wait_their_turn(
    db_url: str, engine: Engine, slack: FakeSlack, uow: Callable[..., UnitOfWork], world: World
) -> None:
    traffic = Traffic(defer=3600)  # the note waits for no request in flight, however long
    coaching = coaching_queue(engine, traffic=traffic)
    app = create_app(slack_settings(db_url, slack), engine, coaching=coaching)
    with running(create_web_app(app, engine, traffic=traffic)) as url:
        reply = SlackSender(url, SIGNING_SECRET, slack).command("/coach", NOTE, EMEA_MANAGER)

        [confirmation] = slack.wait_for(f"respond/{reply.response_url}")
    coaching.close()

    assert traffic.in_flight == 0
    assert "Stored block" in confirmation.args["text"]
    assert len(_blocks(uow, world)) == 1


def test_coach_with_no_text_opens_the_form_with_the_agents(
    send: SlackSender, slack: FakeSlack
) -> None:
    reply = send.command("/coach", "", EMEA_MANAGER)

    assert (reply.status, reply.body) == (200, "")
    [opened] = slack.wait_for("views.open")
    assert opened.args["trigger_id"] == f"trigger-{reply.response_url}"
    view = opened.args["view"]
    agent_field = next(b for b in view["blocks"] if b["block_id"] == "agent")
    assert {o["value"] for o in agent_field["element"]["options"]} >= {"sdr-emea", "ae-emea"}
    assert [b["block_id"] for b in view["blocks"]] == ["agent", "type", "importance", "note"]
