"""/brain through Slack: each subcommand maps to one core service; errors are one line."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from core import audit, directory, memory
from core.coaching import coach_one
from core.db import UnitOfWork
from core.models import MemberRole, Tier
from core.permissions import Actor
from tests.conftest import ADMIN, AMER_MANAGER, EMEA_MANAGER, GLOBEX_ADMIN, MEMBER, World
from tests.fakes.slack_api import FakeSlack
from tests.fakes.slack_requests import SlackSender
from tests.slack.conftest import sdr_learning


def _learning(uow: Callable[..., UnitOfWork], world: World) -> int:
    with uow() as u:
        return sdr_learning(u.session, world, "Question-style subject lines open at 41% vs 24%").id


def test_help_lists_every_subcommand(send: SlackSender, slack: FakeSlack) -> None:
    reply = send.command("/brain", "help", MEMBER)
    text = reply.json()["blocks"][0]["text"]["text"]
    for word in ("promote", "forget", "refresh", "company", "task", "role", "/coach"):
        assert word in text
    assert reply.json()["response_type"] == "ephemeral"


def test_agents_lists_the_workspaces_agents_only(send: SlackSender, slack: FakeSlack) -> None:
    reply = send.command("/brain", "agents", MEMBER)
    shown = " ".join(b["text"]["text"] for b in reply.json()["blocks"] if b["type"] == "section")
    assert "sdr-emea" in shown and "dir-amer" in shown
    assert shown.count("*sdr-emea*") == 1  # Globex's sdr-emea is another workspace's


def test_manager_promotes_to_their_team_brain(
    send: SlackSender, uow: Callable[..., UnitOfWork], world: World
) -> None:
    block_id = _learning(uow, world)
    reply = send.command("/brain", f"promote {block_id}", EMEA_MANAGER)

    assert "promoted to the Team Brain" in reply.text
    assert "every agent of team emea" in reply.text
    with uow(readonly=True) as u:
        [team_block] = memory.list_blocks(u.session, world.workspace, tier="team")
        assert team_block.promoted_from_id == block_id


@pytest.mark.parametrize(
    ("user", "words", "refusal"),
    [
        (MEMBER, "promote {id}", "may not promote"),
        (AMER_MANAGER, "promote {id}", "may not promote"),
        (EMEA_MANAGER, "promote {id} company", "only admins may"),
    ],
)
def test_promotion_refusals_store_nothing_and_are_audited(
    send: SlackSender,
    uow: Callable[..., UnitOfWork],
    world: World,
    user: str,
    words: str,
    refusal: str,
) -> None:
    block_id = _learning(uow, world)
    reply = send.command("/brain", words.format(id=block_id), user)

    assert refusal in reply.text
    with uow(readonly=True) as u:
        assert memory.list_blocks(u.session, world.workspace, tier="team") == []
        assert memory.list_blocks(u.session, world.workspace, tier="company") == []
        [event] = audit.recent(u.session, world.workspace, 1)
        assert (event.outcome, event.origin, event.actor) == ("refused", "slack", f"member:{user}")


def test_forget_archives_and_company_writes_company_knowledge(
    send: SlackSender, uow: Callable[..., UnitOfWork], world: World
) -> None:
    block_id = _learning(uow, world)
    forgot = send.command("/brain", f"forget {block_id}", ADMIN)
    wrote = send.command("/brain", "company We never discount above 15%", ADMIN)
    refused = send.command("/brain", "company Discount freely", EMEA_MANAGER)

    assert f"Block {block_id} archived" in forgot.text
    assert "Company Brain" in wrote.text
    assert "may not write to the company brain" in refused.text
    with uow(readonly=True) as u:
        [company] = memory.list_blocks(u.session, world.workspace, tier=Tier.COMPANY.value)
        assert company.content == "We never discount above 15%"
        assert memory.get_block(u.session, world.workspace, block_id).status.value == "archived"


def test_refresh_brings_a_team_copy_up_to_date_for_a_manager_and_refuses_a_member(
    send: SlackSender, uow: Callable[..., UnitOfWork], world: World
) -> None:
    block_id = _learning(uow, world)
    with uow() as u:
        copy = memory.promote(
            u.session, world.workspace, block_id, "team", by=Actor.agent("dir-emea")
        )
        # What analysis does to a finding's block: new numbers, in place.
        original = memory.get_block(u.session, world.workspace, block_id)
        original.content = "Question-style subject lines open at 44% vs 23% <now>"
    copy_id = copy.id

    refused = send.command("/brain", f"refresh {copy_id}", MEMBER)
    refreshed = send.command("/brain", f"refresh {copy_id}", EMEA_MANAGER)
    again = send.command("/brain", f"refresh {copy_id}", EMEA_MANAGER)
    missing = send.command("/brain", "refresh", EMEA_MANAGER)

    assert "may not promote" in refused.text
    assert refreshed.text == (
        f"Block {copy_id} now says what block {block_id} says: "
        "Question-style subject lines open at 44% vs 23% &lt;now&gt;"
    )
    assert again.text == f"block {copy_id} already says what block {block_id} says"
    assert missing.text == "block: give a block id: /brain refresh 12"
    with uow(readonly=True) as u:
        team_copy = memory.get_block(u.session, world.workspace, copy_id)
        assert team_copy.content == "Question-style subject lines open at 44% vs 23% <now>"


def test_task_for_an_agent_by_a_manager_and_refused_for_a_member(
    send: SlackSender, uow: Callable[..., UnitOfWork], world: World
) -> None:
    given = send.command("/brain", "task @sdr-emea Follow up with Northwind", EMEA_MANAGER)
    refused = send.command("/brain", "task @sdr-emea Spam everyone", MEMBER)

    assert "for sdr-emea" in given.text
    assert "may not give sdr-emea a task" in refused.text
    with uow(readonly=True) as u:
        from core.tasks import list_tasks

        assert [t.title for t in list_tasks(u.session, world.workspace)] == [
            "Follow up with Northwind"
        ]


def test_admin_sets_a_role_and_a_manager_may_not(
    send: SlackSender, uow: Callable[..., UnitOfWork], world: World
) -> None:
    set_ = send.command("/brain", "role <@U0NEWBIE|newbie> manager emea", ADMIN)
    refused = send.command("/brain", "role <@U0NEWBIE|newbie> admin", EMEA_MANAGER)

    assert set_.text == "<@U0NEWBIE> is now manager of emea."
    assert "may not set roles" in refused.text
    with uow(readonly=True) as u:
        member = directory.get_member(u.session, world.workspace, "U0NEWBIE")
        assert member is not None and member.role is MemberRole.MANAGER


def test_unknown_subcommand_names_the_known_ones(send: SlackSender) -> None:
    reply = send.command("/brain", "frobnicate now", MEMBER)
    text = reply.text
    assert text.startswith("/brain: unknown command 'frobnicate'")
    assert "promote" in text and "\n" not in text


def test_show_lists_the_agents_top_blocks_with_their_score_components(
    send: SlackSender, uow: Callable[..., UnitOfWork], world: World
) -> None:
    with uow() as u:
        note = coach_one(
            u.session,
            world.workspace,
            "sdr-emea",
            "Lead with compliance angle for healthcare CTOs",
            by=Actor.member(EMEA_MANAGER),
        )
        coach_one(
            u.session, world.workspace, "sdr-amer", "Another team's note", by=Actor.member(ADMIN)
        )
    reply = send.command("/brain", "show @sdr-emea Draft outreach to a hospital CTO", MEMBER)

    sections = [b["text"]["text"] for b in reply.json()["blocks"] if b["type"] == "section"]
    assert len(sections) == 1
    assert sections[0].startswith(f"*1.* block {note.id} · personal · coaching · *")
    assert "importance 0.90 · recency 1.00 · relevance 1.00" in sections[0]
    assert "Lead with compliance angle" in sections[0]


def test_nothing_crosses_workspaces(
    send: SlackSender, uow: Callable[..., UnitOfWork], world: World
) -> None:
    block_id = _learning(uow, world)
    globex = SlackSender(send.base_url, send.secret, send.slack, team_id="T0002")

    promote = globex.command("/brain", f"promote {block_id} company", GLOBEX_ADMIN)
    forget = globex.command("/brain", f"forget {block_id}", GLOBEX_ADMIN)
    refresh = globex.command("/brain", f"refresh {block_id}", GLOBEX_ADMIN)
    coach = globex.command("/coach", "@ae-emea Sell harder", GLOBEX_ADMIN)

    assert promote.text == forget.text == refresh.text == f"block {block_id} not found"
    assert globex.shown(coach).startswith("agent 'ae-emea' not found; agents: sdr-emea")
    with uow(readonly=True) as u:
        assert memory.get_block(u.session, world.workspace, block_id).status.value == "active"
        assert memory.list_blocks(u.session, world.other_workspace) == []
