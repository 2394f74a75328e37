"""How Slack reaches the app: signed HTTP, Socket Mode and OAuth installs; how the app
reaches Slack: through rate limits and server errors; and what it logs."""

from __future__ import annotations

import http.client
import logging
from collections.abc import Callable

import pytest
from sqlalchemy import func, select
from sqlalchemy.engine import Engine

from bot.app import create_app
from bot.installation_store import bots
from bot.server import create_web_app
from core import memory
from core.db import UnitOfWork
from core.models import Workspace
from tests.conftest import EMEA_MANAGER, MEMBER, World
from tests.fakes.slack_api import FakeSlack
from tests.fakes.slack_requests import FORGERIES, FORGERY_IDS, SlackSender, running
from tests.slack.conftest import (
    APP_TOKEN,
    BOT_TOKEN,
    SIGNING_SECRET,
    over_socket_mode,
    slack_settings,
)

COACH = "@sdr-emea Lead with compliance angle"


def stored(uow: Callable[..., UnitOfWork], world: World) -> int:
    with uow(readonly=True) as u:
        return len(memory.list_blocks(u.session, world.workspace))


@pytest.mark.parametrize("forgery", FORGERIES, ids=FORGERY_IDS)
def test_unverified_requests_get_401_and_change_nothing(
    send: SlackSender, uow: Callable[..., UnitOfWork], world: World, forgery: dict[str, object]
) -> None:
    reply = send.command("/coach", COACH, EMEA_MANAGER, **forgery)

    assert reply.status == 401
    assert stored(uow, world) == 0
    assert "Stored block" in send.shown(send.command("/coach", COACH, EMEA_MANAGER))
    assert stored(uow, world) == 1


def test_an_oversized_body_is_refused_unread(send: SlackSender) -> None:
    # The length announced is what is checked: the server answers before reading a byte.
    host, port = send.base_url.removeprefix("http://").split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=10)
    connection.putrequest("POST", "/slack/events")
    connection.putheader("content-length", "2000000")
    connection.endheaders()
    assert connection.getresponse().status == 413


def test_healthz_answers_when_the_database_does(send: SlackSender) -> None:
    reply = send.get("/healthz")
    assert (reply.status, reply.json()) == (200, {"ok": True})


def test_one_log_line_per_request_names_command_workspace_latency_outcome_and_no_secret(
    send: SlackSender, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    send.command("/coach", COACH, EMEA_MANAGER)
    send.command("/coach", COACH, EMEA_MANAGER, signed=False)
    send.command("/brain", "company Always lead with ROI", EMEA_MANAGER)  # admins only
    send.command("/brain", "show @nobody", EMEA_MANAGER)

    lines = [r.getMessage() for r in caplog.records if r.name == "salesbrain.requests"]
    assert len(lines) == 4
    assert '"asked": "/coach"' in lines[0] and '"workspace": "T0001"' in lines[0]
    assert '"outcome": "ok"' in lines[0] and '"latency_ms":' in lines[0]
    assert '"status": 401' in lines[1] and '"outcome": "rejected"' in lines[1]
    assert '"status": 200' in lines[2] and '"outcome": "refused"' in lines[2]
    assert '"outcome": "not_found"' in lines[3]
    everything = "\n".join(r.getMessage() for r in caplog.records)
    assert BOT_TOKEN not in everything and SIGNING_SECRET not in everything


def test_rate_limits_are_waited_out_and_server_errors_retried(
    send: SlackSender, slack: FakeSlack
) -> None:
    slack.fail("views.publish", 429, times=1, retry_after=1)
    send.event({"type": "app_home_opened", "user": MEMBER, "channel": "D1", "tab": "home"})

    first, second = slack.wait_for("views.publish", count=2, timeout=10)
    assert first.args["_failed"] == 429 and "_failed" not in second.args
    assert second.at - first.at >= 0.9  # Retry-After: 1 was honoured

    slack.fail("chat.postMessage", 500, times=1)
    send.event({"type": "app_mention", "user": MEMBER, "channel": "C1", "ts": "1.2", "text": "hi"})
    assert [c.args.get("_failed") for c in slack.wait_for("chat.postMessage", 2)] == [500, None]


def test_a_failing_users_info_leaves_the_person_a_member_and_is_asked_again(
    send: SlackSender, slack: FakeSlack, uow: Callable[..., UnitOfWork], world: World
) -> None:
    slack.users["U0OWNER"] = {"is_owner": True}
    slack.fail("users.info", 429, times=1, retry_after=30)

    refused = send.command("/brain", "company Be kind", "U0OWNER")
    allowed = send.command("/brain", "company Be kind", "U0OWNER")

    assert "may not write to the company brain" in refused.text  # not waited 30 s for Slack
    assert "Company Brain" in allowed.text
    assert [c.args.get("_failed") for c in slack.calls_to("users.info")] == [429, None]


def test_socket_mode_slash_command_round_trip(
    db_url: str, engine: Engine, slack: FakeSlack, uow: Callable[..., UnitOfWork], world: World
) -> None:
    with over_socket_mode(db_url, engine, slack) as socket:
        ack = socket.deliver(
            "slash_commands",
            {
                "team_id": "T0001",
                "user_id": EMEA_MANAGER,
                "channel_id": "C0001",
                "command": "/coach",
                "text": COACH,
                "response_url": slack.response_url("socket"),
                "trigger_id": "t",
            },
        )
        [confirmation] = slack.wait_for("respond/socket")

    assert "payload" not in ack  # acknowledged at once, empty; the confirmation follows
    assert confirmation.args["response_type"] == "ephemeral"
    assert "sdr-emea's Personal Brain" in confirmation.args["text"]
    assert stored(uow, world) == 1
    [opened] = slack.calls_to("apps.connections.open")
    assert opened.token == APP_TOKEN


def test_oauth_install_creates_the_workspace_and_its_token_answers_its_requests(
    db_url: str, engine: Engine, slack: FakeSlack, world: World
) -> None:
    settings = slack_settings(
        db_url,
        slack,
        SLACK_BOT_TOKEN="",
        SLACK_CLIENT_ID="111.222",
        SLACK_CLIENT_SECRET="shh-oauth",
    )
    slack.installation = {
        "access_token": "xoxb-initech-token",
        "token_type": "bot",
        "scope": "commands,chat:write",
        "bot_user_id": "UBOTNEW",
        "app_id": "A0001",
        "team": {"id": "T0NEW", "name": "Initech"},
        "enterprise": None,
        "authed_user": {"id": "U0INSTALLER"},
        "is_enterprise_install": False,
    }
    app = create_app(settings, engine)
    with running(create_web_app(app, engine)) as url:
        send = SlackSender(url, SIGNING_SECRET, slack, team_id="T0NEW")
        page = send.get("/slack/install")
        assert page.status == 200 and "oauth/v2/authorize" in page.body
        state = page.body.split("state=")[1].split('"')[0].split("&")[0]
        cookie = f"slack-app-oauth-state={state}"
        done = send.get(f"/slack/oauth_redirect?code=c0de&state={state}", {"cookie": cookie})
        assert done.status == 200, done.body

        slack.team_id = "T0NEW"  # auth.test now speaks for the installed token's workspace
        reply = send.command("/brain", "agents", "U0INSTALLER")

    assert reply.status == 200 and "No agents yet" in reply.text
    assert slack.calls_to("oauth.v2.access")[0].args["code"] == "c0de"
    assert "xoxb-initech-token" in {c.token for c in slack.calls_to("auth.test")}
    with UnitOfWork(engine, readonly=True) as u:
        workspace = u.session.scalar(select(Workspace).where(Workspace.slack_team_id == "T0NEW"))
        assert workspace is not None and workspace.name == "Initech"
        assert u.session.scalar(select(func.count()).select_from(bots)) == 1
