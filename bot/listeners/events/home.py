"""The App Home: agents, the shared brains, a manager's own coaching, reports not delivered
and memory health."""

from __future__ import annotations

from typing import Any

from slack_bolt import BoltContext
from slack_sdk import WebClient

from bot import health_blocks
from bot.workspace import actor, reader
from core import use_cases


def publish_home(event: dict[str, Any], context: BoltContext, client: WebClient) -> None:
    if event.get("tab", "home") != "home":
        return
    publish(context, client)


def publish(context: BoltContext, client: WebClient, notice: str | None = None) -> None:
    """The Home of the person behind the request, as it is now (with `notice` on top)."""
    home = use_cases.home(reader(context), context.team_id, actor(context))
    client.views_publish(user_id=str(context.user_id), view=health_blocks.home_view(home, notice))
