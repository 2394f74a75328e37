"""`/coach @agent <note>`: coaching on the agent's Personal Brain; no text opens the form."""

from __future__ import annotations

from typing import Any

from slack_bolt import Ack, BoltContext
from slack_sdk import WebClient

from bot.coaching import CoachingQueue, Note
from bot.listeners.views.coach import show_coach_form
from bot.workspace import COACHING

# How long an ack waits for its note to be stored when the queue is full; past it, the
# confirmation follows through the response URL (Slack waits 3 s for the ack).
STORE_NOW_SECONDS = 2.0


def coach_command(
    ack: Ack, command: dict[str, Any], context: BoltContext, client: WebClient
) -> None:
    """Acknowledged at once: the note is stored after the ack and the person told through the
    response URL. When too many notes wait, the note is stored ahead of them before the ack,
    which then carries the confirmation (or what is wrong)."""
    if not (command.get("text") or "").strip():
        ack()
        show_coach_form(client, context, command["trigger_id"], channel=command.get("channel_id"))
        return
    note = Note.from_command(command, context)
    coaching: CoachingQueue = context[COACHING]
    if coaching.offer(note):
        ack()
        return
    reply = coaching.store_now(note, timeout=STORE_NOW_SECONDS)
    if reply is None:
        ack()  # a repeated delivery, or a slow store: the confirmation follows
    else:
        ack(response_type="ephemeral", **reply)
