"""Body limits hold for every transfer encoding: past the limit the rest is never read."""

from __future__ import annotations

import http.client
import json
from collections.abc import Callable

from sqlalchemy import func, select

from core.db import UnitOfWork
from core.models import Signal
from tests.fakes.slack_requests import Reply
from tests.hostile.conftest import SIGNALS_LIMIT, Probe
from tests.hostile.raw import chunked, post
from tests.slack.conftest import SIGNALS_TOKEN

MB = 1_000_000
BEARER = {"authorization": f"Bearer {SIGNALS_TOKEN}"}
GOOD = {"type": "email_sent", "occurred_at": "2026-11-20T09:00:00Z", "agent": "sdr-emea"}


def signals_stored(uow: Callable[..., UnitOfWork]) -> int:
    with uow(readonly=True) as u:
        return u.session.scalar(select(func.count()).select_from(Signal)) or 0


def test_a_chunked_50_mb_slack_request_is_413_after_reading_about_the_limit(probe: Probe) -> None:
    status, sent = chunked(probe.send.base_url, "/slack/events", 50 * MB, {})
    probe.judge(Reply(status or 0, ""))

    assert status == 413
    assert sent < 10 * MB  # stopped early: the server did not wait for the rest
    assert probe.outbound() == []


def test_a_declared_50_mb_slack_request_is_413_unread(probe: Probe) -> None:
    host, port = probe.send.base_url.removeprefix("http://").split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=10)
    connection.putrequest("POST", "/slack/events")
    connection.putheader("content-length", str(50 * MB))
    connection.endheaders()  # and not a byte of the body
    status = connection.getresponse().status
    connection.close()

    assert probe.judge(Reply(status, "")).status == 413


def test_signals_over_the_limit_with_a_length_are_413_and_nothing_is_stored(
    probe: Probe, uow: Callable[..., UnitOfWork]
) -> None:
    line = json.dumps({"id": "s", **GOOD}).encode() + b"\n"
    body = line * (SIGNALS_LIMIT // len(line) + 1)
    reply = post(probe.send.base_url, "/signals?workspace=T0001", body, BEARER)

    assert probe.judge(reply).status == 413
    assert "smaller parts" in reply.json()["error"]
    assert signals_stored(uow) == 0


def test_chunked_signals_over_the_limit_are_413_after_the_lines_before_it(
    probe: Probe, uow: Callable[..., UnitOfWork]
) -> None:
    status, sent = chunked(probe.send.base_url, "/signals?workspace=T0001", 50 * MB, BEARER)
    probe.judge(Reply(status or 0, ""))

    assert status == 413
    assert sent < 10 * MB
    assert signals_stored(uow) == 0  # one endless line: nothing before the limit
