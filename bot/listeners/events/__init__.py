"""Events: reactions that promote, the App Home, the bot joining a channel (mentions:
bot/listeners/assistant.py)."""

from __future__ import annotations

from slack_bolt import App

from bot.listeners.events import channels, home, reactions


def register(app: App) -> None:
    app.event("reaction_added")(reactions.promote_learning)
    app.event("app_home_opened")(home.publish_home)
    app.event("member_joined_channel")(channels.deliver_waiting_reports)
