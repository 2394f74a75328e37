"""View submissions: the coaching form."""

from __future__ import annotations

from slack_bolt import App

from bot.blocks import COACH_MODAL
from bot.listeners.views import coach


def register(app: App) -> None:
    app.view(COACH_MODAL)(coach.store_coaching)
