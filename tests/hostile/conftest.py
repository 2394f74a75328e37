"""Hostile input over real HTTP: the real Bolt app behind the real server on 127.0.0.1, its
Web API client pointed at a fake Slack, on SQLite and PostgreSQL.

Every hostile request goes through `probe`, which classifies what became of it and adds it
to a tally printed at the end of the run (RELIABILITY.md quotes it):
- crashed: a 5xx, a traceback in the log, or "an internal error" told to the sender;
- refused: any other answer (401, 400, 413, 422, a 200 that ignores it or says what is wrong);
- applied twice: counted by the tests that replay or race a write and count what was stored.
Each outcome is a user property of the test's report, so that the tally (tests/hostile/tally.py)
adds up across pytest-xdist workers.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest
from sqlalchemy.engine import Engine

from bot.app import create_app
from bot.listeners.commands.coach import coaching_queue
from bot.server import create_web_app
from tests.conftest import World
from tests.fakes.slack_api import FakeSlack
from tests.fakes.slack_requests import Reply, SlackSender, running
from tests.hostile.tally import TALLIED
from tests.slack.conftest import SIGNALS_TOKEN, SIGNING_SECRET, slack_settings

# Small enough that a test over the limit sends little; the default is 20 MB.
SIGNALS_LIMIT = 200_000
INTERNAL_ERROR = "internal error"


class LogRecords(logging.Handler):
    """Every log record of the process (the server runs in a thread of it)."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)

    def tracebacks(self) -> list[str]:
        return [r.getMessage() for r in self.records if r.exc_info or "Traceback" in r.getMessage()]

    def warnings(self) -> list[str]:
        return [r.getMessage() for r in self.records if r.levelno >= logging.WARNING]


@pytest.fixture
def logs() -> Iterator[LogRecords]:
    handler = LogRecords()
    root = logging.getLogger()
    previous = root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    yield handler
    root.removeHandler(handler)
    root.setLevel(previous)


@dataclass
class Probe:
    """Sends hostile requests and classifies each; `slack` is the fake Web API."""

    send: SlackSender
    slack: FakeSlack
    logs: LogRecords
    node: pytest.Item
    seen: list[str] = field(default_factory=list)

    def count(self, outcome: str, n: int = 1) -> None:
        """Add to the run's tally: tried, refused, crashed or applied twice."""
        self.node.user_properties.extend([(TALLIED, outcome)] * n)

    def judge(self, reply: Reply, shown: str = "") -> Reply:
        """Classify one hostile request by its answer and the log since the last one."""
        tracebacks = self.logs.tracebacks()
        crashed = reply.status >= 500 or len(tracebacks) > len(self.seen)
        crashed = crashed or INTERNAL_ERROR in reply.body or INTERNAL_ERROR in shown
        self.seen = tracebacks
        self.count("tried")
        self.count("crashed" if crashed else "refused")
        return reply

    def outbound(self) -> list[str]:
        """The Web API methods and response URLs the app called (but auth.test: the app asking
        Slack who it is acts on no request)."""
        return [call.method for call in self.slack.calls if call.method != "auth.test"]


@pytest.fixture
def probe(
    request: pytest.FixtureRequest, db_url: str, engine: Engine, world: World, logs: LogRecords
) -> Iterator[Probe]:
    """The Acme workspace of `world` served over HTTP, the signals webhook open."""
    with FakeSlack() as slack:
        coaching = coaching_queue(engine)
        app = create_app(slack_settings(db_url, slack), engine, coaching=coaching)
        web_app = create_web_app(app, engine, SIGNALS_TOKEN, signals_limit=SIGNALS_LIMIT)
        try:
            with running(web_app) as url:
                yield Probe(SlackSender(url, SIGNING_SECRET, slack), slack, logs, request.node)
        finally:
            coaching.close()
