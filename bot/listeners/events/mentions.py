"""A mention of the bot: where to find the commands."""

from __future__ import annotations

from typing import Any

from slack_sdk import WebClient


def point_to_commands(event: dict[str, Any], client: WebClient) -> None:
    client.chat_postMessage(
        channel=event["channel"],
        thread_ts=event.get("thread_ts") or event["ts"],
        text="I keep the agents' memory. `/coach @agent <note>` coaches one; "
        "`/brain help` lists the rest.",
    )
