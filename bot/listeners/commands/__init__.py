"""Slash commands: /coach and /brain."""

from __future__ import annotations

from slack_bolt import App

from bot.listeners.commands import brain, coach


def register(app: App) -> None:
    app.command(coach.COMMAND)(coach.coach_command)
    app.command("/brain")(brain.brain_command)
