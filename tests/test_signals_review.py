"""The director's review: which learnings qualify for the Team Brain, and who may promote them."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from sqlalchemy import select
from sqlalchemy.engine import Engine

from core import memory
from core.db import UnitOfWork
from core.errors import PermissionDenied
from core.models import AuditEvent, BlockType, MemoryBlock, Tier
from core.permissions import Actor
from core.signals import PromotionCandidate, analyze, import_signals, review_team
from core.signals.simulation import Campaign, as_csv, simulate
from tests.conftest import World

EFFECTS = {"subject_format": {"question": 0.45}, "segment": {"healthcare": 0.12}}
OBJECTIONS = {"budget freeze": 0.30}


def _load_and_analyze(
    engine: Engine, uow: Callable[..., UnitOfWork], world: World, campaign: Campaign
) -> None:
    assert import_signals(engine, "T0001", as_csv(simulate(campaign))).bad_total == 0
    with uow() as u:
        analyze(u.session, world.workspace)


def _review(
    uow: Callable[..., UnitOfWork], world: World, team: str = "emea"
) -> list[PromotionCandidate]:
    with uow(readonly=True) as u:
        return review_team(u.session, world.workspace, team)


def _block(uow: Callable[..., UnitOfWork], block_id: int) -> MemoryBlock:
    with uow(readonly=True) as u:
        block = u.session.get(MemoryBlock, block_id)
        assert block is not None
        return block


def test_a_finding_holding_for_two_agents_of_the_team_is_a_candidate(
    engine: Engine, uow: Callable[..., UnitOfWork], world: World
) -> None:
    campaign = Campaign(agents=("sdr-emea", "ae-emea"), effects=EFFECTS, objections=OBJECTIONS)
    _load_and_analyze(engine, uow, world, campaign)

    candidates = _review(uow, world)

    assert {c.evidence["finding"] for c in candidates} == {
        "open_rate/subject_format/question",
        "reply_rate/segment/healthcare",
        "objection_share/objection/budget freeze",
    }
    for candidate in candidates:
        assert candidate.evidence["rule"] == "agents"
        assert [a["who"] for a in candidate.evidence["agents"]] in (
            ["sdr-emea", "ae-emea"],
            ["ae-emea", "sdr-emea"],
        )
        assert candidate.reason.startswith("holds for 2 agents of team emea: ")
        # The block proposed is the team's pooled pattern, on the director's brain.
        block = _block(uow, candidate.block_id)
        assert (block.agent_id, block.type) == (world.director.id, BlockType.PATTERN)
        assert block.content == candidate.content
    assert _review(uow, world, "amer") == []


def test_one_agents_finding_qualifies_only_with_strong_evidence(
    engine: Engine, uow: Callable[..., UnitOfWork], world: World
) -> None:
    # Only sdr-amer sends in team amer: no pooled pattern, no second agent.
    campaign = Campaign(agents=("sdr-amer",), effects=EFFECTS, objections=OBJECTIONS)
    _load_and_analyze(engine, uow, world, campaign)

    candidates = _review(uow, world, "amer")

    # Opens and segment replies rest on hundreds of sends; the objection on ~100 replies,
    # under the 300 observations strong evidence needs.
    assert {c.evidence["finding"] for c in candidates} == {
        "open_rate/subject_format/question",
        "reply_rate/segment/healthcare",
    }
    for candidate in candidates:
        assert candidate.evidence["rule"] == "strong"
        assert candidate.reason.startswith("strong evidence from sdr-amer: ")
        assert "99% CI" in candidate.reason
        assert _block(uow, candidate.block_id).agent_id == world.amer_sdr.id


def test_the_director_promotes_a_candidate_and_the_whole_team_sees_it(
    engine: Engine, uow: Callable[..., UnitOfWork], world: World
) -> None:
    campaign = Campaign(agents=("sdr-emea", "ae-emea"), effects=EFFECTS, objections=OBJECTIONS)
    _load_and_analyze(engine, uow, world, campaign)
    candidate, *others = _review(uow, world)

    with uow() as u:
        promoted = memory.promote(
            u.session, world.workspace, candidate.block_id, "team", by=Actor.agent("dir-emea")
        )
    source = _block(uow, candidate.block_id)
    assert (promoted.tier, promoted.team_id) == (Tier.TEAM, world.emea.id)
    assert promoted.promoted_from_id == source.id and promoted.promoted_by == "dir-emea"
    assert promoted.evidence == source.evidence and promoted.content == source.content

    with uow(readonly=True) as u:
        for handle in ("sdr-emea", "ae-emea"):
            seen = memory.list_blocks(u.session, world.workspace, agent=handle, tier="team")
            assert [block.id for block in seen] == [promoted.id]
        assert memory.list_blocks(u.session, world.workspace, agent="sdr-amer", tier="team") == []
    # Once on the Team Brain, a finding is not proposed again.
    assert [c.block_id for c in _review(uow, world)] == [c.block_id for c in others]


@pytest.mark.parametrize("promoter", ["sdr-emea", "dir-amer"])
def test_only_the_teams_director_agent_may_promote_its_candidates(
    engine: Engine, uow: Callable[..., UnitOfWork], world: World, promoter: str
) -> None:
    campaign = Campaign(agents=("sdr-emea", "ae-emea"), effects=EFFECTS, objections=OBJECTIONS)
    _load_and_analyze(engine, uow, world, campaign)
    candidate = _review(uow, world)[0]

    with pytest.raises(PermissionDenied) as refused, uow() as u:
        memory.promote(
            u.session, world.workspace, candidate.block_id, "team", by=Actor.agent(promoter)
        )

    assert "may not promote" in str(refused.value)
    with uow(readonly=True) as u:
        team_blocks = u.session.scalars(select(MemoryBlock).where(MemoryBlock.tier == Tier.TEAM))
        assert list(team_blocks) == []
        [event] = u.session.scalars(select(AuditEvent).where(AuditEvent.outcome == "refused"))
    assert (event.actor, event.action) == (f"agent:{promoter}", "promote")
    assert len(_review(uow, world)) == 3
