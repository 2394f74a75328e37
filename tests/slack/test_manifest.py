"""manifest.yml creates the app this code serves: its commands, events, scopes and modes."""

from __future__ import annotations

import ast
import json
from pathlib import Path
from typing import Any

import jsonschema
import yaml
from slack_sdk import WebClient

from bot.app import BOT_SCOPES
from bot.listeners.commands.brain import SUBCOMMANDS
from core.ask import EXAMPLES

ROOT = Path(__file__).parents[2]
MANIFEST = ROOT / "manifest.yml"
SCHEMA = ROOT / "tests" / "data" / "slack-manifest-schema" / "manifest.schema.1.0.0.json"

# The bot scopes each Web API method and event needs (api.slack.com/methods, /events).
# A method the code calls that is missing here fails the test below: look its scope up.
METHOD_SCOPES: dict[str, set[str]] = {
    "auth_test": set(),
    "chat_postEphemeral": {"chat:write"},
    "chat_postMessage": {"chat:write"},
    "chat_update": {"chat:write"},
    "conversations_history": {"channels:history", "groups:history"},
    "conversations_replies": {"channels:history", "groups:history"},
    # files_upload_v2 calls these two (and POSTs the bytes to the URL the first returns).
    "files_completeUploadExternal": {"files:write"},
    "files_getUploadURLExternal": {"files:write"},
    "files_upload_v2": {"files:write"},
    "users_info": {"users:read"},
    "views_open": set(),
    "views_publish": set(),
}
# Methods Bolt's Assistant calls for the app (set_status, set_suggested_prompts, say with
# the thread's context, save_thread_context), not found in salesbrain's own source. In the
# app's direct messages, conversations.replies needs im:history.
CALLED_BY_BOLT_ASSISTANT: dict[str, set[str]] = {
    "assistant_threads_setStatus": {"assistant:write"},
    "assistant_threads_setSuggestedPrompts": {"assistant:write"},
    "chat_update": {"chat:write"},
    "conversations_replies (im)": {"im:history"},
}
EVENT_SCOPES: dict[str, set[str]] = {
    "app_home_opened": set(),
    "app_mention": {"app_mentions:read"},
    "reaction_added": {"reactions:read"},
    "assistant_thread_started": {"assistant:write"},
    "assistant_thread_context_changed": {"assistant:write"},
    "message.im": {"im:history"},
    # One scope per channel type (public, private), like the history methods.
    "member_joined_channel": {"channels:read", "groups:read"},
}


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
        "assistant_thread_started",
        "assistant_thread_context_changed",
        "message.im",
        "member_joined_channel",
    }
    assert {p["message"] for p in features["assistant_view"]["suggested_prompts"]} == set(EXAMPLES)
    assert app["oauth_config"]["scopes"]["bot"] == BOT_SCOPES
    assert features["app_home"]["home_tab_enabled"] is True
    assert features["bot_user"]["display_name"] == "salesbrain"
    assert settings["interactivity"]["is_enabled"] is True
    assert settings["socket_mode_enabled"] is True


def test_manifest_is_valid_against_slacks_own_schema() -> None:
    schema = json.loads(SCHEMA.read_text())
    errors = sorted(
        jsonschema.Draft7Validator(schema).iter_errors(manifest()), key=lambda e: list(e.path)
    )
    assert not errors, [f"{'/'.join(map(str, e.path))}: {e.message}" for e in errors]


def _web_api_methods_called() -> set[str]:
    """Every WebClient method the app's code calls, found in its source."""
    methods = {name for name in dir(WebClient) if not name.startswith("_")}
    called = set()
    for path in [*(ROOT / "bot").rglob("*.py"), *(ROOT / "core").rglob("*.py")]:
        for node in ast.walk(ast.parse(path.read_text())):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr in methods
                and "_" in node.func.attr
            ):
                called.add(node.func.attr)
    return called


def test_manifest_asks_for_the_scopes_the_code_uses_and_no_others() -> None:
    app = manifest()
    called = _web_api_methods_called()
    assert called, "no Web API call found: the search for them is broken"
    unknown = called - set(METHOD_SCOPES)
    assert not unknown, f"add the scope of {sorted(unknown)} to METHOD_SCOPES"
    needed = {"commands"}  # the slash commands
    for method in called:
        needed |= METHOD_SCOPES[method]
    for scopes in CALLED_BY_BOLT_ASSISTANT.values():
        needed |= scopes
    for event in app["settings"]["event_subscriptions"]["bot_events"]:
        needed |= EVENT_SCOPES[event]
    # conversations.history/replies need one scope per channel type (public, private): both.
    assert set(app["oauth_config"]["scopes"]["bot"]) == needed
