"""The coaching form: shown by /coach with no text and by the App Home; stored on submit."""

from __future__ import annotations

import json
from typing import Any

from slack_bolt import Ack, BoltContext
from slack_sdk import WebClient

from bot import blocks
from bot.workspace import actor, reader, writer
from core import use_cases
from core.coaching import CoachingNote
from core.errors import DomainError


def show_coach_form(
    client: WebClient,
    context: BoltContext,
    trigger_id: str,
    *,
    agent: str | None = None,
    channel: str | None = None,
) -> None:
    """Open the form (within 3 s of the trigger), with the workspace's agents to choose from."""
    agents = [
        (a.handle, a.display_name) for a in use_cases.agents(reader(context), context.team_id)
    ]
    metadata = {"channel": channel} if channel else {}
    client.views_open(trigger_id=trigger_id, view=blocks.coach_modal(agents, agent, metadata))


def store_coaching(ack: Ack, view: dict[str, Any], context: BoltContext) -> None:
    """Store the note, then show the confirmation in the form's place.

    The work happens before the ack, because the ack carries the result: the confirmation,
    or (through the error handler) the problem next to the field that caused it."""
    values = blocks.coach_modal_values(view)
    origin = json.loads(view.get("private_metadata") or "{}")
    note = CoachingNote(
        values.get("note", ""),
        actor(context),
        agent=values.get("agent", ""),
        type=values.get("type") or "coaching",
        importance=float(values["importance"]) if values.get("importance") else None,
        source_ref=f"slack:coach form {origin.get('channel') or 'home'}",
    )
    [coaching] = use_cases.coach(writer(context), context.team_id, [note])
    if isinstance(coaching, DomainError):
        raise coaching  # shown next to its field by the error handler
    assert coaching is not None  # a form submission carries no delivery to repeat
    ack(response_action="update", view=blocks.coached_modal(blocks.coached(coaching)))
