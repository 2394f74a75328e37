"""The director's review: which learnings qualify for the Team Brain, and who may promote them."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.engine import Engine

from core import clock, memory, use_cases
from core.db import UnitOfWork
from core.errors import AlreadyDone, InvalidInput, PermissionDenied
from core.models import AuditEvent, BlockStatus, BlockType, MemoryBlock, Tier
from core.permissions import Actor
from core.signals import (
    PromotionCandidate,
    StaleCopy,
    analyze,
    import_signals,
    review_team,
    stale_copies,
)
from core.signals.simulation import Campaign, as_csv, simulate
from tests.conftest import World

EFFECTS = {"subject_format": {"question": 0.45}, "segment": {"healthcare": 0.12}}
OBJECTIONS = {"budget freeze": 0.30}
T0 = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)


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

    with pytest.raises(PermissionDenied) as refused:
        use_cases.promote(uow(), "T0001", candidate.block_id, "team", Actor.agent(promoter))

    assert "may not promote" in str(refused.value)
    with uow(readonly=True) as u:
        team_blocks = u.session.scalars(select(MemoryBlock).where(MemoryBlock.tier == Tier.TEAM))
        assert list(team_blocks) == []
        [event] = u.session.scalars(select(AuditEvent).where(AuditEvent.outcome == "refused"))
    assert (event.actor, event.action) == (f"agent:{promoter}", "promote")
    assert len(_review(uow, world)) == 3


DIRECTOR = Actor.agent("dir-emea")
QUESTION = {"subject_format": {"question": 0.5}}
TEAM_OF_TWO = Campaign(
    agents=("sdr-emea", "ae-emea"), effects=QUESTION, objections={}, id_prefix="a-"
)


def _promote_the_candidate(
    engine: Engine, uow: Callable[..., UnitOfWork], world: World, campaign: Campaign
) -> tuple[int, int]:
    """Load, analyse at T0, promote the one candidate: (its block, the Team Brain copy)."""
    with clock.frozen_at(T0):
        _load_and_analyze(engine, uow, world, campaign)
    [candidate] = _review(uow, world)
    with uow() as u:
        copy = memory.promote(u.session, world.workspace, candidate.block_id, "team", by=DIRECTOR)
    return candidate.block_id, copy.id


def _stale(uow: Callable[..., UnitOfWork], world: World) -> list[StaleCopy]:
    with uow(readonly=True) as u:
        return stale_copies(u.session, world.workspace, "emea")


def _analyze_at(
    engine: Engine, uow: Callable[..., UnitOfWork], world: World, campaign: Campaign, at: datetime
) -> None:
    with clock.frozen_at(at):
        _load_and_analyze(engine, uow, world, campaign)


def test_a_team_copy_whose_finding_was_refreshed_is_listed_and_refreshed_by_the_director(
    engine: Engine, uow: Callable[..., UnitOfWork], world: World
) -> None:
    original, copy = _promote_the_candidate(engine, uow, world, TEAM_OF_TWO)
    assert _stale(uow, world) == []

    more = replace(TEAM_OF_TWO, seed=7, id_prefix="b-", start=TEAM_OF_TWO.start + timedelta(20))
    _analyze_at(engine, uow, world, more, T0 + timedelta(days=3))

    [stale] = _stale(uow, world)
    moved = _block(uow, original)
    assert (stale.block_id, stale.action, stale.current_id) == (copy, "refresh", original)
    assert stale.finding == "open_rate/subject_format/question"
    assert stale.reason == f"its finding now says: {moved.content}"
    assert stale.content == _block(uow, copy).content != moved.content

    # Promoting the finding again says where the copy is and what to do.
    hint = f"as block {copy} \\(active\\), which no longer says what it says: refresh block {copy}"
    with pytest.raises(AlreadyDone, match=hint), uow() as u:
        memory.promote(u.session, world.workspace, original, "team", by=DIRECTOR)
    with clock.frozen_at(T0 + timedelta(days=4)), uow() as u:
        memory.refresh(u.session, world.workspace, copy, by=DIRECTOR)
    refreshed = _block(uow, copy)
    assert (refreshed.content, refreshed.evidence) == (moved.content, moved.evidence)
    assert refreshed.importance == moved.importance and refreshed.tier is Tier.TEAM
    assert refreshed.updated_at == T0 + timedelta(days=4)
    assert _stale(uow, world) == []
    with uow(readonly=True) as u:
        events = u.session.scalars(select(AuditEvent).where(AuditEvent.action == "refresh"))
        assert [(e.actor, e.target, e.outcome) for e in events] == [
            ("agent:dir-emea", f"block:{copy}", "ok")
        ]
    already = f"block {copy} already says what block {original}"
    with pytest.raises(AlreadyDone, match=already), uow() as u:
        memory.refresh(u.session, world.workspace, copy, by=DIRECTOR)


def test_a_team_copy_whose_finding_stopped_holding_is_listed_for_archiving_then_its_comeback(
    engine: Engine, uow: Callable[..., UnitOfWork], world: World
) -> None:
    original, copy = _promote_the_candidate(engine, uow, world, TEAM_OF_TWO)

    reversal = {"subject_format": {"question": 0.08}}
    _analyze_at(
        engine,
        uow,
        world,
        replace(TEAM_OF_TWO, seed=2, id_prefix="b-", sends_per_agent=6_000, effects=reversal),
        T0 + timedelta(days=1),
    )

    [stale] = _stale(uow, world)
    assert (stale.block_id, stale.action, stale.current_id) == (copy, "archive", None)
    assert stale.reason.startswith(
        f"block {original} of its finding is superseded: No longer supported by the signals"
    )
    # Who may not refresh it learns that, not the state of the copy.
    with pytest.raises(PermissionDenied), uow() as u:
        memory.refresh(u.session, world.workspace, copy, by=Actor.agent("sdr-emea"))
    gone = "which is superseded: archive the copy instead"
    with pytest.raises(InvalidInput, match=gone), uow() as u:
        memory.refresh(u.session, world.workspace, copy, by=DIRECTOR)
    assert _block(uow, copy).status is BlockStatus.ACTIVE

    comeback = {"subject_format": {"question": 0.9}}
    _analyze_at(
        engine,
        uow,
        world,
        replace(TEAM_OF_TWO, seed=3, id_prefix="c-", sends_per_agent=12_000, effects=comeback),
        T0 + timedelta(days=2),
    )

    [stale] = _stale(uow, world)
    assert (stale.block_id, stale.action) == (copy, "archive")
    assert stale.current_id is not None and stale.current_id != original
    assert stale.reason.startswith(f"its finding holds again as block {stale.current_id}: ")
    with uow() as u:
        memory.archive(u.session, world.workspace, copy, by=DIRECTOR)
        memory.promote(u.session, world.workspace, stale.current_id, "team", by=DIRECTOR)
    assert _stale(uow, world) == []


def test_only_who_may_promote_may_refresh_and_only_a_promoted_copy(
    engine: Engine, uow: Callable[..., UnitOfWork], world: World
) -> None:
    original, copy = _promote_the_candidate(engine, uow, world, TEAM_OF_TWO)
    more = replace(TEAM_OF_TWO, seed=7, id_prefix="b-", start=TEAM_OF_TWO.start + timedelta(20))
    _analyze_at(engine, uow, world, more, T0 + timedelta(days=3))
    before = _block(uow, copy).content

    with pytest.raises(PermissionDenied, match="may not promote"):
        use_cases.refresh(uow(), "T0001", copy, Actor.agent("sdr-emea"))
    with pytest.raises(InvalidInput, match=f"block {original} is not a promoted copy"), uow() as u:
        memory.refresh(u.session, world.workspace, original, by=DIRECTOR)

    assert _block(uow, copy).content == before
    with uow(readonly=True) as u:
        [event] = u.session.scalars(select(AuditEvent).where(AuditEvent.outcome == "refused"))
    assert (event.actor, event.action) == ("agent:sdr-emea", "promote")


def _team_blocks_about(uow: Callable[..., UnitOfWork], world: World, value: str) -> list[int]:
    with uow(readonly=True) as u:
        blocks = u.session.scalars(select(MemoryBlock).order_by(MemoryBlock.id))
        return [b.agent_id or 0 for b in blocks if (b.evidence or {}).get("value") == value]


def test_a_pooled_rate_that_only_mixes_the_agents_baselines_is_no_team_finding_nor_candidate(
    engine: Engine, uow: Callable[..., UnitOfWork], world: World
) -> None:
    # sdr-emea replies more everywhere and writes mostly to healthcare; ae-emea replies
    # less and writes to every segment alike. Within each agent healthcare is no better,
    # yet the team's pooled healthcare rate (about 9% vs 7%) clears even a 99% interval.
    busy = Campaign(
        agents=("sdr-emea",),
        reply_rate=0.12,
        weights={"segment": {"healthcare": 6}},
        objections={},
        id_prefix="a-",
    )
    quiet = Campaign(agents=("ae-emea",), reply_rate=0.03, objections={}, seed=101, id_prefix="b-")
    assert import_signals(engine, "T0001", as_csv(simulate(busy))).bad_total == 0
    _load_and_analyze(engine, uow, world, quiet)

    assert _team_blocks_about(uow, world, "healthcare") == []
    assert _review(uow, world) == []


def test_one_strong_agent_does_not_pass_as_a_team_effect(
    engine: Engine, uow: Callable[..., UnitOfWork], world: World
) -> None:
    strong = Campaign(
        agents=("sdr-emea",), effects={"segment": {"healthcare": 0.15}}, objections={}
    )
    plain = Campaign(agents=("ae-emea",), objections={}, seed=2, id_prefix="b-")
    assert import_signals(engine, "T0001", as_csv(simulate(strong))).bad_total == 0
    _load_and_analyze(engine, uow, world, plain)

    # The pooled test alone would pass; without sdr-emea the team does not show it.
    assert _team_blocks_about(uow, world, "healthcare") == [world.sdr.id]
    [candidate] = _review(uow, world)
    assert candidate.reason.startswith("strong evidence from sdr-emea: ")
    assert candidate.evidence["team"] is None


def test_a_pooled_finding_no_agent_shows_alone_qualifies_on_its_test_within_agents(
    engine: Engine, uow: Callable[..., UnitOfWork], world: World
) -> None:
    # Each of three agents has too few question sends to show the lift alone.
    campaign = Campaign(
        agents=("sdr-emea", "ae-emea", "dir-emea"),
        sends_per_agent=600,
        seed=10,
        effects={"subject_format": {"question": 0.36}},
        objections={},
    )
    _load_and_analyze(engine, uow, world, campaign)

    [candidate] = [c for c in _review(uow, world) if c.evidence["finding"].endswith("/question")]
    assert candidate.evidence["agents"] == [] and candidate.evidence["rule"] == "strong"
    assert candidate.reason.startswith("strong evidence from team emea pooled: ")
    assert "within each agent p=" in candidate.reason
    block = _block(uow, candidate.block_id)
    assert (block.agent_id, block.type) == (world.director.id, BlockType.PATTERN)
    assert (block.evidence or {})["test"] == "cochran-mantel-haenszel"
