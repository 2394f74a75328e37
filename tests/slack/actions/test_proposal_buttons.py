"""A director's proposal in Slack: posted with its buttons, approved (a button or the promote
emoji), rejected, retracted, and the refusals, over signed HTTP requests."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.engine import Engine

from bot.app import web_client
from bot.blocks import APPROVE_BUTTON, REJECT_BUTTON, RETRACT_BUTTON
from bot.reports import SlackSink
from core import directory, proposals, use_cases
from core.db import UnitOfWork
from core.heartbeat import outbox
from core.heartbeat.backends import Reasoning
from core.heartbeat.brain import Brain
from core.heartbeat.tools import Toolbox
from core.models import AuditEvent, BlockStatus, BlockType, MemoryBlock, ProposalStatus
from core.permissions import Actor
from tests.conftest import ADMIN, EMEA_MANAGER, MEMBER, World
from tests.cycles import FAST, run_now
from tests.fakes.slack_api import FakeSlack
from tests.fakes.slack_requests import SlackSender
from tests.slack.conftest import BOT_TOKEN, slack_settings

AE_CHANNEL, DIRECTOR_CHANNEL, TS = "C0AE", "C0DIR", "1700000000.000777"
NOTE = "Open healthcare demos with the audit-log walkthrough"

Uow = Callable[..., UnitOfWork]


def _propose(uow: Uow, world: World) -> int:
    """dir-emea's coaching note for ae-emea, posted as the message at (AE_CHANNEL, TS)."""
    with uow() as u:
        workspace = u.workspaces.by_team_id("T0001")
        proposal = proposals.director_coaches(
            u.session, workspace, world.director, "ae-emea", NOTE, evidence="block 4", cycle_id=None
        )
        proposals.remember_message(u.session, workspace, proposal.id, channel=AE_CHANNEL, ts=TS)
        u.commit()
        return proposal.id


def _status(uow: Uow, proposal_id: int) -> ProposalStatus:
    with uow(readonly=True) as u:
        return proposals.get_proposal(
            u.session, u.workspaces.by_team_id("T0001"), proposal_id
        ).status


def _notes(uow: Uow) -> list[MemoryBlock]:
    with uow(readonly=True) as u:
        return list(
            u.session.scalars(select(MemoryBlock).where(MemoryBlock.type == BlockType.COACHING))
        )


def _shown(slack: FakeSlack, name: str) -> dict[str, Any]:
    [answer] = slack.wait_for(f"respond/{name}")
    return answer.args


def _click(send: SlackSender, user: str, button: str, proposal_id: int, **kw: Any) -> str:
    reply = send.message_action(user, button, str(proposal_id), channel=AE_CHANNEL, ts=TS, **kw)
    assert reply.status == 200
    return reply.response_url


def test_a_manager_approves_with_the_button_and_the_message_shows_who_with_a_retract_button(
    send: SlackSender, slack: FakeSlack, uow: Uow, world: World
) -> None:
    proposal_id = _propose(uow, world)

    answer = _shown(slack, _click(send, EMEA_MANAGER, APPROVE_BUTTON, proposal_id))

    assert answer["replace_original"] is True
    text = str(answer["blocks"])
    assert "dir-emea did: coach ae-emea" in text and f"Approved by <@{EMEA_MANAGER}>" in text
    assert RETRACT_BUTTON in text and APPROVE_BUTTON not in text
    [note] = _notes(uow)
    assert (note.agent_id, note.content, note.source_by) == (world.ae.id, NOTE, "dir-emea")
    with uow(readonly=True) as u:
        event = u.session.scalars(
            select(AuditEvent).where(AuditEvent.action == "proposal.approve")
        ).one()
    assert (event.actor, event.origin) == (f"member:{EMEA_MANAGER}", "slack")


def test_a_manager_rejects_and_nothing_is_written(
    send: SlackSender, slack: FakeSlack, uow: Uow, world: World
) -> None:
    proposal_id = _propose(uow, world)

    answer = _shown(slack, _click(send, EMEA_MANAGER, REJECT_BUTTON, proposal_id))

    assert "Rejected: dir-emea's proposal" in str(answer["blocks"])
    assert _status(uow, proposal_id) is ProposalStatus.REJECTED
    assert _notes(uow) == []


def test_retract_archives_a_note_the_director_applied_at_once(
    send: SlackSender, slack: FakeSlack, uow: Uow, world: World
) -> None:
    use_cases.configure_director(uow(), "T0001", Actor.member(ADMIN), autonomy="apply")
    proposal_id = _propose(uow, world)
    [note] = _notes(uow)

    answer = _shown(slack, _click(send, EMEA_MANAGER, RETRACT_BUTTON, proposal_id))

    assert "Retracted: dir-emea's coaching" in str(answer["blocks"])
    assert _status(uow, proposal_id) is ProposalStatus.RETRACTED
    [note] = _notes(uow)
    assert note.status is BlockStatus.ARCHIVED


def test_a_member_who_is_not_a_manager_is_refused_alone_and_nothing_changes(
    send: SlackSender, slack: FakeSlack, uow: Uow, world: World
) -> None:
    proposal_id = _propose(uow, world)

    answer = _shown(slack, _click(send, MEMBER, APPROVE_BUTTON, proposal_id))

    assert answer["response_type"] == "ephemeral" and answer.get("replace_original") is False
    assert f"may not approve proposal {proposal_id}" in answer["text"]
    assert _status(uow, proposal_id) is ProposalStatus.PENDING and _notes(uow) == []
    with uow(readonly=True) as u:
        refused = u.session.scalars(select(AuditEvent).where(AuditEvent.outcome == "refused"))
        assert [(e.actor, e.action) for e in refused] == [(f"member:{MEMBER}", "proposal.approve")]


def test_a_replayed_approve_click_is_told_it_was_done_and_writes_once(
    send: SlackSender, slack: FakeSlack, uow: Uow, world: World
) -> None:
    proposal_id = _propose(uow, world)
    first = _click(send, EMEA_MANAGER, APPROVE_BUTTON, proposal_id)
    _shown(slack, first)

    again = _click(send, EMEA_MANAGER, APPROVE_BUTTON, proposal_id, name=first)

    answers = slack.wait_for(f"respond/{first}", count=2)
    assert "is applied (by member:U0EMEA); it cannot be approved" in answers[1].args["text"]
    assert again == first and len(_notes(uow)) == 1


def test_the_promote_emoji_on_a_proposal_approves_it_and_confirms_in_its_thread(
    send: SlackSender, slack: FakeSlack, uow: Uow, world: World
) -> None:
    proposal_id = _propose(uow, world)
    reaction = {
        "type": "reaction_added",
        "user": EMEA_MANAGER,
        "reaction": "brain",
        "item": {"type": "message", "channel": AE_CHANNEL, "ts": TS},
        "item_user": "UBOT0001",
        "event_ts": "1700000001.000001",
    }

    assert send.event(reaction).status == 200

    [confirmation] = slack.wait_for("chat.postMessage")
    assert (confirmation.args["channel"], confirmation.args["thread_ts"]) == (AE_CHANNEL, TS)
    assert f"approved proposal {proposal_id}: coach ae-emea" in confirmation.args["text"]
    [updated] = slack.wait_for("chat.update")
    assert (updated.args["channel"], updated.args["ts"]) == (AE_CHANNEL, TS)
    assert f"Approved by <@{EMEA_MANAGER}>" in str(updated.args["blocks"])
    assert _status(uow, proposal_id) is ProposalStatus.APPLIED and len(_notes(uow)) == 1


class CoachingDirector:
    """A director that coaches ae-emea, then finishes."""

    name = "coaching"

    def reason(self, brain: Brain, toolbox: Toolbox, *, seconds_left: float) -> Reasoning:
        toolbox.call("coach_agent", {"agent": "ae-emea", "note": NOTE, "evidence": "block 4"})
        toolbox.call("finish_cycle", {"summary": "Coached the AE."})
        return Reasoning(self.name, brain.model)


def test_the_directors_report_posts_the_proposal_in_the_coached_agents_channel_once(
    db_url: str, engine: Engine, slack: FakeSlack, uow: Uow, world: World
) -> None:
    with uow() as u:
        workspace = u.workspaces.by_team_id("T0001")
        directory.update_agent(u.session, workspace, "ae-emea", channel=AE_CHANNEL)
        directory.update_agent(u.session, workspace, "dir-emea", channel=DIRECTOR_CHANNEL)
    cycle = run_now(engine, world.workspace, "dir-emea", CoachingDirector())
    client = web_client(slack_settings(db_url, slack), BOT_TOKEN)
    sink = SlackSink(engine, lambda workspace: client)

    assert outbox.deliver_pending(engine, [sink], FAST, "test").delivered == 1
    assert outbox.deliver_pending(engine, [sink], FAST, "test").delivered == 0

    report, posted = slack.calls_to("chat.postMessage")
    assert report.args["channel"] == DIRECTOR_CHANNEL
    assert posted.args["channel"] == AE_CHANNEL
    shown = str(posted.args["blocks"])
    assert "dir-emea proposes to coach ae-emea* · proposal" in shown
    assert APPROVE_BUTTON in shown and REJECT_BUTTON in shown
    [made] = use_cases.director_proposals(uow(readonly=True), "T0001", "pending")
    assert (made.cycle_id, made.slack_channel) == (cycle["id"], AE_CHANNEL)
    assert made.slack_ts == "1700000000.000002"


@pytest.mark.parametrize("autonomy", ["propose", "apply"])
def test_brain_autonomy_shows_and_changes_the_setting_for_admins_only(
    send: SlackSender, uow: Uow, world: World, autonomy: str
) -> None:
    assert "Autonomy is propose" in send.command("/brain", "autonomy", EMEA_MANAGER).text
    refused = send.command("/brain", f"autonomy {autonomy}", EMEA_MANAGER).text
    assert "only admins may" in refused

    changed = send.command("/brain", f"autonomy {autonomy}", ADMIN).text

    assert f"Autonomy is {autonomy}" in changed
    assert use_cases.director_settings(uow(), "T0001").autonomy.value == autonomy
