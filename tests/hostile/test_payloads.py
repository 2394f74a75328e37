"""Signed payloads that are not of Slack's shape are acknowledged and ignored, each with one
log line: no listener runs half-way, nothing is stored, nobody is answered."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import func, select

from core.db import UnitOfWork
from core.models import MemoryBlock
from tests.hostile.conftest import Probe

MENTION = {"type": "app_mention", "user": "U0ADMIN", "channel": "C0001", "ts": "1.1"}
REACTION = {"type": "reaction_added", "user": "U0ADMIN", "reaction": "brain"}
EVENTS: dict[str, dict[str, Any]] = {
    "reaction whose item has no channel": {**REACTION, "item": {"type": "message", "ts": "1.1"}},
    "reaction whose item is a string": {**REACTION, "item": "message"},
    "reaction whose item is a list": {**REACTION, "item": ["message"]},
    "reaction whose ts is a number": {
        **REACTION,
        "item": {"type": "message", "channel": "C0001", "ts": 1.1},
    },
    "mention without a channel": {k: v for k, v in MENTION.items() if k != "channel"},
    "mention without a ts": {k: v for k, v in MENTION.items() if k != "ts"},
    "mention whose channel is an object": {**MENTION, "channel": {"id": "C0001"}},
    "home opened on a tab that is a list": {
        "type": "app_home_opened",
        "user": "U0ADMIN",
        "tab": [],
    },
    "event without a type": {"user": "U0ADMIN", "channel": "C0001"},
    "user id of 40 characters": {**MENTION, "user": "U" + "0" * 39},
    "user id with a NUL": {**MENTION, "user": "U0\x00"},
    "reaction on a channel with a NUL": {
        **REACTION,
        "item": {"type": "message", "channel": "C0\x00", "ts": "1.1"},
    },
    "reaction on a channel with a lone surrogate": {
        **REACTION,
        "item": {"type": "message", "channel": "C0\ud800", "ts": "1.1"},
    },
}
VIEW = {"id": "V1", "type": "modal", "callback_id": "coach_form", "state": {"values": {}}}
INTERACTIONS: dict[str, dict[str, Any]] = {
    "block action without trigger_id": {
        "type": "block_actions",
        "user": {"id": "U0ADMIN", "team_id": "T0001"},
        "actions": [{"action_id": "coach_agent", "value": "sdr-emea"}],
    },
    "block action whose actions hold a number": {
        "type": "block_actions",
        "trigger_id": "t1",
        "user": {"id": "U0ADMIN", "team_id": "T0001"},
        "actions": [5],
    },
    "view submission whose view has no type": {
        "type": "view_submission",
        "user": {"id": "U0ADMIN", "team_id": "T0001"},
        "view": {k: v for k, v in VIEW.items() if k != "type"},
    },
    "view submission whose view is a string": {
        "type": "view_submission",
        "user": {"id": "U0ADMIN", "team_id": "T0001"},
        "view": "modal",
    },
    "view submission whose metadata is not JSON": {
        "type": "view_submission",
        "user": {"id": "U0ADMIN", "team_id": "T0001"},
        "view": {**VIEW, "private_metadata": "{not json"},
    },
    "view submission whose values are strings": {
        "type": "view_submission",
        "user": {"id": "U0ADMIN", "team_id": "T0001"},
        "view": {**VIEW, "state": {"values": {"note": "text"}}},
    },
    "view submission with an importance of infinity": {
        "type": "view_submission",
        "user": {"id": "U0ADMIN", "team_id": "T0001"},
        "view": {
            **VIEW,
            "state": {
                "values": {
                    "agent": {"value": {"selected_option": {"value": "sdr-emea"}}},
                    "note": {"value": {"value": "Lead with compliance"}},
                    "importance": {"value": {"selected_option": {"value": "1e400"}}},
                }
            },
        },
    },
    "user that is a string": {
        "type": "block_actions",
        "trigger_id": "t1",
        "user": "U0ADMIN",
        "actions": [{"action_id": "coach_agent", "value": "sdr-emea"}],
    },
}


def blocks_stored(uow: Callable[..., UnitOfWork]) -> int:
    with uow(readonly=True) as u:
        return u.session.scalar(select(func.count()).select_from(MemoryBlock)) or 0


@pytest.mark.parametrize("name", list(EVENTS))
def test_a_malformed_event_is_ignored_with_one_log_line(
    probe: Probe, uow: Callable[..., UnitOfWork], name: str
) -> None:
    reply = probe.judge(probe.send.event(EVENTS[name]))

    assert reply.status == 200
    assert probe.logs.tracebacks() == []
    assert len([w for w in probe.logs.warnings() if "malformed" in w]) == 1
    assert probe.outbound() == []
    assert blocks_stored(uow) == 0


@pytest.mark.parametrize("name", list(INTERACTIONS))
def test_a_malformed_interaction_is_ignored_with_one_log_line(
    probe: Probe, uow: Callable[..., UnitOfWork], name: str
) -> None:
    reply = probe.judge(probe.send.interaction(json.loads(json.dumps(INTERACTIONS[name]))))

    assert reply.status == 200
    assert probe.logs.tracebacks() == []
    assert len([w for w in probe.logs.warnings() if "malformed" in w]) == 1
    assert probe.outbound() == []
    assert blocks_stored(uow) == 0


def test_an_event_id_too_long_to_remember_is_ignored(probe: Probe) -> None:
    reply = probe.judge(probe.send.event(MENTION, event_id="Ev" + "0" * 200))

    assert reply.status == 200
    assert probe.logs.tracebacks() == []
    assert probe.outbound() == []


def test_a_command_with_a_team_id_too_long_for_any_column_is_ignored(probe: Probe) -> None:
    probe.send.team_id = "T" + "0" * 40
    reply = probe.judge(probe.send.command("/brain", "company x", "U0ADMIN"))

    assert reply.status == 200
    assert probe.logs.tracebacks() == []
    assert probe.outbound() == []
