"""The App Home's memory health buttons: archive, refresh or merge, then the Home again."""

from __future__ import annotations

from typing import Any

from slack_bolt import Ack, BoltContext
from slack_sdk import WebClient

from bot import blocks
from bot.health_blocks import HEALTH_ACTIONS
from bot.listeners.events.home import publish
from bot.workspace import actor, writer
from core import use_cases
from core.errors import DomainError
from core.health import ARCHIVE, MERGE

REASON = "memory health: archived from the App Home"


def tidy(ack: Ack, action: dict[str, Any], context: BoltContext, client: WebClient) -> None:
    """A click on the Home tab has no channel or response URL to tell a refusal in: the
    republished Home carries the one line (what was done, or why not)."""
    ack()
    value, by, uow = str(action.get("value") or ""), actor(context), writer(context)
    try:
        if action["action_id"] == HEALTH_ACTIONS[ARCHIVE]:
            block = use_cases.archive(uow, context.team_id, value, by, reason=REASON)
            notice = f"Block {block.id} archived."
        elif action["action_id"] == HEALTH_ACTIONS[MERGE]:
            keep, _, drop = value.partition(":")
            block = use_cases.merge(uow, context.team_id, keep, drop, by)
            notice = f"Block {drop} merged into block {block.id}."
        else:
            block = use_cases.refresh(uow, context.team_id, value, by)
            notice = f"Block {block.id} refreshed from its original."
    except DomainError as error:
        notice = blocks.error_text(error)
    publish(context, client, notice)
