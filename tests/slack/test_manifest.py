"""manifest.yml creates the app this code serves: its commands, events, scopes and modes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from bot.app import BOT_SCOPES
from bot.listeners.commands.brain import SUBCOMMANDS

MANIFEST = Path(__file__).parents[2] / "manifest.yml"


def manifest() -> dict[str, Any]:
    return dict(yaml.safe_load(MANIFEST.read_text()))


def test_manifest_declares_the_commands_events_scopes_and_home_the_app_serves() -> None:
    app = manifest()
    features, settings = app["features"], app["settings"]

    commands = {c["command"]: c for c in features["slash_commands"]}
    assert set(commands) == {"/coach", "/brain"}
    assert all(c["usage_hint"] and c["description"] for c in commands.values())
    assert all(word in commands["/brain"]["usage_hint"] for word in SUBCOMMANDS if word != "help")
    assert set(settings["event_subscriptions"]["bot_events"]) == {
        "app_home_opened",
        "reaction_added",
        "app_mention",
    }
    assert app["oauth_config"]["scopes"]["bot"] == BOT_SCOPES
    assert features["app_home"]["home_tab_enabled"] is True
    assert features["bot_user"]["display_name"] == "salesbrain"
    assert settings["interactivity"]["is_enabled"] is True
    assert settings["socket_mode_enabled"] is True
