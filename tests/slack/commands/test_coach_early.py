"""/coach with text over HTTP, acknowledged before Bolt's dispatch once the process knows the
person (bot/listeners/commands/coach.py `EarlyCoach`): held in the intake and confirmed once,
as through Bolt's listener, with the same answers; anything else still goes through Bolt.

Which path answered is seen from a global middleware the test adds to the Bolt app: Bolt runs
it for every request it dispatches, and the early path dispatches none."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy.engine import Engine

from bot.after_ack import AfterAck, Traffic
from bot.app import create_app
from bot.intake import CommandIntake
from bot.listeners.commands.coach import CoachingQueue, coaching_queue, take_from_intake
from bot.server import create_web_app
from core import clock, memory
from core.db import UnitOfWork
from tests.conftest import EMEA_MANAGER, World
from tests.fakes.slack_api import FakeSlack
from tests.fakes.slack_requests import FORGERIES, FORGERY_IDS, Reply, SlackSender, running
from tests.slack.conftest import SIGNING_SECRET, over_socket_mode, slack_settings
from tests.slack.test_acknowledged_commands import all_done, intake_rows
from tests.slack.test_database_away import writes_fail

NOTE = "@sdr-emea Lead with compliance angle for healthcare CTOs"
INTERNAL = "salesbrain could not do that: an internal error (the details are in its log)"


@dataclass
class Served:
    """The app over HTTP, and the texts of the commands Bolt dispatched."""

    send: SlackSender
    through_bolt: list[str]

    def known(self) -> None:
        """A request of the person through Bolt: authorised and enrolled, now known."""
        assert self.send.command("/brain", "help", EMEA_MANAGER).status == 200
        assert self.through_bolt == ["help"]


def recorded(app: Any) -> list[str]:
    """The text of every command Bolt dispatches from now on."""
    seen: list[str] = []

    @app.middleware
    def record(body: dict[str, Any], next: Callable[[], None]) -> None:
        seen.append(str(body.get("text")))
        next()

    return seen


@contextmanager
def serving(
    db_url: str, engine: Engine, slack: FakeSlack, coaching: CoachingQueue, **settings: str
) -> Iterator[Served]:
    app = create_app(slack_settings(db_url, slack, **settings), engine, coaching=coaching)
    through_bolt = recorded(app)
    with running(create_web_app(app, engine)) as url:
        yield Served(SlackSender(url, SIGNING_SECRET, slack), through_bolt)


@pytest.fixture
def served(
    db_url: str, engine: Engine, slack: FakeSlack, world: World, coaching: CoachingQueue
) -> Iterator[Served]:
    with serving(db_url, engine, slack, coaching) as app:
        yield app


def blocks(uow: Callable[..., UnitOfWork], world: World) -> list[str]:
    with uow(readonly=True) as u:
        return [b.content for b in memory.list_blocks(u.session, world.workspace, status=None)]


def test_a_known_persons_coach_is_acknowledged_before_bolt_stored_once_and_confirmed_once(
    served: Served,
    slack: FakeSlack,
    coaching: CoachingQueue,
    uow: Callable[..., UnitOfWork],
    world: World,
) -> None:
    served.known()
    reply = served.send.command("/coach", NOTE, EMEA_MANAGER)

    assert (reply.status, reply.body) == (200, "")  # what Bolt's ack() answers
    assert served.through_bolt == ["help"]
    [confirmation] = slack.wait_for(f"respond/{reply.response_url}")
    assert confirmation.args["response_type"] == "ephemeral"
    assert "Stored block" in confirmation.args["text"]
    assert "sdr-emea's Personal Brain" in confirmation.args["text"]
    assert blocks(uow, world) == ["Lead with compliance angle for healthcare CTOs"]
    assert coaching.join()
    assert len(slack.responses(reply.response_url)) == 1
    assert all_done(uow)


def test_a_persons_first_coach_goes_through_bolt_and_the_next_ones_before_it(
    served: Served, slack: FakeSlack, uow: Callable[..., UnitOfWork], world: World
) -> None:
    first = served.send.command("/coach", "@sdr-emea First note", EMEA_MANAGER)
    second = served.send.command("/coach", "@sdr-emea Second note", EMEA_MANAGER)

    assert served.through_bolt == ["@sdr-emea First note"]
    assert "Stored block" in served.send.shown(first)
    assert "Stored block" in served.send.shown(second)
    assert sorted(blocks(uow, world)) == ["First note", "Second note"]


def test_a_retried_coach_on_the_early_path_is_held_once_stored_once_and_confirmed_once(
    served: Served,
    slack: FakeSlack,
    coaching: CoachingQueue,
    uow: Callable[..., UnitOfWork],
    world: World,
) -> None:
    served.known()
    first = served.send.command("/coach", NOTE, EMEA_MANAGER)
    again = served.send.command("/coach", NOTE, EMEA_MANAGER, name=first.response_url)

    assert (again.status, again.body) == (200, "")
    assert served.through_bolt == ["help"]
    assert coaching.join()
    assert len(blocks(uow, world)) == 1
    assert len(slack.responses(first.response_url)) == 1
    assert len(intake_rows(uow)) == 1


def test_coach_without_text_from_a_known_person_still_opens_the_form_through_bolt(
    served: Served, slack: FakeSlack
) -> None:
    served.known()
    reply = served.send.command("/coach", "  ", EMEA_MANAGER)

    assert (reply.status, reply.body) == (200, "")
    assert served.through_bolt == ["help", "  "]
    [opened] = slack.wait_for("views.open")
    assert opened.args["trigger_id"] == f"trigger-{reply.response_url}"


@pytest.mark.parametrize("forgery", FORGERIES, ids=FORGERY_IDS)
def test_a_forged_or_stale_coach_of_a_known_person_is_refused_before_anything_is_held(
    served: Served, uow: Callable[..., UnitOfWork], world: World, forgery: dict[str, object]
) -> None:
    served.known()
    reply = served.send.command("/coach", NOTE, EMEA_MANAGER, **forgery)

    assert reply.status == 401
    assert intake_rows(uow) == []
    assert blocks(uow, world) == []


def test_when_the_queue_is_full_an_early_coach_is_acknowledged_and_left_to_the_sweep(
    db_url: str,
    engine: Engine,
    slack: FakeSlack,
    uow: Callable[..., UnitOfWork],
    world: World,
) -> None:
    full = coaching_queue(engine, capacity=0)
    with serving(db_url, engine, slack, full) as app:
        app.known()
        reply = app.send.command("/coach", NOTE, EMEA_MANAGER)
        assert app.through_bolt == ["help"]

    assert (reply.status, reply.body) == (200, "")
    [row] = intake_rows(uow)
    assert row.done_at is None and row.claimed_until <= clock.now()  # free for any sweep
    elsewhere = CommandIntake(engine, lease_seconds=30, sweep_seconds=1)
    coaching = coaching_queue(engine)
    take_from_intake(elsewhere, coaching)
    assert elsewhere.sweep() == 1
    assert coaching.join()
    coaching.close()
    assert blocks(uow, world) == ["Lead with compliance angle for healthcare CTOs"]
    [confirmation] = slack.wait_for(f"respond/{reply.response_url}")
    assert "Stored block" in confirmation.args["text"]


def _twice(served: Served, text: str) -> tuple[Reply, Reply]:
    """The same /coach of a person the process does not know yet: through Bolt, then early."""
    through_bolt = served.send.command("/coach", text, EMEA_MANAGER)
    early = served.send.command("/coach", text, EMEA_MANAGER)
    assert served.through_bolt == [text]
    return through_bolt, early


def test_a_database_away_during_the_hold_is_the_same_one_line_ack_on_either_path(
    served: Served,
    engine: Engine,
    uow: Callable[..., UnitOfWork],
    world: World,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="salesbrain.requests")
    with writes_fail(engine):  # the person is a member already: enrolling only reads
        through_bolt, early = _twice(served, NOTE)

    assert (early.status, early.body) == (through_bolt.status, through_bolt.body)
    assert early.status == 200 and early.json() == {"response_type": "ephemeral", "text": INTERNAL}
    assert intake_rows(uow) == [] and blocks(uow, world) == []
    lines = [r.getMessage() for r in caplog.records if r.name == "salesbrain.requests"]
    assert len(lines) == 2 and all('"outcome": "failed"' in line for line in lines)


def test_a_nul_in_the_note_is_the_same_one_line_error_on_either_path(
    served: Served, uow: Callable[..., UnitOfWork], world: World
) -> None:
    through_bolt, early = _twice(served, "@sdr-emea Lead with\x00 compliance")

    assert (early.status, early.body) == (through_bolt.status, through_bolt.body)
    assert "NUL" in early.text
    assert intake_rows(uow) == [] and blocks(uow, world) == []


def test_the_early_path_logs_the_command_workspace_outcome_and_latency(
    served: Served, caplog: pytest.LogCaptureFixture
) -> None:
    served.known()
    caplog.set_level(logging.INFO, logger="salesbrain.requests")
    served.send.command("/coach", NOTE, EMEA_MANAGER)

    [line] = [r.getMessage() for r in caplog.records if r.name == "salesbrain.requests"]
    assert '"asked": "/coach"' in line and '"workspace": "T0001"' in line
    assert '"status": 200' in line and '"outcome": "ok"' in line and '"latency_ms":' in line


def test_an_uninstalled_teams_coach_never_takes_the_early_path(
    db_url: str,
    engine: Engine,
    slack: FakeSlack,
    coaching: CoachingQueue,
    uow: Callable[..., UnitOfWork],
    world: World,
) -> None:
    oauth = {"SLACK_BOT_TOKEN": "", "SLACK_CLIENT_ID": "111.222", "SLACK_CLIENT_SECRET": "shh"}
    with serving(db_url, engine, slack, coaching, **oauth) as app:  # T0001 has no install
        first = app.send.command("/coach", NOTE, EMEA_MANAGER)
        again = app.send.command("/coach", NOTE, EMEA_MANAGER)

    for reply in (first, again):  # Bolt's authorization answers each, through its response URL
        assert (reply.status, reply.body) == (200, "")
        [answer] = slack.wait_for(f"respond/{reply.response_url}")
        assert "reinstall" in answer.args["text"]
    assert intake_rows(uow) == [] and blocks(uow, world) == []


def test_socket_mode_acknowledges_every_coach_through_bolts_listener(
    db_url: str, engine: Engine, slack: FakeSlack, uow: Callable[..., UnitOfWork], world: World
) -> None:
    with over_socket_mode(db_url, engine, slack) as socket:
        for n in range(2):
            command = {
                "team_id": "T0001",
                "user_id": EMEA_MANAGER,
                "channel_id": "C0001",
                "command": "/coach",
                "text": f"@sdr-emea Socket note {n}",
                "response_url": slack.response_url(f"socket{n}"),
                "trigger_id": f"t{n}",
            }
            assert "payload" not in socket.deliver("slash_commands", command)
            [confirmation] = slack.wait_for(f"respond/socket{n}")
            assert "Stored block" in confirmation.args["text"]

    assert sorted(blocks(uow, world)) == ["Socket note 0", "Socket note 1"]


def test_work_after_acks_waits_for_a_calm_moment_not_an_instant_with_none_in_flight() -> None:
    traffic = Traffic(defer=0.3, calm=3600)
    traffic.arrived()
    traffic.left()  # none in flight now, but the next request may be a moment away
    since = time.monotonic()
    traffic.wait_turn(since)

    assert time.monotonic() - since >= 0.3  # its deferral ended its wait, not the instant


def test_work_after_acks_runs_once_no_request_has_been_in_flight_for_its_calm() -> None:
    later = AfterAck(traffic=Traffic(defer=3600, calm=0.05))
    ran = threading.Event()
    later.traffic.arrived()
    later.traffic.left()

    assert later.offer(ran.set)
    assert ran.wait(10)
    later.close()
