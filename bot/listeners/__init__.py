"""Slack listeners: thin entrypoints that parse, call one core service, and render."""

from __future__ import annotations

from slack_bolt import App

from bot.listeners import actions, commands, errors, events, views


def register_listeners(app: App) -> None:
    """Wire every listener, and the one error handler, into the app."""
    commands.register(app)
    events.register(app)
    actions.register(app)
    views.register(app)
    errors.register(app)
