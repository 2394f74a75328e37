"""The director coaches: through the offline backend, and through the anthropic backend (the
real SDK against the fake Messages API); what waits for a manager and what is refused."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.engine import Engine

from bot.demo_director import approve_waiting, approving
from core import clock, use_cases
from core.db import UnitOfWork, unit_of_work
from core.heartbeat.backends.offline import OfflineBackend
from core.heartbeat.config import HeartbeatSettings
from core.models import AuditEvent, BlockType, ProposalKind, ProposalStatus
from core.permissions import Actor
from core.signals import import_signals
from core.signals.simulation import Campaign, as_csv, simulate
from tests.conftest import EMEA_MANAGER, World
from tests.cycles import anthropic_backend, blocks, outbox_of, run_now, set_autonomy
from tests.fakes.anthropic_api import FakeAnthropic, finish, message, tool_use

MONDAY = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
OFFLINE = OfflineBackend()
QUICK = HeartbeatSettings(lease_seconds=120, model_timeout_seconds=2, model_max_retries=0)


def _sdr_finding(engine: Engine) -> None:
    """Signals of sdr-emea alone, with one real effect: question subject lines."""
    campaign = Campaign(
        agents=("sdr-emea",), sends_per_agent=2_000, effects={"subject_format": {"question": 0.45}}
    )
    assert import_signals(engine, "T0001", as_csv(simulate(campaign))).bad_total == 0


def _coaching(engine: Engine) -> list[tuple[int | None, str]]:
    return [(b.agent_id, b.content) for b in blocks(engine) if b.type is BlockType.COACHING]


def test_the_offline_director_turns_an_sdrs_finding_into_coaching_a_manager_approves(
    engine: Engine, world: World
) -> None:
    _sdr_finding(engine)
    with clock.frozen_at(MONDAY):
        run_now(engine, world.workspace, "sdr-emea", OFFLINE)
        director = run_now(engine, world.workspace, "dir-emea", OFFLINE)

    [coached] = [c for c in director["tool_calls"] if c["name"] == "coach_agent"]
    assert coached["input"]["agent"] == "ae-emea"  # the finding is sdr-emea's own already
    finding = coached["input"]["finding"]
    # The note names the rule and the finding; the numbers stay in the evidence (they move).
    assert coached["input"]["note"] == (
        f'From sdr-emea\'s results (finding block {finding}): write "question" subject lines.'
    )
    assert coached["input"]["evidence"].startswith(f"finding block {finding}: strong evidence")
    assert coached["status"] == "applied" and "waits for a manager" in coached["result"]
    assert director["context"]["coaching_leads"] == ["ae-emea"]
    report = outbox_of(engine, director["id"])
    assert report is not None
    assert "proposed coaching for ae-emea (a manager approves)" in report.text
    assert _coaching(engine) == []

    [waiting] = [
        p
        for p in use_cases.director_proposals(UnitOfWork(engine), "T0001", "pending")
        if p.kind is ProposalKind.COACHING
    ]
    approved = use_cases.approve_proposal(
        UnitOfWork(engine), "T0001", waiting.id, Actor.member(EMEA_MANAGER)
    )
    assert _coaching(engine) == [(world.ae.id, coached["input"]["note"])]

    # The note reaches the coached agent as new coaching; the director does not repeat it.
    with clock.frozen_at(MONDAY + timedelta(days=2)):
        ae = run_now(engine, world.workspace, "ae-emea", OFFLINE)
        again = run_now(engine, world.workspace, "dir-emea", OFFLINE)
    assert approved.block_id in ae["context"]["new_coaching"]
    assert not [c for c in again["tool_calls"] if c["name"] == "coach_agent"]


def test_the_offline_director_coaches_an_agent_once_a_day(engine: Engine, world: World) -> None:
    _sdr_finding(engine)
    set_autonomy(engine, "apply")
    with clock.frozen_at(MONDAY):
        run_now(engine, world.workspace, "sdr-emea", OFFLINE)
        first = run_now(engine, world.workspace, "dir-emea", OFFLINE)
    [coached] = [c for c in first["tool_calls"] if c["name"] == "coach_agent"]
    assert coached["block_id"] in first["new_block_ids"]
    assert "a manager may retract it" in coached["result"]
    [(agent_id, _)] = _coaching(engine)
    assert agent_id == world.ae.id


@pytest.fixture
def fake() -> Iterator[FakeAnthropic]:
    with FakeAnthropic(hang_seconds=5) as server:
        yield server


def test_the_anthropic_director_coaches_its_teammate_and_is_refused_outside_its_team(
    engine: Engine, world: World, fake: FakeAnthropic
) -> None:
    set_autonomy(engine, "apply")
    fake.script(
        message(
            tool_use(
                "coach_agent",
                agent="sdr-emea",
                note="Ask one question in the subject line",
                evidence="finding block 4: 41% vs 24% opens",
            ),
            tool_use("coach_agent", agent="sdr-amer", note="Same for you", evidence="block 4"),
            tool_use("coach_agent", agent="sdr-emea", note="And again", evidence="block 4"),
        ),
        message(finish("Coached the SDR")),
    )
    cycle = run_now(engine, world.workspace, "dir-emea", anthropic_backend(fake.url, QUICK))

    assert cycle["status"] == "succeeded", cycle["error"]
    assert [(c["name"], c["status"]) for c in cycle["tool_calls"]] == [
        ("coach_agent", "applied"),
        ("coach_agent", "refused"),
        ("coach_agent", "refused"),
        ("finish_cycle", "applied"),
    ]
    first, second = fake.requests
    assert "coach_agent" in {tool["name"] for tool in first.body["tools"]}
    results = second.tool_results
    assert [r["is_error"] for r in results] == [False, True, True]
    assert "'sdr-amer' is not an agent of team emea" in results[1]["content"]
    assert "at most 1 per agent per day" in results[2]["content"]
    [note] = [b for b in blocks(engine) if b.type is BlockType.COACHING]
    assert (note.agent_id, note.source_by, note.importance) == (world.sdr.id, "dir-emea", 0.8)
    with unit_of_work(engine, readonly=True) as session:
        refused = session.scalars(select(AuditEvent).where(AuditEvent.outcome == "refused"))
        pairs = [(e.actor, e.action) for e in refused]
    assert pairs == [("agent:dir-emea", "tool.coach_agent")] * 2
    [applied] = use_cases.director_proposals(UnitOfWork(engine), "T0001", "applied")
    assert (applied.block_id, applied.status) == (note.id, ProposalStatus.APPLIED)


def test_an_sdr_that_calls_coach_agent_is_refused_and_nothing_is_written(
    engine: Engine, world: World, fake: FakeAnthropic
) -> None:
    fake.script(
        message(tool_use("coach_agent", agent="ae-emea", note="Do as I do", evidence="me")),
        message(finish("Tried")),
    )
    cycle = run_now(engine, world.workspace, "sdr-emea", anthropic_backend(fake.url, QUICK))

    [call] = [c for c in cycle["tool_calls"] if c["name"] == "coach_agent"]
    assert call["status"] == "refused" and "only director agents" in call["result"]
    assert _coaching(engine) == []


def test_the_demo_step_approves_what_waits_and_says_what_each_approval_wrote(
    engine: Engine, world: World
) -> None:
    _sdr_finding(engine)
    with clock.frozen_at(MONDAY):
        run_now(engine, world.workspace, "sdr-emea", OFFLINE)
        run_now(engine, world.workspace, "dir-emea", OFFLINE)

    promotion, coaching = approving(EMEA_MANAGER)(engine, world.workspace.id).split("\n        ")

    assert re.fullmatch(
        r"dir-emea proposed to promote block \d+ to the emea Team Brain \(proposal 1\); "
        r"U0EMEA approved it: Team Brain block \d+",
        promotion,
    )
    assert coaching.startswith("dir-emea proposed to coach ae-emea: From sdr-emea's results")
    assert re.search(
        r"U0EMEA approved it: coaching block \d+ on ae-emea's Personal Brain$", coaching
    )
    assert approve_waiting(engine, world.workspace.id, EMEA_MANAGER) == [
        "no director proposal is waiting"
    ]
