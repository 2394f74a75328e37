"""Commands acknowledged to Slack are held in the intake before the ack; a command whose
process died after its ack is taken over by another process's sweep, done once, and its
person answered once: through the command's response URL, or in a direct message once Slack
no longer honours that URL."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.engine import Engine

from bot.after_ack import AfterAck
from bot.app import create_app, follow_up
from bot.intake import RESPONSE_URL_LIFETIME, CommandIntake
from bot.listeners.commands.coach import (
    COACH,
    CoachCommand,
    coaching_queue,
    store_many,
)
from bot.runner import HeartbeatRunner
from bot.server import create_web_app
from core import clock, deliveries, memory, use_cases
from core.db import UnitOfWork, make_engine
from core.heartbeat.backends.offline import OfflineBackend
from core.intake import Command
from core.models import Cycle, Intake
from tests.conftest import ADMIN, EMEA_MANAGER, World
from tests.cycles import FAST, run_now
from tests.fakes.slack_api import Call, FakeSlack
from tests.fakes.slack_requests import SlackSender, running
from tests.slack.conftest import SIGNING_SECRET, slack_settings

LEASE = 30.0
DEAD = "serve-that-died:1"


@dataclass
class Server:
    """A served app and its intake, swept by hand (as each `serve` does every few seconds)."""

    send: SlackSender
    intake: CommandIntake

    def sweep_later(self, seconds: float = 3600) -> int:
        """Sweep as if `seconds` had passed: every lease held now has lapsed."""
        later = clock.now() + timedelta(seconds=seconds)
        with clock.frozen_at(later):
            return self.intake.sweep()


@contextmanager
def serving(
    db_url: str, engine: Engine, slack: FakeSlack, after_ack: AfterAck | None = None
) -> Iterator[Server]:
    """A `serve` process: the app over HTTP with its intake, queues and heartbeat runner."""
    intake = CommandIntake(engine, LEASE, sweep_seconds=1)
    runner = HeartbeatRunner(engine, OfflineBackend(), FAST)
    after_ack = after_ack or AfterAck()
    settings = slack_settings(db_url, slack)
    coaching = coaching_queue(engine, follow_up=follow_up(settings, engine))
    app = create_app(
        settings, engine, runner=runner, coaching=coaching, after_ack=after_ack, intake=intake
    )
    with running(create_web_app(app, engine)) as url:
        yield Server(SlackSender(url, SIGNING_SECRET, slack), intake)
    after_ack.close()
    coaching.close()


@pytest.fixture
def server(db_url: str, engine: Engine, slack: FakeSlack, world: World) -> Iterator[Server]:
    with serving(db_url, engine, slack) as served:
        yield served


def intake_rows(uow: Callable[..., UnitOfWork]) -> list[Intake]:
    with uow(readonly=True) as u:
        return list(u.session.scalars(select(Intake).order_by(Intake.id)))


def held_by_a_dead_process(engine: Engine, kind: str, payload: dict[str, Any]) -> int:
    """A command the process DEAD acknowledged and held, then died before doing it."""
    delivery = f"command:{payload.get('trigger_id', 'dead-1')}"
    command = Command("T0001", kind, delivery, payload, LEASE)
    [held] = use_cases.receive(UnitOfWork(engine), [command], owner=DEAD)
    assert held is not None
    return held


def note_held_by_a_dead_process(engine: Engine, slack: FakeSlack, name: str, text: str) -> int:
    """A /coach the process DEAD acknowledged and died before storing; answered at `name`."""
    command = CoachCommand(
        team_id="T0001",
        user_id=EMEA_MANAGER,
        channel_id="C0001",
        text=text,
        trigger_id=f"t-{name}",
        response_url=slack.response_url(name),
    )
    return held_by_a_dead_process(engine, COACH, command.raw())


def all_done(uow: Callable[..., UnitOfWork], timeout: float = 10) -> bool:
    """Every command in the intake is marked done (waiting at most `timeout`: the work
    marks it done just after answering)."""
    deadline = time.monotonic() + timeout
    while any(row.done_at is None for row in intake_rows(uow)):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def notes(uow: Callable[..., UnitOfWork], world: World) -> list[str]:
    with uow(readonly=True) as u:
        return sorted(b.content for b in memory.list_blocks(u.session, world.workspace))


def test_a_coach_note_is_held_before_its_ack_and_marked_done_with_the_note(
    server: Server, slack: FakeSlack, uow: Callable[..., UnitOfWork], world: World
) -> None:
    reply = server.send.command("/coach", "@sdr-emea Lead with compliance", EMEA_MANAGER)
    slack.wait_for(f"respond/{reply.response_url}")

    [row] = intake_rows(uow)
    assert (row.kind, row.team_id, row.payload["text"]) == (
        "coach",
        "T0001",
        "@sdr-emea Lead with compliance",
    )
    assert row.done_at is not None and row.attempts == 1
    assert server.sweep_later() == 0
    assert notes(uow, world) == ["Lead with compliance"]


def test_a_note_whose_process_died_after_the_ack_is_stored_once_and_confirmed_by_the_sweep(
    server: Server, engine: Engine, slack: FakeSlack, uow: Callable[..., UnitOfWork], world: World
) -> None:
    note_held_by_a_dead_process(engine, slack, "dead-1", "@sdr-emea Ask about the renewal date")

    assert server.intake.sweep() == 0  # its holder's lease has not lapsed yet
    assert server.sweep_later() == 1
    [confirmation] = slack.wait_for("respond/dead-1")
    assert "Stored block" in confirmation.args["text"]
    assert server.sweep_later(7200) == 0
    assert notes(uow, world) == ["Ask about the renewal date"]
    [row] = intake_rows(uow)
    assert row.done_at is not None and row.attempts == 2


def test_a_note_two_processes_take_at_once_is_stored_once(
    engine: Engine, uow: Callable[..., UnitOfWork], world: World
) -> None:
    # The first holder stalled past its lease and a sweep took the note over: both store it.
    command = CoachCommand(
        "T0001", EMEA_MANAGER, "C0001", "@sdr-emea Mention the pilot", "t-2", "", intake_id=None
    )
    held = held_by_a_dead_process(engine, COACH, command.raw())
    first = store_many(engine, [CoachCommand(**command.raw(), intake_id=held)])
    second = store_many(engine, [CoachCommand(**command.raw(), intake_id=held)])

    assert first[0] is not None and second == [None]  # nothing more to tell
    assert notes(uow, world) == ["Mention the pilot"]


def test_a_note_another_process_stores_while_this_one_writes_it_is_not_told_as_failed(
    engine: Engine, uow: Callable[..., UnitOfWork], world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    command = CoachCommand(
        "T0001", EMEA_MANAGER, "C0001", "@sdr-emea Bring the case study", "t-3", "", intake_id=None
    )
    held = replace(command, intake_id=held_by_a_dead_process(engine, COACH, command.raw()))
    assert store_many(engine, [held])[0] is not None
    # The second holder read the deliveries before the first stored its own (twice: the
    # batch, then the note alone), so its insert conflicts.
    real, blind = deliveries.delivered, [True, True]
    monkeypatch.setattr(
        deliveries, "delivered", lambda *args: set() if blind and blind.pop() else real(*args)
    )

    assert store_many(engine, [held]) == [None]  # stored before: nothing to tell
    assert not blind
    assert notes(uow, world) == ["Bring the case study"]


def test_a_note_the_database_was_away_for_stays_held_and_the_sweep_stores_and_confirms_it(
    server: Server, engine: Engine, slack: FakeSlack, uow: Callable[..., UnitOfWork], world: World
) -> None:
    # Acknowledged, then the database went away (a restart) as the note was to be stored.
    command = CoachCommand(
        "T0001",
        EMEA_MANAGER,
        "C0001",
        "@sdr-emea Quote the audit",
        "t-away",
        slack.response_url("away"),
    )
    held = held_by_a_dead_process(engine, COACH, command.raw())
    away = make_engine("postgresql+psycopg://salesbrain@127.0.0.1:1/away")  # nothing listens

    assert store_many(away, [replace(command, intake_id=held)]) == [None]  # no failure told
    [row] = intake_rows(uow)
    assert row.done_at is None  # still promised
    assert server.sweep_later() == 1
    [confirmation] = slack.wait_for("respond/away")
    assert "Stored block" in confirmation.args["text"]
    assert notes(uow, world) == ["Quote the audit"]
    assert all_done(uow)


def test_a_cycle_asked_of_a_process_that_died_is_run_by_the_sweep_and_answered(
    server: Server, engine: Engine, slack: FakeSlack, uow: Callable[..., UnitOfWork], world: World
) -> None:
    asked = {"team_id": "T0001", "user_id": ADMIN, "words": "@sdr-emea"}
    held_by_a_dead_process(
        engine, "brain run", {**asked, "response_url": slack.response_url("run-1")}
    )

    assert server.sweep_later() == 1
    [answer] = slack.wait_for("respond/run-1", timeout=15)
    assert answer.args["response_type"] == "in_channel"
    assert answer.args["blocks"][0]["text"]["text"].startswith("sdr-emea · cycle ")
    with uow(readonly=True) as u:
        assert len(u.session.scalars(select(Cycle)).all()) == 1
    assert all_done(uow)


def test_a_cycle_its_dead_holder_had_run_is_answered_not_run_again(
    server: Server, engine: Engine, slack: FakeSlack, uow: Callable[..., UnitOfWork], world: World
) -> None:
    asked = {"team_id": "T0001", "user_id": ADMIN, "words": "@sdr-emea"}
    held_by_a_dead_process(
        engine, "brain run", {**asked, "response_url": slack.response_url("run-2")}
    )
    ran = run_now(engine, world.workspace, "sdr-emea", OfflineBackend())  # then it died

    assert server.sweep_later() == 1
    [answer] = slack.wait_for("respond/run-2", timeout=15)
    assert answer.args["blocks"][0]["text"]["text"].startswith(f"sdr-emea · cycle {ran['id']}")
    with uow(readonly=True) as u:
        assert [c.id for c in u.session.scalars(select(Cycle))] == [ran["id"]]
    assert all_done(uow)


def test_a_repeated_delivery_of_a_coach_command_is_held_and_stored_once(
    server: Server, slack: FakeSlack, uow: Callable[..., UnitOfWork], world: World
) -> None:
    first = server.send.command("/coach", "@sdr-emea Quote the case study", EMEA_MANAGER)
    slack.wait_for(f"respond/{first.response_url}")
    again = server.send.command(
        "/coach", "@sdr-emea Quote the case study", EMEA_MANAGER, name=first.response_url
    )

    assert (again.status, again.body) == (200, "")
    assert len(intake_rows(uow)) == 1
    assert notes(uow, world) == ["Quote the case study"]
    assert len(slack.responses(first.response_url)) == 1


def direct_messages(slack: FakeSlack, user: str) -> list[Call]:
    return [c for c in slack.calls_to("chat.postMessage") if c.args.get("channel") == user]


def test_a_note_taken_over_whose_response_url_slack_refuses_is_confirmed_once_directly(
    server: Server, engine: Engine, slack: FakeSlack, uow: Callable[..., UnitOfWork], world: World
) -> None:
    note_held_by_a_dead_process(
        engine, slack, "dead-3", "@sdr-emea Offer the security review first"
    )
    slack.expired.add("dead-3")  # used five times, say

    assert server.sweep_later() == 1
    [direct] = slack.wait_for("chat.postMessage", where=lambda c: c.args["channel"] == EMEA_MANAGER)
    assert "Stored block" in direct.args["text"]
    assert all_done(uow)
    assert server.sweep_later(7200) == 0
    assert len(slack.responses("dead-3")) == 1  # the one Slack refused
    assert len(direct_messages(slack, EMEA_MANAGER)) == 1
    assert notes(uow, world) == ["Offer the security review first"]


def test_a_cycle_taken_over_after_its_response_url_expired_is_answered_once_directly(
    server: Server, engine: Engine, slack: FakeSlack, uow: Callable[..., UnitOfWork], world: World
) -> None:
    asked = {"team_id": "T0001", "user_id": ADMIN, "words": "@sdr-emea"}
    # Its holder died 31 minutes ago: Slack honours a response URL for 30.
    with clock.frozen_at(clock.now() - RESPONSE_URL_LIFETIME - timedelta(minutes=1)):
        held_by_a_dead_process(
            engine, "brain run", {**asked, "response_url": slack.response_url("run-3")}
        )

    assert server.sweep_later(0) == 1
    [direct] = slack.wait_for("chat.postMessage", where=lambda c: c.args["channel"] == ADMIN)
    assert direct.args["blocks"][0]["text"]["text"].startswith("sdr-emea · cycle ")
    assert "response_type" not in direct.args
    assert all_done(uow)
    assert slack.responses("run-3") == []  # not tried: Slack would refuse it
    assert len(direct_messages(slack, ADMIN)) == 1


def test_a_replay_two_processes_did_is_answered_once(
    server: Server,
    db_url: str,
    engine: Engine,
    slack: FakeSlack,
    uow: Callable[..., UnitOfWork],
    world: World,
) -> None:
    cycle = run_now(engine, world.workspace, "sdr-emea", OfflineBackend())
    # The first process acknowledges the replay and stalls past its lease before doing it.
    stalled, resume = AfterAck(workers=1), threading.Event()
    stalled.offer(lambda: resume.wait(30))
    with serving(db_url, engine, slack, after_ack=stalled) as first:
        ack = first.send.command(
            "/brain", f"replay {cycle['id']} claude-opus-5-5", EMEA_MANAGER, name="replay-1"
        )
        assert ack.status == 200 and ack.text.startswith(f"Replaying cycle {cycle['id']}")

        # Another process's sweep takes it over and answers it.
        assert server.sweep_later() == 1
        [answer] = slack.wait_for("respond/replay-1", timeout=15)
        assert answer.args["blocks"][0]["text"]["text"].startswith(f"Cycle {cycle['id']} of")
        assert all_done(uow)

        resume.set()  # the first process does it too, and finds it answered
    stalled.close()

    assert len(slack.responses("replay-1")) == 1
    assert direct_messages(slack, EMEA_MANAGER) == []


def test_the_intake_writer_holds_commands_on_a_fresh_connection_when_the_server_dropped_its_own(
    engine: Engine, uow: Callable[..., UnitOfWork]
) -> None:
    if engine.dialect.name != "postgresql":
        pytest.skip("a server that drops a connection: PostgreSQL (a restart, a failover)")
    intake = CommandIntake(engine, LEASE, sweep_seconds=1)
    kept = engine.connect()  # the writer's, kept while commands keep coming
    backend = kept.exec_driver_sql("SELECT pg_backend_pid()").scalar_one()
    kept.commit()
    with engine.connect() as admin:
        admin.exec_driver_sql(f"SELECT pg_terminate_backend({int(backend)})")

    command = Command("T0001", COACH, "command:t-dropped", {"text": "@sdr-emea x"}, LEASE)
    fresh, [held] = intake._receive(kept, [command])
    fresh.close()

    assert fresh is not kept and held is not None
    assert [row.delivery for row in intake_rows(uow)] == ["command:t-dropped"]
