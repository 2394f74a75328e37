"""The Slack app as Slack sees it: the real Bolt app behind the real HTTP server on
127.0.0.1, its Web API client pointed at a fake Slack, and signed requests sent to it."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from slack_bolt.adapter.socket_mode import SocketModeHandler
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from bot.app import create_app, web_client
from bot.listeners.commands.coach import CoachingQueue, coaching_queue
from bot.reports import SlackSink
from bot.server import create_web_app
from core import memory
from core.heartbeat import outbox
from core.models import MemoryBlock
from core.permissions import Actor
from core.settings import Settings
from tests.conftest import World
from tests.cycles import FAST
from tests.fakes.slack_api import FakeSlack
from tests.fakes.slack_requests import SlackSender, running
from tests.fakes.socket_mode import FakeSocketMode

SIGNING_SECRET = "test-signing-secret-0123456789"
BOT_TOKEN = "xoxb-test-bot-token-0123456789"


@pytest.fixture
def slack() -> Iterator[FakeSlack]:
    with FakeSlack() as fake:
        yield fake


def slack_settings(db_url: str, slack: FakeSlack, **extra: str) -> Settings:
    values = {
        "SALESBRAIN_DATABASE_URL": db_url,
        "SLACK_SIGNING_SECRET": SIGNING_SECRET,
        "SLACK_BOT_TOKEN": BOT_TOKEN,
        "SLACK_API_URL": slack.api_url,
        **extra,
    }
    return Settings.model_validate(values)


APP_TOKEN = "xapp-test-app-token"


@contextmanager
def over_socket_mode(db_url: str, engine: Engine, slack: FakeSlack) -> Iterator[FakeSocketMode]:
    """The app connected in Socket Mode to a local Socket Mode server; yields the server."""
    app = create_app(
        slack_settings(db_url, slack, SLACK_APP_TOKEN=APP_TOKEN), engine, socket_mode=True
    )
    with FakeSocketMode() as socket:
        slack.socket_url = socket.url
        handler = SocketModeHandler(app, APP_TOKEN)
        handler.connect()
        try:
            socket.wait_connected()
            yield socket
        finally:
            handler.close()


@pytest.fixture
def sink(db_url: str, engine: Engine, slack: FakeSlack) -> SlackSink:
    """The outbox's Slack sink, posting to the fake Slack with the bot token."""
    client = web_client(slack_settings(db_url, slack), BOT_TOKEN)
    return SlackSink(engine, lambda workspace: client)


def deliver(engine: Engine, sink: SlackSink) -> outbox.DeliveryRun:
    """One pass of the outbox through the Slack sink."""
    return outbox.deliver_pending(engine, [sink], FAST, "test")


@pytest.fixture
def coaching(engine: Engine) -> Iterator[CoachingQueue]:
    """The queue on which the app stores /coach notes after their acks."""
    queue = coaching_queue(engine)
    yield queue
    queue.close()


@pytest.fixture
def send(
    db_url: str, engine: Engine, slack: FakeSlack, world: World, coaching: CoachingQueue
) -> Iterator[SlackSender]:
    """The Acme workspace of `world` served over HTTP; sends signed requests to it."""
    app = create_app(slack_settings(db_url, slack), engine, coaching=coaching)
    with running(create_web_app(app, engine)) as url:
        yield SlackSender(url, SIGNING_SECRET, slack)


def sdr_learning(session: Session, world: World, text: str) -> MemoryBlock:
    """A learning sdr-emea recorded on its own Personal Brain."""
    return memory.write_learning(
        session,
        world.workspace,
        session.merge(world.sdr),
        text,
        by=Actor.agent("sdr-emea"),
        importance=0.6,
    )


SIGNALS_TOKEN = "signals-token-0123456789"


@pytest.fixture
def webhook(db_url: str, engine: Engine, slack: FakeSlack, world: World) -> Iterator[SlackSender]:
    """The HTTP server with the signals webhook open to SIGNALS_TOKEN."""
    app = create_app(slack_settings(db_url, slack), engine)
    with running(create_web_app(app, engine, SIGNALS_TOKEN)) as url:
        yield SlackSender(url, SIGNING_SECRET, slack)
