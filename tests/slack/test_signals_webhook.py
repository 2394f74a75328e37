"""POST /signals: JSON Lines into the signals import, behind a bearer token."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.engine import Engine

from bot.app import create_app
from bot.server import create_web_app
from core.db import UnitOfWork, make_engine
from core.models import Signal
from tests.conftest import World
from tests.fakes.slack_api import FakeSlack
from tests.fakes.slack_requests import Reply, SlackSender, running
from tests.slack.conftest import SIGNALS_TOKEN, SIGNING_SECRET, slack_settings

GOOD = {"type": "email_sent", "occurred_at": "2026-11-20T09:00:00Z", "agent": "sdr-emea"}


def body(*rows: dict[str, object] | str) -> str:
    return "".join((row if isinstance(row, str) else json.dumps(row)) + "\n" for row in rows)


def post(
    webhook: SlackSender, text: str, token: str | None = SIGNALS_TOKEN, query: str = ""
) -> Reply:
    headers = {"authorization": f"Bearer {token}"} if token else {}
    return webhook.post(
        text, "application/x-ndjson", path=f"/signals{query}", signed=False, headers=headers
    )


def stored(uow: Callable[..., UnitOfWork]) -> int:
    with uow(readonly=True) as u:
        return u.session.scalar(select(func.count()).select_from(Signal)) or 0


def test_signals_are_imported_once_per_sender_id(
    webhook: SlackSender, uow: Callable[..., UnitOfWork], world: World
) -> None:
    text = body({"id": "s1", **GOOD}, {"id": "s2", **GOOD, "type": "email_opened"})

    first = post(webhook, text, query="?workspace=T0001")
    again = post(webhook, text, query="?workspace=T0001")

    assert (first.status, first.json()) == (200, {"new": 2, "known": 0, "bad": [], "bad_total": 0})
    assert again.json()["known"] == 2 and again.json()["new"] == 0
    assert stored(uow) == 2


def test_a_large_upload_is_streamed_into_the_import(
    webhook: SlackSender, uow: Callable[..., UnitOfWork], world: World
) -> None:
    rows = [{"id": f"s{i}", **GOOD, "subject": "x" * 100} for i in range(12_000)]
    reply = post(webhook, body(*rows), query="?workspace=T0001")

    assert (reply.status, reply.json()["new"]) == (200, 12_000)
    assert stored(uow) == 12_000


def test_bad_lines_are_reported_by_number_and_the_good_ones_stored(
    webhook: SlackSender, uow: Callable[..., UnitOfWork], world: World
) -> None:
    text = body(
        {"id": "s1", **GOOD},
        "{not json",
        {"id": "s3", **GOOD, "type": "carrier_pigeon"},
        {"id": "s4", **GOOD},
    )
    reply = post(webhook, text, query="?workspace=T0001")

    assert reply.status == 422
    answer = reply.json()
    assert (answer["new"], [row["line"] for row in answer["bad"]]) == (2, [2, 3])
    assert "type" in answer["bad"][1]["reason"]
    assert stored(uow) == 2


def test_without_the_bearer_token_nothing_is_stored(
    webhook: SlackSender, uow: Callable[..., UnitOfWork], world: World
) -> None:
    text = body({"id": "s1", **GOOD})

    assert post(webhook, text, token=None, query="?workspace=T0001").status == 401
    assert post(webhook, text, token="wrong", query="?workspace=T0001").status == 401
    assert post(webhook, text, query="?workspace=T9999").status == 404
    assert stored(uow) == 0


@pytest.mark.parametrize("away", ["sqlite", "postgresql"])
def test_signals_sent_while_the_database_is_away_get_a_503_to_send_again(
    away: str, db_url: str, engine: Engine, slack: FakeSlack, world: World, tmp_path: Path
) -> None:
    unreachable = make_engine(
        f"sqlite:///{tmp_path}"  # a directory: no database file can be opened there
        if away == "sqlite"
        else "postgresql+psycopg://salesbrain@127.0.0.1:1/salesbrain"  # nothing listens
    )
    app = create_app(slack_settings(db_url, slack), engine)
    try:
        with running(create_web_app(app, unreachable, SIGNALS_TOKEN)) as url:
            reply = post(SlackSender(url, SIGNING_SECRET, slack), body({"id": "s1", **GOOD}))
    finally:
        unreachable.dispose()

    assert reply.status == 503
    assert reply.json() == {"error": "the database is unavailable: send the same lines again later"}
