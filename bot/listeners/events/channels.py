"""salesbrain joined a channel: the reports that waited for it go out, in order."""

from __future__ import annotations

from typing import Any

from slack_bolt import BoltContext

from bot.workspace import DELIVERY, writer
from core import use_cases


def deliver_waiting_reports(event: dict[str, Any], context: BoltContext) -> None:
    """Someone else joining is no news; the bot joining releases the channel's reports (the
    heartbeat runner's delivery, every few seconds, posts them)."""
    if not context.bot_user_id or event.get("user") != context.bot_user_id:
        return
    use_cases.channel_joined(
        writer(context), str(context.team_id), str(event.get("channel")), context.get(DELIVERY)
    )
