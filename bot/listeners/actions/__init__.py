"""Block actions: buttons on the App Home, in reports and on directors' proposals."""

from __future__ import annotations

from slack_bolt import App

from bot.blocks import APPROVE_BUTTON, COACH_BUTTON, REJECT_BUTTON, RETRACT_BUTTON
from bot.health_blocks import HEALTH_ACTIONS
from bot.listeners.actions import coach, health, proposals


def register(app: App) -> None:
    app.action(COACH_BUTTON)(coach.open_coach_form)
    app.action(APPROVE_BUTTON)(proposals.approve)
    app.action(REJECT_BUTTON)(proposals.reject)
    app.action(RETRACT_BUTTON)(proposals.retract)
    for action_id in HEALTH_ACTIONS.values():
        app.action(action_id)(health.tidy)
