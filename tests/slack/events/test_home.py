"""The App Home: agents with their schedule, the shared brains, a manager's coaching."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

from sqlalchemy.engine import Engine

from core import memory
from core.coaching import coach_one
from core.db import UnitOfWork
from core.models import Agent
from core.permissions import Actor
from core.signals import import_signals
from tests.conftest import ADMIN, EMEA_MANAGER, MEMBER, World
from tests.fakes.slack_api import FakeSlack
from tests.fakes.slack_requests import SlackSender
from tests.slack.conftest import sdr_learning
from tests.test_coaching_impact import HEADER, NOTE_AT, coach_sdr, sdr_cycle, send_rows


def home_text(view: dict[str, Any]) -> str:
    parts = []
    for block in view["blocks"]:
        if block["type"] in ("section", "header"):
            parts.append(block["text"]["text"])
        elif block["type"] == "context":
            parts.extend(e["text"] for e in block["elements"])
    return "\n".join(parts)


def open_home(send: SlackSender, slack: FakeSlack, user: str) -> dict[str, Any]:
    send.event({"type": "app_home_opened", "user": user, "channel": "D0001", "tab": "home"})
    [published] = slack.wait_for("views.publish", where=lambda c: c.args["user_id"] == user)
    return dict(published.args["view"])


def test_a_managers_home_shows_agents_brains_and_how_often_their_coaching_informed_cycles(
    send: SlackSender, slack: FakeSlack, uow: Callable[..., UnitOfWork], world: World
) -> None:
    with uow() as u:
        note = coach_one(
            u.session,
            world.workspace,
            "sdr-emea",
            "Lead with compliance",
            by=Actor.member(EMEA_MANAGER),
        )
        note.times_surfaced = 23
        learning = sdr_learning(u.session, world, "Tuesdays work")
        memory.promote(u.session, world.workspace, learning.id, "team", by=Actor.member(ADMIN))
        memory.write_company(
            u.session, world.workspace, "We sell to hospitals", by=Actor.member(ADMIN)
        )

    view = open_home(send, slack, EMEA_MANAGER)
    text = home_text(view)

    assert view["type"] == "home" and len(view["blocks"]) <= 100
    assert "*sdr-emea*" in text and "*dir-amer*" in text and "open tasks 0" in text
    assert "next run" in text
    assert "Tuesdays work" in text and "We sell to hospitals" in text
    assert "Your coaching" in text and "informed 23 cycles" in text
    buttons = [b["accessory"]["value"] for b in view["blocks"] if "accessory" in b]
    assert "sdr-emea" in buttons


def test_a_members_home_has_no_coaching_and_no_coach_buttons(
    send: SlackSender, slack: FakeSlack
) -> None:
    view = open_home(send, slack, MEMBER)

    assert "Your coaching" not in home_text(view)
    assert not any("accessory" in b for b in view["blocks"])


def test_a_slack_admin_seen_for_the_first_time_is_an_admin(
    send: SlackSender, slack: FakeSlack
) -> None:
    slack.users["U0OWNER"] = {"is_owner": True, "real_name": "Olivia Owner"}
    slack.users["U0PLAIN"] = {"real_name": "Pat Plain"}

    assert "You are admin here" in home_text(open_home(send, slack, "U0OWNER"))
    assert "You are member here" in home_text(open_home(send, slack, "U0PLAIN"))
    assert {c.args["user"] for c in slack.calls_to("users.info")} == {"U0OWNER", "U0PLAIN"}


def test_home_shows_an_agent_whose_model_was_retired_with_the_upgrade_command(
    send: SlackSender, slack: FakeSlack, uow: Callable[..., UnitOfWork], world: World
) -> None:
    with uow() as u:
        # The fixture table retired claude-2.1 on 2025-07-21: true whatever today's date.
        u.session.get_one(Agent, world.sdr.id).model = "claude-2.1"

    text = home_text(open_home(send, slack, EMEA_MANAGER))

    assert (
        "sdr-emea runs on claude-2.1, which was retired on 2025-07-21, so its cycles fail: "
        "upgrade with `salesbrain agent set sdr-emea --model claude-sonnet-5-5`"
    ) in text


def test_a_managers_coaching_shows_the_reply_rate_of_sends_written_with_each_note(
    send: SlackSender,
    slack: FakeSlack,
    engine: Engine,
    uow: Callable[..., UnitOfWork],
    world: World,
) -> None:
    note = coach_sdr(uow, "Lead with the compliance angle when you write to healthcare CTOs.")
    cycles = [sdr_cycle(uow, world, NOTE_AT + timedelta(days=d), [note]) for d in (1, 2)]
    rows = [HEADER.strip()]
    send_rows(rows, "old", 300, NOTE_AT - timedelta(days=20), 0.02, [None])
    send_rows(rows, "new", 300, NOTE_AT + timedelta(days=1), 0.12, cycles)
    import_signals(engine, "T0001", [row + "\n" for row in rows])

    text = home_text(open_home(send, slack, EMEA_MANAGER))

    coaching = text[text.index("Your coaching") :]
    assert "reply rate with it" in coaching and "before it" in coaching
    assert "With the note: better than before it." in coaching
