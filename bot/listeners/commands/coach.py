"""`/coach @agent <note>`: coaching on the agent's Personal Brain; no text opens the form."""

from __future__ import annotations

from typing import Any

from slack_bolt import Ack, BoltContext
from slack_sdk import WebClient

from bot import blocks
from bot.listeners.views.coach import show_coach_form
from bot.workspace import actor, use_case
from core import chat


def coach_command(
    ack: Ack, command: dict[str, Any], context: BoltContext, client: WebClient
) -> None:
    """The note is stored before the ack, which carries the confirmation: a few milliseconds
    of work, and a refusal reaches the person in the same answer (via the error handler)."""
    text = command.get("text") or ""
    if not text.strip():
        ack()
        show_coach_form(client, context, command["trigger_id"], channel=command.get("channel_id"))
        return
    with use_case(context) as (session, workspace):
        block, agent = chat.coach_from_chat(
            session,
            workspace,
            text,
            by=actor(context),
            source_ref=f"slack:/coach {command.get('channel_id', '')}".strip(),
        )
        reply = blocks.coached(
            block.id, agent.handle, block.type.value, block.importance, agent.next_run_at
        )
    ack(response_type="ephemeral", **reply)
