"""/coach through Slack: stores coaching as the Slack user, answers ephemerally."""

from __future__ import annotations

from collections.abc import Callable

from core import memory
from core.db import UnitOfWork
from tests.conftest import ADMIN, EMEA_MANAGER, MEMBER, World
from tests.fakes.slack_api import FakeSlack
from tests.fakes.slack_requests import SlackSender


def _blocks(uow: Callable[..., UnitOfWork], world: World) -> list[tuple[str, str | None, str]]:
    with uow(readonly=True) as u:
        found = memory.list_blocks(u.session, world.workspace, status=None)
        return [(b.content, b.source_by, b.type.value) for b in found]


def test_manager_coaches_an_agent_by_handle_and_is_told_the_block_and_who_it_reaches(
    send: SlackSender, uow: Callable[..., UnitOfWork], world: World
) -> None:
    reply = send.command(
        "/coach", "@sdr-emea Lead with compliance angle for healthcare CTOs", EMEA_MANAGER
    )

    assert reply.status == 200
    assert reply.json()["response_type"] == "ephemeral"
    text = reply.text
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

    assert "ae-emea's Personal Brain" in reply.text
    assert _blocks(uow, world)[0][0] == "Ask for the budget owner early"


def test_unknown_agent_is_one_line_listing_the_known_agents_and_stores_nothing(
    send: SlackSender, uow: Callable[..., UnitOfWork], world: World
) -> None:
    reply = send.command("/coach", "@sdr-nowhere Be brief", EMEA_MANAGER)

    text = reply.text
    assert "agent 'sdr-nowhere' not found" in text
    assert "sdr-emea" in text and "ae-emea" in text
    assert "\n" not in text
    assert _blocks(uow, world) == []


def test_empty_and_oversized_notes_are_refused(
    send: SlackSender, uow: Callable[..., UnitOfWork], world: World
) -> None:
    empty = send.command("/coach", "@sdr-emea   ", EMEA_MANAGER)
    huge = send.command("/coach", "@sdr-emea " + "x" * 4001, EMEA_MANAGER)

    assert empty.text == "note: is empty"
    assert huge.text == "note: is 4,001 characters; the limit is 4,000"
    assert _blocks(uow, world) == []


def test_a_member_may_not_coach_and_nothing_is_stored(
    send: SlackSender, uow: Callable[..., UnitOfWork], world: World
) -> None:
    reply = send.command("/coach", "@sdr-emea Push harder", MEMBER)

    assert "may not coach sdr-emea" in reply.text
    assert _blocks(uow, world) == []


def test_a_manager_of_another_team_may_not_coach(
    send: SlackSender, uow: Callable[..., UnitOfWork], world: World
) -> None:
    reply = send.command("/coach", "@sdr-amer Push harder", EMEA_MANAGER)

    assert "may not coach sdr-amer" in reply.text
    assert _blocks(uow, world) == []


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
