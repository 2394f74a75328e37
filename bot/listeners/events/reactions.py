"""The promote emoji on a learning of a cycle report promotes it to the agent's Team Brain;
on a director's proposal it approves the proposal."""

from __future__ import annotations

from typing import Any

from slack_bolt import BoltContext
from slack_sdk import WebClient

from bot import blocks
from bot.workspace import DELIVERY, actor, writer
from core import use_cases
from core.proposals import ProposalView


def promote_learning(event: dict[str, Any], context: BoltContext, client: WebClient) -> None:
    """Reactions on other messages, and other emoji, are ignored; a refusal is explained to
    the person who reacted (by the error handler). The event id is recorded with the
    promotion (bot/workspace.py RECORDED_WITH_WRITES)."""
    item = event.get("item") or {}
    if item.get("type") != "message":
        return
    outcome = use_cases.promote_by_reaction(
        writer(context),
        str(context.team_id),
        channel=item["channel"],
        ts=item["ts"],
        emoji=event.get("reaction", ""),
        by=actor(context),
        delivery=context.get(DELIVERY),
    )
    if outcome is None:
        return
    if isinstance(outcome, ProposalView):
        # The proposal's message shows the decision (and Retract) instead of its buttons.
        client.chat_update(
            channel=item["channel"],
            ts=item["ts"],
            **blocks.proposal_message(outcome, "", str(context.user_id)),
        )
        client.chat_postMessage(
            channel=item["channel"],
            thread_ts=item["ts"],
            text=f"<@{context.user_id}> approved proposal {outcome.id}: {outcome.summary}.",
        )
        return
    promoted, thread_ts = outcome
    reply = blocks.promoted(
        promoted.original_id, promoted.block.id, promoted.block.tier.value, promoted.team
    )
    client.chat_postMessage(
        channel=item["channel"],
        thread_ts=thread_ts or item["ts"],
        text=f"<@{context.user_id}> promoted this learning. {reply['text']}",
    )
