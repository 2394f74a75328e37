"""What the listeners read from Slack's payloads, checked once, before any of them runs.

A request signed with the app's secret but not of the shape Slack sends (a reaction whose
item has no channel, a form whose view has no type, a team id that is a number) is
acknowledged and ignored with one log line. It is a bug at Slack's end or a request forged
with the secret, and a listener written for Slack's shape would fail on it half-way, after
reading who asked and perhaps answering them.

Checked as Bolt's App dispatches a request (HTTP and Socket Mode alike), before Bolt's own
middleware reads the payload.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from slack_bolt import App, BoltRequest, BoltResponse

from bot.workspace import OUTCOME

log = logging.getLogger("salesbrain.slack")


def _json_object(value: Any) -> bool:
    """Text holding a JSON object (a form's private metadata, which we wrote)."""
    if not isinstance(value, str):
        return False
    if not value:
        return True
    try:
        return isinstance(json.loads(value), dict)
    except (ValueError, RecursionError):
        return False


def _number_text(value: Any) -> bool:
    """Text holding a finite number (a form's chosen importance)."""
    try:
        return isinstance(value, str) and float(value) == float(value) and abs(float(value)) < 1e9
    except ValueError:
        return False


@dataclass(frozen=True)
class Short:
    """Text of 1 to `limit` characters: an id of Slack's we store (an event id, a trigger id)."""

    limit: int

    def __call__(self, value: Any) -> bool:
        return isinstance(value, str) and 0 < len(value) <= self.limit

    def __str__(self) -> str:
        return f"text of at most {self.limit} characters"


# Event and trigger ids are remembered (core.models.EventDelivery.event_id, VARCHAR(100)) to handle
# each delivery once; a trigger id is remembered with a prefix.
DELIVERY_ID = Short(90)

Check = type | tuple[type, ...] | Callable[[Any], bool]
# Paths into the payload (keys and list indexes between dots; `*` is every element) and
# what each must be. A path ending in `?` may be absent (or null).
Shape = Mapping[str, Check]

SHAPES: dict[str, Shape] = {
    "command": {
        "command": str,
        "text?": str,
        "trigger_id": DELIVERY_ID,
        "channel_id": str,
        "user_id": str,
        "response_url": str,
    },
    "url_verification": {"challenge": str},
    "event_callback": {"event": dict, "event.type": str, "event_id?": DELIVERY_ID},
    "event:reaction_added": {"event.item": dict, "event.item.type?": str, "event.reaction?": str},
    "reaction on a message": {"event.item.channel": str, "event.item.ts": str},
    "event:app_mention": {
        "event.channel": str,
        "event.ts": str,
        "event.thread_ts?": str,
        "event.text?": str,
        "event.user_team?": str,
    },
    "event:app_home_opened": {"event.tab?": str},
    # What Bolt's Assistant and the answer read (bot/listeners/assistant.py).
    "event:assistant_thread_started": {
        "event.assistant_thread": dict,
        "event.assistant_thread.channel_id": str,
        "event.assistant_thread.thread_ts": str,
        "event.assistant_thread.context?": dict,
    },
    "event:assistant_thread_context_changed": {
        "event.assistant_thread": dict,
        "event.assistant_thread.channel_id": str,
        "event.assistant_thread.thread_ts": str,
        "event.assistant_thread.context": dict,
    },
    "event:message": {"event.channel?": str, "event.thread_ts?": str, "event.text?": str},
    "block_actions": {
        "trigger_id": str,
        "user": dict,
        "user.id": str,
        "actions": list,
        "actions.*": dict,
        "actions.*.action_id": str,
        "actions.*.value?": str,
    },
    "view_submission": {
        "trigger_id?": str,
        "user": dict,
        "user.id": str,
        "view": dict,
        "view.type": str,
        "view.callback_id": str,
        "view.private_metadata?": _json_object,
        "view.state?": dict,
        "view.state.values?": dict,
        "view.state.values.*": dict,
        "view.state.values.*.*": dict,
        "view.state.values.*.*.value?": str,
        "view.state.values.*.*.selected_option?": dict,
        "view.state.values.*.*.selected_option.value?": str,
        "view.state.values.importance.value.selected_option.value?": _number_text,
    },
}
# Slack's ids (team, user, channel): letters and digits, well within the columns they go in.
SLACK_ID = re.compile(r"[A-Za-z0-9]{1,32}")
ABSENT = object()


class ShapeCheckedApp(App):
    """Bolt's App, which acknowledges and ignores a payload not of Slack's shape before Bolt
    itself, a middleware or a listener reads it (Bolt's own argument injection reads
    `view.type` of every view submission, for one)."""

    def dispatch(self, req: BoltRequest) -> BoltResponse:
        problem = malformation(req.body, req.context)
        if problem is None:
            return super().dispatch(req)
        log.warning("ignored a malformed request: %s", problem)
        req.context[OUTCOME] = "malformed"
        return BoltResponse(status=200, body="")


def malformation(body: dict[str, Any], context: Mapping[str, Any]) -> str | None:
    """What is wrong with a payload's shape, in one line; None when nothing is."""
    for name in ("team_id", "user_id", "channel_id"):
        value = context.get(name)
        if value is not None and not (isinstance(value, str) and SLACK_ID.fullmatch(value)):
            return f"{name} is not a Slack id"
    for kind in _kinds(body):
        for path, check in SHAPES[kind].items():
            problem = _check(body, path, check)
            if problem is not None:
                return f"{kind}: {problem}"
    return None


def _kinds(body: dict[str, Any]) -> Iterator[str]:
    if "command" in body:
        yield "command"
        return
    kind = body.get("type")
    if kind not in SHAPES:
        return
    yield kind
    event = body.get("event")
    if kind != "event_callback" or not isinstance(event, dict):
        return
    name = f"event:{event.get('type')}"
    if name in SHAPES:
        yield name
    item = event.get("item")
    if name == "event:reaction_added" and isinstance(item, dict) and item.get("type") == "message":
        yield "reaction on a message"


def _check(body: dict[str, Any], path: str, check: Check) -> str | None:
    optional = path.endswith("?")
    keys = path.rstrip("?").split(".")
    for where, value in _found(body, keys, ""):
        if value is ABSENT or value is None:
            if not optional:
                return f"{where} is missing"
        elif not _passes(value, check):
            return f"{where} is {type(value).__name__}, not {_name(check)}"
    return None


def _found(node: Any, keys: list[str], where: str) -> Iterator[tuple[str, Any]]:
    """The values at a path (several through `*`; ABSENT where a key is missing)."""
    if not keys:
        yield where.lstrip("."), node
        return
    key, rest = keys[0], keys[1:]
    if key == "*":
        children = node.items() if isinstance(node, dict) else enumerate(node)
        if isinstance(node, dict | list):
            for name, child in children:
                yield from _found(child, rest, f"{where}.{name}")
        return
    if isinstance(node, dict) and key in node:
        yield from _found(node[key], rest, f"{where}.{key}")
    elif node is not ABSENT and node is not None and not isinstance(node, dict | list):
        return  # an earlier rule names the wrong type of the node above
    else:
        yield f"{where}.{key}".lstrip("."), ABSENT


def _passes(value: Any, check: Check) -> bool:
    if isinstance(check, type | tuple):
        return isinstance(value, check) and not isinstance(value, bool)
    return check(value)


def _name(check: Check) -> str:
    if isinstance(check, Short):
        return str(check)
    if isinstance(check, type):
        return check.__name__
    if isinstance(check, tuple):
        return " or ".join(c.__name__ for c in check)
    return (check.__doc__ or check.__name__).split("(")[0].strip().rstrip(".")
