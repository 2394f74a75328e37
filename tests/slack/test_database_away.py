"""What Slack was promised is not lost while the database is away (restarting): a cycle run
acknowledged stays held in the intake for the sweep, and an event whose handling could not
be written is answered 503, so that Slack delivers it again, and then handled once."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event, select
from sqlalchemy.engine import Engine
from sqlalchemy.exc import OperationalError

from bot.after_ack import AfterAck
from bot.app import create_app
from bot.intake import CommandIntake
from bot.runner import HeartbeatRunner
from bot.server import create_web_app
from core.db import UnitOfWork, make_engine
from core.heartbeat.backends.offline import OfflineBackend
from core.models import Cycle, EventDelivery
from tests.conftest import ADMIN, EMEA_MANAGER, World
from tests.cycles import FAST
from tests.fakes.slack_api import FakeSlack
from tests.fakes.slack_requests import SlackSender, running
from tests.slack.conftest import SIGNING_SECRET, slack_settings
from tests.slack.events.test_reactions import learning, reaction, team_blocks
from tests.slack.test_acknowledged_commands import LEASE, Server, all_done, intake_rows, serving

__all__ = ["learning"]  # a fixture of the reactions' tests, used here too


@pytest.fixture(params=["sqlite", "postgresql"])
def away(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    """An engine whose database cannot be reached (as test_signals_webhook.py makes one)."""
    unreachable = make_engine(
        f"sqlite:///{tmp_path}"  # a directory: no database file can be opened there
        if request.param == "sqlite"
        else "postgresql+psycopg://salesbrain@127.0.0.1:1/salesbrain"  # nothing listens
    )
    yield unreachable
    unreachable.dispose()


@contextmanager
def serving_with_runner_on(
    db_url: str, engine: Engine, slack: FakeSlack, runner_engine: Engine
) -> Iterator[Server]:
    """A `serve` process whose heartbeat runner's database is `runner_engine`: it acks and
    holds commands, and its cycles then find the database away."""
    intake = CommandIntake(engine, LEASE, sweep_seconds=3600)
    later = AfterAck()
    app = create_app(
        slack_settings(db_url, slack),
        engine,
        runner=HeartbeatRunner(runner_engine, OfflineBackend(), FAST),
        after_ack=later,
        intake=intake,
    )
    try:
        with running(create_web_app(app, engine)) as url:
            yield Server(SlackSender(url, SIGNING_SECRET, slack), intake)
    finally:
        later.close()


def cycles(uow: Callable[..., UnitOfWork]) -> int:
    with uow(readonly=True) as u:
        return len(u.session.scalars(select(Cycle)).all())


def test_a_cycle_run_the_database_was_away_for_stays_held_and_the_sweep_runs_and_answers_it(
    db_url: str,
    engine: Engine,
    away: Engine,
    slack: FakeSlack,
    uow: Callable[..., UnitOfWork],
    world: World,
) -> None:
    with serving_with_runner_on(db_url, engine, slack, away) as first:
        reply = first.send.command("/brain", "run @sdr-emea", ADMIN)
        assert "Running sdr-emea now" in reply.json()["text"]
    # The work after the ack met the database away: nothing was answered, nothing run, and
    # the command is still promised.
    assert slack.calls_to(f"respond/{reply.response_url}") == []
    assert cycles(uow) == 0
    [row] = intake_rows(uow)
    assert row.done_at is None

    with serving(db_url, engine, slack) as second:  # another replica, or the same restarted
        assert second.sweep_later() == 1
        [answer] = slack.wait_for(f"respond/{reply.response_url}", timeout=15)
    assert answer.args["blocks"][0]["text"]["text"].startswith("sdr-emea · cycle ")
    assert cycles(uow) == 1
    assert all_done(uow)


def test_a_reaction_while_the_database_is_away_is_answered_503_and_its_retry_promotes_once(
    db_url: str,
    engine: Engine,
    away: Engine,
    send: SlackSender,
    slack: FakeSlack,
    uow: Callable[..., UnitOfWork],
    world: World,
    learning: int,
) -> None:
    app = create_app(slack_settings(db_url, slack), away)
    with running(create_web_app(app, away)) as url:
        first = SlackSender(url, SIGNING_SECRET, slack).event(reaction(EMEA_MANAGER), "EvAWAY01")
    assert first.status == 503
    assert team_blocks(uow, world) == []

    again = send.event(reaction(EMEA_MANAGER), "EvAWAY01", retry=1)  # the database is back
    assert again.status == 200
    slack.wait_for("chat.postMessage")
    assert team_blocks(uow, world) == [learning]
    assert send.event(reaction(EMEA_MANAGER), "EvAWAY01", retry=2).status == 200
    assert team_blocks(uow, world) == [learning]
    assert len(slack.calls_to("chat.postMessage")) == 1


@contextmanager
def writes_fail(engine: Engine) -> Iterator[None]:
    """The database goes away between the reads of a request and its writes."""

    def refuse(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if statement.lstrip().upper().startswith(("INSERT", "UPDATE", "DELETE")):
            raise OperationalError(statement, None, ConnectionError("the server went away"))

    event.listen(engine, "before_cursor_execute", refuse)
    try:
        yield
    finally:
        event.remove(engine, "before_cursor_execute", refuse)


def test_a_reaction_whose_promotion_could_not_be_written_is_handled_when_slack_sends_it_again(
    engine: Engine,
    send: SlackSender,
    slack: FakeSlack,
    uow: Callable[..., UnitOfWork],
    world: World,
    learning: int,
) -> None:
    with writes_fail(engine):
        first = send.event(reaction(EMEA_MANAGER), "EvLATE001")
    assert first.status == 503
    with uow(readonly=True) as u:
        assert u.session.scalars(select(EventDelivery.event_id)).all() == []  # not recorded
    assert team_blocks(uow, world) == []

    assert send.event(reaction(EMEA_MANAGER), "EvLATE001", retry=1).status == 200
    slack.wait_for("chat.postMessage")
    assert team_blocks(uow, world) == [learning]
    assert len(slack.calls_to("chat.postMessage")) == 1


def test_the_bot_joining_while_the_database_is_away_is_handled_when_slack_sends_it_again(
    engine: Engine, send: SlackSender, uow: Callable[..., UnitOfWork], world: World
) -> None:
    joined = {"type": "member_joined_channel", "user": "UBOT0001", "channel": "C0REPORTS"}
    with writes_fail(engine):
        assert send.event(joined, "EvJOIN001").status == 503
    assert send.event(joined, "EvJOIN001", retry=1).status == 200
    with uow(readonly=True) as u:
        assert u.session.scalars(select(EventDelivery.event_id)).all() == ["EvJOIN001"]
