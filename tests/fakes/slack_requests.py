"""Signed requests to the Slack app, as Slack sends them: slash commands, events,
block actions and view submissions, over HTTP to the real server on 127.0.0.1."""

from __future__ import annotations

import itertools
import json
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from slack_sdk.signature import SignatureVerifier

from bot.server import http_server
from tests.fakes.slack_api import FakeSlack

# Ways a request fails Slack's signature check (SlackSender.post's keywords), for
# `pytest.mark.parametrize("forgery", FORGERIES, ids=FORGERY_IDS)`.
FORGERIES: list[dict[str, object]] = [
    {"signed": False},
    {"secret": "not-the-signing-secret"},
    {"timestamp": int(time.time()) - 5 * 60 - 30},  # a replay, older than five minutes
]
FORGERY_IDS = ["unsigned", "wrongly-signed", "replayed"]


@dataclass
class Reply:
    status: int
    body: str
    # For a slash command: the name of its response URL on the fake Slack.
    response_url: str = ""

    def json(self) -> Any:
        return json.loads(self.body)

    @property
    def text(self) -> str:
        """The text of a JSON answer (what Slack shows the person who asked)."""
        return str(self.json().get("text")) if self.body else ""


class SlackSender:
    """Sends what Slack would send, signed with the app's signing secret."""

    def __init__(self, base_url: str, secret: str, slack: FakeSlack, team_id: str = "T0001"):
        self.base_url, self.secret, self.slack, self.team_id = base_url, secret, slack, team_id
        self._ids = itertools.count(1)

    def post(
        self,
        body: str,
        content_type: str,
        *,
        path: str = "/slack/events",
        signed: bool = True,
        secret: str | None = None,
        timestamp: int | None = None,
        headers: dict[str, str] | None = None,
    ) -> Reply:
        sent = {"content-type": content_type, **(headers or {})}
        if signed:
            moment = str(timestamp if timestamp is not None else int(time.time()))
            verifier = SignatureVerifier(secret or self.secret)
            sent["x-slack-request-timestamp"] = moment
            sent["x-slack-signature"] = verifier.generate_signature(timestamp=moment, body=body)
        request = urllib.request.Request(
            self.base_url + path, data=body.encode(), headers=sent, method="POST"
        )
        return _send(request)

    def get(self, path: str, headers: dict[str, str] | None = None) -> Reply:
        return _send(urllib.request.Request(self.base_url + path, headers=headers or {}))

    def command(
        self,
        command: str,
        text: str,
        user: str,
        channel: str = "C0001",
        *,
        name: str | None = None,
        **signing: Any,
    ) -> Reply:
        """A slash command; returns the ack. Given the `name` of an earlier command, the same
        command again (its trigger id and response URL), as Slack would retry it."""
        name = name or f"r{next(self._ids)}"
        form = {
            "token": "unused",
            "team_id": self.team_id,
            "team_domain": "acme",
            "channel_id": channel,
            "channel_name": "sales",
            "user_id": user,
            "user_name": user.lower(),
            "command": command,
            "text": text,
            "api_app_id": "A0001",
            "response_url": self.slack.response_url(name),
            "trigger_id": f"trigger-{name}",
        }
        reply = self.post(urlencode(form), "application/x-www-form-urlencoded", **signing)
        reply.response_url = name
        return reply

    def shown(self, reply: Reply, timeout: float = 5.0) -> str:
        """What the person who sent a command sees: the text of its ack, else (the work
        followed the ack) the first message posted to its response URL, ephemeral."""
        if reply.body:
            return reply.text
        [first, *_] = self.slack.wait_for(f"respond/{reply.response_url}", timeout=timeout)
        assert first.args.get("response_type") == "ephemeral", first.args
        return str(first.args.get("text"))

    def event(
        self, event: dict[str, Any], event_id: str | None = None, retry: int | None = None
    ) -> Reply:
        body = {
            "token": "unused",
            "team_id": self.team_id,
            "api_app_id": "A0001",
            "type": "event_callback",
            "event_id": event_id or f"Ev{next(self._ids):08d}",
            "event_time": int(time.time()),
            "authorizations": [{"team_id": self.team_id, "user_id": "UBOT0001", "is_bot": True}],
            "event": event,
        }
        headers = {"x-slack-retry-num": str(retry), "x-slack-retry-reason": "http_timeout"}
        return self.post(
            json.dumps(body), "application/json", headers=headers if retry is not None else None
        )

    def interaction(self, payload: dict[str, Any]) -> Reply:
        payload = {"team": {"id": self.team_id, "domain": "acme"}, "api_app_id": "A0001", **payload}
        form = urlencode({"payload": json.dumps(payload)})
        return self.post(form, "application/x-www-form-urlencoded")

    def action(self, user: str, action_id: str, value: str) -> Reply:
        return self.interaction(
            {
                "type": "block_actions",
                "user": {"id": user, "team_id": self.team_id},
                "trigger_id": f"trigger-a{next(self._ids)}",
                "container": {"type": "view", "view_id": "V0001"},
                "view": {"id": "V0001", "type": "home", "callback_id": ""},
                "actions": [
                    {"type": "button", "action_id": action_id, "block_id": "b", "value": value}
                ],
            }
        )

    def message_action(
        self,
        user: str,
        action_id: str,
        value: str,
        *,
        channel: str,
        ts: str,
        name: str | None = None,
    ) -> Reply:
        """A button on a message in a channel; its response URL is named `name` (given the
        name of an earlier click, the same click again, as a replayed request would be)."""
        name = name or f"a{next(self._ids)}"
        reply = self.interaction(
            {
                "type": "block_actions",
                "user": {"id": user, "team_id": self.team_id},
                "trigger_id": f"trigger-{name}",
                "container": {"type": "message", "channel_id": channel, "message_ts": ts},
                "channel": {"id": channel, "name": "sales"},
                "message": {"type": "message", "ts": ts, "text": ""},
                "response_url": self.slack.response_url(name),
                "actions": [
                    {"type": "button", "action_id": action_id, "block_id": "b", "value": value}
                ],
            }
        )
        reply.response_url = name
        return reply

    def submit(self, user: str, view: dict[str, Any], values: dict[str, str]) -> Reply:
        """Submit a modal with `values` (block id -> entered or chosen value)."""
        state = {}
        for block in view["blocks"]:
            if block["type"] != "input":
                continue
            kind = block["element"]["type"]
            value = values.get(block["block_id"])
            if kind == "static_select":
                chosen = {"value": value} if value is not None else None
                entry = {"type": kind, "selected_option": chosen}
            else:
                entry = {"type": kind, "value": value}
            state[block["block_id"]] = {"value": entry}
        submitted = {**view, "id": "V0002", "state": {"values": state}}
        return self.interaction(
            {
                "type": "view_submission",
                "user": {"id": user, "team_id": self.team_id},
                "trigger_id": f"trigger-v{next(self._ids)}",
                "view": submitted,
            }
        )


def _send(request: urllib.request.Request) -> Reply:
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return Reply(response.status, response.read().decode())
    except urllib.error.HTTPError as error:
        return Reply(error.code, error.read().decode())


@contextmanager
def running(web_app: Any) -> Iterator[str]:
    """Serve an ASGI app with uvicorn on a free port of 127.0.0.1; yields its base URL."""
    server = http_server(web_app, "127.0.0.1", 0)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the HTTP server did not start")
        time.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
