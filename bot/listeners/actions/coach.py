"""The App Home's Coach button: the coaching form for that agent."""

from __future__ import annotations

from typing import Any

from slack_bolt import Ack, BoltContext
from slack_sdk import WebClient

from bot.listeners.views.coach import show_coach_form


def open_coach_form(
    ack: Ack, body: dict[str, Any], action: dict[str, Any], context: BoltContext, client: WebClient
) -> None:
    ack()
    show_coach_form(client, context, body["trigger_id"], agent=action.get("value"))
