"""`/coach @agent <note>`: coaching on the agent's Personal Brain; no text opens the form."""

from __future__ import annotations

from typing import Any

from slack_bolt import Ack, BoltContext
from slack_sdk import WebClient

from bot.coaching import Note, store
from bot.listeners.views.coach import show_coach_form
from bot.workspace import COACHING, ENGINE

# How long an ack waits for room on a full queue: a slower ack, still far inside Slack's
# 3 s, whose note is then stored with the others rather than in a transaction of its own.
ROOM_WAIT_SECONDS = 1.0


def coach_command(
    ack: Ack, command: dict[str, Any], context: BoltContext, client: WebClient
) -> None:
    """Acknowledged at once: the note is stored after the ack and the person told through the
    response URL. When too many notes wait, the ack waits for room; failing that, the note is
    stored before the ack, which then carries the confirmation (or, through the error
    handler, what is wrong)."""
    if not (command.get("text") or "").strip():
        ack()
        show_coach_form(client, context, command["trigger_id"], channel=command.get("channel_id"))
        return
    note = Note.from_command(command, context)
    if context[COACHING].offer(note, wait=ROOM_WAIT_SECONDS):
        ack()
        return
    reply = store(context[ENGINE], note)
    if reply is None:
        ack()  # a repeated delivery: the first one is confirmed
    else:
        ack(response_type="ephemeral", **reply)
