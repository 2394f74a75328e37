"""The coaching form: a submission stores the block; a problem is shown by its field."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from bot.blocks import coach_modal
from core import memory
from core.db import UnitOfWork
from tests.conftest import EMEA_MANAGER, MEMBER, World
from tests.fakes.slack_requests import SlackSender

FORM = coach_modal([("sdr-emea", "sdr-emea"), ("ae-emea", "Alex")], None, {"channel": "C0001"})


def blocks(uow: Callable[..., UnitOfWork], world: World) -> list[Any]:
    with uow(readonly=True) as u:
        return [
            (b.content, b.type.value, b.importance, b.source_by)
            for b in memory.list_blocks(u.session, world.workspace)
        ]


def test_submitting_the_form_stores_the_block_and_shows_the_confirmation(
    send: SlackSender, uow: Callable[..., UnitOfWork], world: World
) -> None:
    values = {
        "agent": "ae-emea",
        "type": "objection_response",
        "importance": "0.8",
        "note": "When they say budget freeze, offer a pilot",
    }
    reply = send.submit(EMEA_MANAGER, FORM, values)

    answer = reply.json()
    assert answer["response_action"] == "update"
    assert "ae-emea's Personal Brain" in answer["view"]["blocks"][0]["text"]["text"]
    assert blocks(uow, world) == [
        ("When they say budget freeze, offer a pilot", "objection_response", 0.8, EMEA_MANAGER)
    ]


def test_an_empty_note_is_shown_next_to_the_note_and_nothing_is_stored(
    send: SlackSender, uow: Callable[..., UnitOfWork], world: World
) -> None:
    reply = send.submit(EMEA_MANAGER, FORM, {"agent": "sdr-emea", "type": "coaching", "note": " "})

    assert reply.json() == {"response_action": "errors", "errors": {"note": "note: is empty"}}
    assert blocks(uow, world) == []


def test_a_member_is_refused_next_to_the_agent(
    send: SlackSender, uow: Callable[..., UnitOfWork], world: World
) -> None:
    reply = send.submit(MEMBER, FORM, {"agent": "sdr-emea", "type": "coaching", "note": "Hi"})

    errors = reply.json()["errors"]
    assert list(errors) == ["agent"] and "may not coach sdr-emea" in errors["agent"]
    assert blocks(uow, world) == []
