"""The App Home's Coach button opens the coaching form for that agent."""

from __future__ import annotations

from tests.conftest import EMEA_MANAGER
from tests.fakes.slack_api import FakeSlack
from tests.fakes.slack_requests import SlackSender


def test_coach_button_opens_the_form_with_the_agent_chosen(
    send: SlackSender, slack: FakeSlack
) -> None:
    reply = send.action(EMEA_MANAGER, "coach_agent", "ae-emea")

    assert reply.status == 200
    [opened] = slack.wait_for("views.open")
    agent = next(b for b in opened.args["view"]["blocks"] if b["block_id"] == "agent")
    assert agent["element"]["initial_option"]["value"] == "ae-emea"
