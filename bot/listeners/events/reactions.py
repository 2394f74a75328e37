"""The promote emoji on a learning of a cycle report promotes it to the agent's Team Brain."""

from __future__ import annotations

from typing import Any

from slack_bolt import BoltContext
from slack_sdk import WebClient

from bot import blocks
from bot.workspace import actor, use_case
from core import chat
from core.models import Team


def promote_learning(event: dict[str, Any], context: BoltContext, client: WebClient) -> None:
    """Reactions on other messages, and other emoji, are ignored; a refusal is explained to
    the person who reacted (by the error handler)."""
    item = event.get("item") or {}
    if item.get("type") != "message":
        return
    with use_case(context) as (session, workspace):
        outcome = chat.promote_by_reaction(
            session,
            workspace,
            channel=item["channel"],
            ts=item["ts"],
            emoji=event.get("reaction", ""),
            by=actor(context),
        )
        if outcome is None:
            return
        promoted, message = outcome
        team = session.get(Team, promoted.team_id) if promoted.team_id else None
        reply = blocks.promoted(
            message.block_id, promoted.id, promoted.tier.value, team.slug if team else None
        )
    client.chat_postMessage(
        channel=item["channel"],
        thread_ts=message.thread_ts or item["ts"],
        text=f"<@{context.user_id}> promoted this learning. {reply['text']}",
    )
