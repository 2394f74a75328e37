"""The buttons on a director's proposal: Approve, Reject, Retract. The message then shows
the decision in place; a refusal (not a manager, decided already) goes to the person alone."""

from __future__ import annotations

from typing import Any

from slack_bolt import Ack, BoltContext, Respond

from bot import blocks
from bot.workspace import actor, writer
from core import use_cases


def approve(ack: Ack, action: dict[str, Any], context: BoltContext, respond: Respond) -> None:
    ack()
    decided = use_cases.approve_proposal(
        writer(context), context.team_id, action["value"], actor(context)
    )
    respond(replace_original=True, **blocks.proposal_message(decided, "", str(context.user_id)))


def reject(ack: Ack, action: dict[str, Any], context: BoltContext, respond: Respond) -> None:
    ack()
    decided = use_cases.reject_proposal(
        writer(context), context.team_id, action["value"], actor(context)
    )
    respond(replace_original=True, **blocks.proposal_message(decided, "", str(context.user_id)))


def retract(ack: Ack, action: dict[str, Any], context: BoltContext, respond: Respond) -> None:
    ack()
    decided = use_cases.retract_proposal(
        writer(context), context.team_id, action["value"], actor(context)
    )
    respond(replace_original=True, **blocks.proposal_message(decided, "", str(context.user_id)))
