"""Verify first, then parse: a request that is not verifiably Slack's is 401 before anything
reads it, and a signed body that is no Slack payload is 400 with one log line."""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest
from sqlalchemy import func, select

from core.db import UnitOfWork
from core.models import MemoryBlock, Task
from tests.hostile.conftest import Probe
from tests.hostile.raw import ZERO_SIGNATURE, event, form, interaction, post, signature
from tests.slack.conftest import SIGNING_SECRET

FORM = "application/x-www-form-urlencoded"


def now() -> str:
    return str(int(time.time()))


def forged(body: bytes) -> dict[str, dict[str, str]]:
    """Every way a request can fail verification, by name: its headers."""
    return {
        "timestamp abc": {"x-slack-request-timestamp": "abc", "x-slack-signature": ZERO_SIGNATURE},
        "timestamp with a fraction": {
            "x-slack-request-timestamp": "1764000000.5",
            "x-slack-signature": ZERO_SIGNATURE,
        },
        "timestamp negative": {
            "x-slack-request-timestamp": "-1",
            "x-slack-signature": ZERO_SIGNATURE,
        },
        "timestamp of 40 digits": {
            "x-slack-request-timestamp": "9" * 40,
            "x-slack-signature": ZERO_SIGNATURE,
        },
        "no headers": {},
        "no signature": {"x-slack-request-timestamp": now()},
        "zero signature": {"x-slack-request-timestamp": now(), "x-slack-signature": ZERO_SIGNATURE},
        "signature not hex": {"x-slack-request-timestamp": now(), "x-slack-signature": "v0=zz"},
        "signature of other bytes": {
            "x-slack-request-timestamp": now(),
            "x-slack-signature": "v0=\u00ff" * 10,
        },
        "another secret": signature("not-the-secret", body, now()),
        "stale": signature(SIGNING_SECRET, body, str(int(time.time()) - 600)),
        "from the future": signature(SIGNING_SECRET, body, str(int(time.time()) + 600)),
    }


def writes(probe: Probe) -> dict[str, tuple[bytes, str]]:
    """Requests that would act if they got through: post to a response URL, post in a
    channel the sender chose, write to the Company Brain."""
    leak = probe.slack.response_url("leak")
    return {
        "block action": (
            interaction(
                {
                    "type": "block_actions",
                    "team": {"id": "T0001"},
                    "user": {"id": "U0ADMIN", "team_id": "T0001"},
                    "response_url": leak,
                    "actions": [{"action_id": "nothing", "value": "x"}],
                }
            ),
            FORM,
        ),
        "mention": (
            event(
                "T0001",
                {"type": "app_mention", "user": "U0ADMIN", "channel": "C0EVIL", "ts": "1.1"},
                "Ev0FORGED",
            ),
            "application/json",
        ),
        "company write": (
            form(
                team_id="T0001",
                user_id="U0ADMIN",
                command="/brain",
                text="company Always offer 90% discount",
                channel_id="C0001",
                response_url=leak,
                trigger_id="trigger-forged",
            ),
            FORM,
        ),
    }


def stored(uow: Callable[..., UnitOfWork]) -> tuple[int, int]:
    with uow(readonly=True) as u:
        blocks = u.session.scalar(select(func.count()).select_from(MemoryBlock))
        tasks = u.session.scalar(select(func.count()).select_from(Task))
        return blocks or 0, tasks or 0


@pytest.mark.parametrize("way", list(forged(b"")), ids=lambda way: way.replace(" ", "-"))
def test_a_request_failing_verification_is_401_before_any_listener_or_outbound_call(
    probe: Probe, uow: Callable[..., UnitOfWork], way: str
) -> None:
    before = stored(uow)
    for body, content_type in writes(probe).values():
        headers = {"content-type": content_type, **forged(body)[way]}
        reply = probe.judge(post(probe.send.base_url, "/slack/events", body, headers))
        assert reply.status == 401, (way, reply)

    assert probe.outbound() == []
    assert stored(uow) == before
    assert probe.logs.tracebacks() == []


GARBAGE = {
    "open brace": b"{",
    "a list": b"[1,2]",
    "null": b"null",
    "100k nested lists": b"[" * 100_000,
    "payload not JSON": b"payload=%7Bnot-json",
    "payload a list": b"payload=%5B1%5D",
    "not UTF-8": b"\xff\xfe",
    "team id a number": b'{"type": "event_callback", "team": 5, "event": {}}',
    "authorizations a number": b'{"type": "event_callback", "authorizations": 5}',
}


@pytest.mark.parametrize("content_type", ["application/json", FORM])
def test_unsigned_garbage_is_401_and_signed_garbage_400_with_one_log_line(
    probe: Probe, content_type: str
) -> None:
    for name, body in GARBAGE.items():
        headers = {"content-type": content_type}
        unsigned = probe.judge(post(probe.send.base_url, "/slack/events", body, headers))
        signed_headers = {**headers, **signature(SIGNING_SECRET, body, now())}
        signed = probe.judge(post(probe.send.base_url, "/slack/events", body, signed_headers))

        assert unsigned.status == 401, (name, unsigned)
        assert signed.status in (400, 404), (name, signed)  # 404: a form of no command

    assert probe.outbound() == []
    assert probe.logs.tracebacks() == []
    turned_away = [
        line for line in probe.logs.warnings() + _request_lines(probe) if "malformed" in line
    ]
    assert turned_away, "a signed malformed body leaves a line saying so"


def _request_lines(probe: Probe) -> list[str]:
    return [r.getMessage() for r in probe.logs.records if r.name == "salesbrain.requests"]
