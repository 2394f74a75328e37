"""Block actions: buttons on the App Home and in reports."""

from __future__ import annotations

from slack_bolt import App

from bot.blocks import COACH_BUTTON
from bot.listeners.actions import coach


def register(app: App) -> None:
    app.action(COACH_BUTTON)(coach.open_coach_form)
