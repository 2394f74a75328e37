"""Hostile /brain, /coach and /signals writes: ids out of range, NUL characters and overlong
fields are refused with one line the same way on both databases; a replayed or raced write
is applied once; a user of another workspace never enrols as an admin."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable

import pytest
from sqlalchemy import func, select

from core import directory
from core.db import UnitOfWork
from core.models import MemberRole, MemoryBlock, Signal, Task, Tier
from tests.conftest import ADMIN, EMEA_MANAGER, World
from tests.fakes.slack_requests import Reply
from tests.hostile.conftest import Probe
from tests.hostile.raw import form, post, signature
from tests.slack.conftest import SIGNALS_TOKEN, SIGNING_SECRET, sdr_learning

HUGE = "9" * 23
GOOD = {"type": "email_sent", "occurred_at": "2026-11-20T09:00:00Z", "agent": "sdr-emea"}


def count(uow: Callable[..., UnitOfWork], model: type) -> int:
    with uow(readonly=True) as u:
        return u.session.scalar(select(func.count()).select_from(model)) or 0


@pytest.mark.parametrize(
    "text",
    [f"promote {HUGE}", f"why {HUGE}", f"forget {HUGE}", f"refresh {HUGE}", "why -3", "why 0"],
)
def test_an_id_out_of_range_is_not_found(probe: Probe, text: str) -> None:
    reply = probe.judge(probe.send.command("/brain", text, ADMIN))

    assert reply.status == 200
    assert "not found" in reply.text, reply.text
    assert probe.logs.tracebacks() == []


@pytest.mark.parametrize(
    "text",
    [
        "company Always\x00 discount",
        "company " + "x" * 20_000,
        "task @sdr-emea Call\x00 Dana",
        "emoji " + "b" * 200,
        "role <@U" + "0" * 40 + "> manager emea",
        "show @sdr-emea\x00",
        "task @sdr\x00emea Call Dana",
        "promote 1\x00",
    ],
    ids=[
        "nul-company",
        "long-company",
        "nul-task",
        "long-emoji",
        "long-user",
        "nul-lookup",
        "nul-handle",
        "nul-id",
    ],
)
def test_a_nul_or_an_overlong_field_is_refused_in_one_line_and_stores_nothing(
    probe: Probe, uow: Callable[..., UnitOfWork], text: str
) -> None:
    reply = probe.judge(probe.send.command("/brain", text, ADMIN))

    assert reply.status == 200 and reply.text, reply
    assert "internal error" not in reply.text
    assert (count(uow, MemoryBlock), count(uow, Task)) == (0, 0)
    assert probe.logs.tracebacks() == []


def test_a_coaching_note_with_a_nul_is_refused_in_one_line(
    probe: Probe, uow: Callable[..., UnitOfWork]
) -> None:
    reply = probe.send.command("/coach", "@sdr-emea Lead with\x00 compliance", EMEA_MANAGER)
    shown = probe.send.shown(reply)
    probe.judge(reply, shown)

    assert "NUL" in shown
    assert count(uow, MemoryBlock) == 0
    assert probe.logs.tracebacks() == []


def test_a_bad_signals_line_is_one_bad_line_and_the_good_lines_are_stored(
    probe: Probe, uow: Callable[..., UnitOfWork]
) -> None:
    lines = [
        json.dumps({"id": "s1", **GOOD}),
        "[" * 100_000,  # nested past the parser's recursion limit
        json.dumps({"id": "s3", **GOOD, "company": "Acme\x00"}),
        json.dumps({"id": "s4", **GOOD, "company": "A" * 20_000}),
        json.dumps({"id": "s5" * 200, **GOOD}),
        json.dumps({"id": "s6", **GOOD}).replace('"s6"', '"s6\\ud800"'),  # a lone surrogate
        json.dumps({"id": "s7", **GOOD}),
    ]
    body = "\n".join(lines).encode()
    headers = {"authorization": f"Bearer {SIGNALS_TOKEN}"}
    reply = probe.judge(post(probe.send.base_url, "/signals?workspace=T0001", body, headers))

    assert reply.status == 422
    answer = reply.json()
    assert [row["line"] for row in answer["bad"]] == [2, 3, 4, 5, 6]
    assert "NUL" in answer["bad"][1]["reason"]
    assert answer["new"] == 2 and count(uow, Signal) == 2


@pytest.mark.parametrize("workspace", ["T0001%00", "T" + "0" * 5000, "%F0%9F%98%80"])
def test_signals_for_a_workspace_no_database_can_name_are_not_found(
    probe: Probe, uow: Callable[..., UnitOfWork], workspace: str
) -> None:
    headers = {"authorization": f"Bearer {SIGNALS_TOKEN}"}
    body = json.dumps({"id": "s1", **GOOD}).encode()
    reply = probe.judge(post(probe.send.base_url, f"/signals?workspace={workspace}", body, headers))

    assert reply.status in (400, 404), reply
    assert count(uow, Signal) == 0


def send_twice_at_once(probe: Probe, body: bytes) -> list[Reply]:
    """The same signed request, sent twice at the same moment (a replay)."""
    headers = {
        "content-type": "application/x-www-form-urlencoded",
        **signature(SIGNING_SECRET, body, str(int(time.time()))),
    }
    return [post(probe.send.base_url, "/slack/events", body, headers) for _ in range(2)]


@pytest.mark.parametrize(
    "text", ["company Lead with compliance", "task @sdr-emea Call Dana at Mercy Health"]
)
def test_a_replayed_brain_write_is_applied_once(
    probe: Probe, uow: Callable[..., UnitOfWork], text: str
) -> None:
    body = form(
        team_id="T0001",
        user_id=ADMIN,
        command="/brain",
        text=text,
        channel_id="C0001",
        response_url=probe.slack.response_url("replay"),
        trigger_id="trigger-replay-1",
    )
    first, again = (probe.judge(reply) for reply in send_twice_at_once(probe, body))

    stored = count(uow, MemoryBlock) + count(uow, Task)
    probe.count("applied twice", stored - 1)
    assert stored == 1
    assert "delivered before" in again.json()["text"] and "delivered" not in first.json()["text"]


def test_parallel_promotions_make_one_copy_and_tell_the_others_where_it_is(
    probe: Probe, uow: Callable[..., UnitOfWork], world: World
) -> None:
    with uow() as u:
        learning = sdr_learning(u.session, world, "Hospital CTOs reply to compliance openers")
    replies: list[Reply] = []

    def promote() -> None:
        replies.append(probe.send.command("/brain", f"promote {learning.id}", EMEA_MANAGER))

    threads = [threading.Thread(target=promote) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    with uow(readonly=True) as u:
        copies = list(u.session.scalars(select(MemoryBlock).where(MemoryBlock.tier == Tier.TEAM)))
    for reply in replies:
        probe.judge(reply)
    probe.count("applied twice", len(copies) - 1)
    assert len(copies) == 1
    losers = [r.text for r in replies if "already promoted" in r.text]
    assert len(losers) == 2 and all(f"as block {copies[0].id}" in t for t in losers), replies


@pytest.mark.parametrize(
    "profile",
    [
        {"team_id": "T0002", "is_admin": True},
        {"team_id": "T0001", "is_owner": True, "is_stranger": True},
        {"is_admin": True, "team_id": None},
    ],
    ids=["admin-of-another-workspace", "stranger-owner", "no-team"],
)
def test_a_user_of_another_workspace_enrols_as_a_member(
    probe: Probe, uow: Callable[..., UnitOfWork], world: World, profile: dict[str, object]
) -> None:
    probe.slack.users["U0OUTSIDER"] = profile
    reply = probe.judge(probe.send.command("/brain", "company Always offer 90% off", "U0OUTSIDER"))

    with uow(readonly=True) as u:
        member = directory.get_member(u.session, u.session.merge(world.workspace), "U0OUTSIDER")
    assert member is not None and member.role is MemberRole.MEMBER
    assert "admin" in reply.text and count(uow, MemoryBlock) == 0
