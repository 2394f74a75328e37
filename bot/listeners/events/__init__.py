"""Events: reactions that promote, the App Home, mentions of the bot, the bot joining a
channel."""

from __future__ import annotations

from slack_bolt import App

from bot.listeners.events import channels, home, mentions, reactions


def register(app: App) -> None:
    app.event("reaction_added")(reactions.promote_learning)
    app.event("app_home_opened")(home.publish_home)
    app.event("app_mention")(mentions.point_to_commands)
    app.event("member_joined_channel")(channels.deliver_waiting_reports)
