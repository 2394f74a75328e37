"""/brain replay <cycle> <model> through Slack: checked in the ack, the comparison follows
ephemerally, nothing is written."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.engine import Engine

from core.db import UnitOfWork
from core.heartbeat.backends.offline import OfflineBackend
from core.models import Agent, AuditEvent, Cycle, MemoryBlock, OutboxMessage, Task
from tests.conftest import EMEA_MANAGER, MEMBER, World
from tests.cycles import run_now
from tests.fakes.slack_api import FakeSlack
from tests.fakes.slack_requests import SlackSender
from tests.slack.test_reports import with_runner  # noqa: F401  (a fixture)


def _counts(uow: Callable[..., UnitOfWork]) -> list[int | None]:
    with uow(readonly=True) as u:
        return [
            u.session.scalar(select(func.count()).select_from(table))
            for table in (MemoryBlock, Task, Cycle, OutboxMessage)
        ]


def test_brain_replay_answers_at_once_and_the_comparison_follows_ephemerally(
    with_runner: SlackSender,  # noqa: F811
    slack: FakeSlack,
    engine: Engine,
    uow: Callable[..., UnitOfWork],
    world: World,
) -> None:
    cycle = run_now(engine, world.workspace, "sdr-emea", OfflineBackend())
    before = _counts(uow)

    reply = with_runner.command("/brain", f"replay {cycle['id']} claude-opus-5-5", EMEA_MANAGER)

    assert reply.json()["response_type"] == "ephemeral"
    assert reply.text == (
        f"Replaying cycle {cycle['id']} of sdr-emea on claude-opus-5-5: the comparison follows "
        "here. Nothing is written."
    )
    [followed] = slack.wait_for(f"respond/{reply.response_url}", timeout=15)
    answer: dict[str, Any] = followed.args
    assert answer["response_type"] == "ephemeral"
    blocks = answer["blocks"]
    assert blocks[0]["text"]["text"] == (
        f"Cycle {cycle['id']} of sdr-emea replayed on claude-opus-5-5"
    )
    left, right = (field["text"] for field in blocks[2]["fields"])
    assert left.startswith(f"*cycle {cycle['id']}*\nclaude-sonnet-5-5 (offline)\nsucceeded")
    assert right.startswith("*replay*\nclaude-opus-5-5 (offline)\nsucceeded")
    assert "finish_cycle (accepted)" in blocks[4]["text"]["text"]
    assert _counts(uow) == before


def test_brain_replay_bad_input_is_one_line_and_nothing_follows(
    with_runner: SlackSender,  # noqa: F811
    slack: FakeSlack,
    engine: Engine,
    uow: Callable[..., UnitOfWork],
    world: World,
) -> None:
    fine = run_now(engine, world.workspace, "sdr-emea", OfflineBackend())
    other = run_now(engine, world.other_workspace, "sdr-emea", OfflineBackend())
    with uow() as u:
        u.session.get_one(Agent, world.ae.id).model = "claude-2.1"  # retired in the fixture table
    failed = run_now(engine, world.workspace, "ae-emea", OfflineBackend())
    before = _counts(uow)

    answers = {
        words: with_runner.command("/brain", words, user)
        for words, user in [
            (f"replay {fine['id']} claude-opus-5-5", MEMBER),
            (f"replay {fine['id']} gpt-4", EMEA_MANAGER),
            (f"replay {other['id']} claude-opus-5-5", EMEA_MANAGER),
            (f"replay {failed['id']} claude-opus-5-5", EMEA_MANAGER),
            (f"replay {fine['id']}", EMEA_MANAGER),
        ]
    }

    texts = [reply.text for reply in answers.values()]
    assert texts[0].startswith(f"U0MEMB (member) may not replay sdr-emea's cycle {fine['id']}")
    assert texts[1].startswith("model: gpt-4 is not a model this installation knows")
    assert texts[2] == f"cycle {other['id']} not found"
    assert texts[3].startswith(f"cycle: cycle {failed['id']} failed: model retired on 2025-07-21")
    assert texts[4] == "replay: give a cycle and a model: /brain replay 42 claude-opus-5-5"
    assert all("\n" not in text for text in texts)
    assert all(slack.responses(reply.response_url) == [] for reply in answers.values())
    assert _counts(uow) == before
    with uow(readonly=True) as u:
        refusal = u.session.scalars(
            select(AuditEvent).where(AuditEvent.action == "cycle.replay")
        ).one()
        assert refusal.outcome == "refused"
