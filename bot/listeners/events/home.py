"""The App Home: agents, the shared brains, and a manager's own coaching."""

from __future__ import annotations

from typing import Any

from slack_bolt import BoltContext
from slack_sdk import WebClient

from bot import blocks
from bot.workspace import actor, use_case
from core.home import home_for


def publish_home(event: dict[str, Any], context: BoltContext, client: WebClient) -> None:
    if event.get("tab", "home") != "home":
        return
    with use_case(context, readonly=True) as (session, workspace):
        view = blocks.home_view(home_for(session, workspace, actor(context)))
    client.views_publish(user_id=str(context.user_id), view=view)
