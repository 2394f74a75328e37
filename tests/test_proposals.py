"""Who decides on a director's promotions and coaching: proposals, approval, retraction."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from core import clock, coaching, proposals, use_cases
from core.db import UnitOfWork
from core.errors import AlreadyDone, InvalidInput, PermissionDenied
from core.models import (
    AuditEvent,
    BlockStatus,
    BlockType,
    MemoryBlock,
    Proposal,
    ProposalStatus,
    SourceKind,
)
from core.permissions import Actor
from tests.conftest import ADMIN, AMER_MANAGER, EMEA_MANAGER, MEMBER, World
from tests.slack.conftest import sdr_learning

MONDAY = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
NOTE = "Open with the audit-trail question: it doubled sdr-emea's replies"
EVIDENCE = "finding block 7: question subjects 41% vs 24% (n=812)"
MANAGER = Actor.member(EMEA_MANAGER)

Uow = Callable[..., UnitOfWork]


def _coach(uow: Uow, world: World, agent: str = "ae-emea", director: str = "dir-emea") -> int:
    """The director coaches `agent`, as its cycle's write step does; the proposal's id."""
    with uow() as u:
        workspace = u.workspaces.by_team_id("T0001")  # its settings as stored now
        found = world.director if director == "dir-emea" else world.amer_director
        proposal = proposals.director_coaches(
            u.session, workspace, found, agent, NOTE, evidence=EVIDENCE, cycle_id=None
        )
        u.commit()
        return proposal.id


def _autonomy(uow: Uow, autonomy: str, notes_per_day: int | None = None) -> None:
    use_cases.configure_director(
        uow(), "T0001", Actor.member(ADMIN), autonomy=autonomy, notes_per_day=notes_per_day
    )


def _coaching_blocks(uow: Uow) -> list[MemoryBlock]:
    with uow(readonly=True) as u:
        return list(
            u.session.scalars(
                select(MemoryBlock)
                .where(MemoryBlock.type == BlockType.COACHING)
                .order_by(MemoryBlock.id)
            )
        )


def _audit(uow: Uow) -> list[tuple[str, str, str, str]]:
    """The audit log since the world was set up."""
    with uow(readonly=True) as u:
        events = u.session.scalars(
            select(AuditEvent)
            .where(AuditEvent.action.not_in(["workspace.create", "team.create"]))
            .where(AuditEvent.action.not_like("member.%"), AuditEvent.action.not_like("agent.%"))
            .order_by(AuditEvent.id)
        )
        return [(e.actor, e.action, e.target, e.outcome) for e in events]


def test_a_directors_note_waits_for_a_manager_and_is_stored_as_the_directors_on_approval(
    uow: Uow, world: World
) -> None:
    proposal_id = _coach(uow, world)

    assert _coaching_blocks(uow) == []
    [waiting] = use_cases.director_proposals(uow(readonly=True), "T0001", "pending")
    assert (waiting.id, waiting.agent, waiting.proposed_by) == (
        proposal_id,
        "ae-emea",
        "agent:dir-emea",
    )

    approved = use_cases.approve_proposal(uow(), "T0001", proposal_id, MANAGER)

    assert approved.status is ProposalStatus.APPLIED and approved.decided_by == "member:U0EMEA"
    [block] = _coaching_blocks(uow)
    assert block.id == approved.block_id and block.agent_id == world.ae.id
    assert (block.source_kind, block.source_by) == (SourceKind.AGENT_CYCLE, "dir-emea")
    assert block.source_ref == f"proposal:{proposal_id}"
    assert block.importance == pytest.approx(0.8)  # below a person's 0.9
    assert block.evidence == {"note": EVIDENCE}
    assert _audit(uow) == [
        ("agent:dir-emea", "proposal.create", f"proposal:{proposal_id}", "ok"),
        ("agent:dir-emea", "coach", f"block:{block.id}", "ok"),
        ("member:U0EMEA", "proposal.approve", f"proposal:{proposal_id}", "ok"),
    ]


def test_under_apply_the_note_is_stored_at_once_and_a_manager_retracts_it(
    uow: Uow, world: World
) -> None:
    _autonomy(uow, "apply")
    proposal_id = _coach(uow, world)
    [block] = _coaching_blocks(uow)
    assert block.status is BlockStatus.ACTIVE

    retracted = use_cases.retract_proposal(uow(), "T0001", proposal_id, MANAGER)

    assert retracted.status is ProposalStatus.RETRACTED
    assert retracted.retracted_by == "member:U0EMEA"
    [block] = _coaching_blocks(uow)
    assert block.status is BlockStatus.ARCHIVED
    assert block.status_reason == f"retracted proposal {proposal_id}"
    actions = [(actor, action) for actor, action, _, _ in _audit(uow)]
    assert actions[-4:] == [
        ("agent:dir-emea", "coach"),
        ("agent:dir-emea", "proposal.apply"),
        ("member:U0EMEA", "archive"),
        ("member:U0EMEA", "proposal.retract"),
    ]


def test_rejecting_a_proposal_writes_nothing_and_records_who_rejected(
    uow: Uow, world: World
) -> None:
    proposal_id = _coach(uow, world)

    rejected = use_cases.reject_proposal(uow(), "T0001", proposal_id, MANAGER, "too vague")

    assert rejected.status is ProposalStatus.REJECTED and rejected.block_id is None
    assert _coaching_blocks(uow) == []
    with uow(readonly=True) as u:
        event = u.session.scalars(
            select(AuditEvent).where(AuditEvent.action == "proposal.reject")
        ).one()
    assert (event.actor, event.detail) == ("member:U0EMEA", "proposed by agent:dir-emea: too vague")


def test_a_director_may_not_coach_an_agent_outside_its_team(uow: Uow, world: World) -> None:
    with pytest.raises(PermissionDenied, match="may not coach sdr-amer"):
        _coach(uow, world, agent="sdr-amer")
    with pytest.raises(PermissionDenied, match="not itself"):
        _coach(uow, world, agent="dir-emea")
    with uow(readonly=True) as u:
        assert u.session.scalars(select(Proposal)).all() == []


def test_a_second_note_for_the_same_agent_within_a_day_is_refused_and_the_limit_is_a_setting(
    uow: Uow, world: World
) -> None:
    with clock.frozen_at(MONDAY):
        _coach(uow, world)
        with pytest.raises(PermissionDenied, match="at most 1 per agent per day"):
            _coach(uow, world)
        _coach(uow, world, agent="sdr-emea")  # another agent has its own day
    with clock.frozen_at(MONDAY + timedelta(hours=25)):
        _coach(uow, world)
        _autonomy(uow, "propose", notes_per_day=2)
        _coach(uow, world)
        with pytest.raises(PermissionDenied, match="at most 2 per agent per day"):
            _coach(uow, world)


def test_only_admins_and_the_teams_managers_decide_and_a_refusal_is_audited(
    uow: Uow, world: World
) -> None:
    proposal_id = _coach(uow, world)

    for who in (MEMBER, AMER_MANAGER):
        with pytest.raises(PermissionDenied, match=f"may not approve proposal {proposal_id}"):
            use_cases.approve_proposal(uow(), "T0001", proposal_id, Actor.member(who))
    with pytest.raises(PermissionDenied, match="may not reject"):
        use_cases.reject_proposal(uow(), "T0001", proposal_id, Actor.agent("dir-emea"))

    assert _coaching_blocks(uow) == []
    refused = [(a, action) for a, action, _, outcome in _audit(uow) if outcome == "refused"]
    assert refused == [
        ("member:U0MEMB", "proposal.approve"),
        ("member:U0AMER", "proposal.approve"),
        ("agent:dir-emea", "proposal.reject"),
    ]
    assert use_cases.approve_proposal(uow(), "T0001", proposal_id, Actor.member(ADMIN)).block_id


def test_a_decided_proposal_cannot_be_decided_again(uow: Uow, world: World) -> None:
    proposal_id = _coach(uow, world)
    use_cases.approve_proposal(uow(), "T0001", proposal_id, MANAGER)

    with pytest.raises(AlreadyDone, match=r"is applied \(by member:U0EMEA\); it cannot be appr"):
        use_cases.approve_proposal(uow(), "T0001", proposal_id, MANAGER)
    with pytest.raises(AlreadyDone, match="cannot be rejected"):
        use_cases.reject_proposal(uow(), "T0001", proposal_id, MANAGER)
    use_cases.retract_proposal(uow(), "T0001", proposal_id, MANAGER)
    with pytest.raises(AlreadyDone, match="is retracted"):
        use_cases.retract_proposal(uow(), "T0001", proposal_id, MANAGER)
    assert len(_coaching_blocks(uow)) == 1


def test_a_pending_proposal_is_rejected_not_retracted(uow: Uow, world: World) -> None:
    proposal_id = _coach(uow, world)
    with pytest.raises(AlreadyDone, match="reject it instead"):
        use_cases.retract_proposal(uow(), "T0001", proposal_id, MANAGER)


def test_a_directors_promotion_waits_and_is_promoted_as_the_directors_on_approval(
    uow: Uow, world: World
) -> None:
    with uow() as u:
        learning = sdr_learning(u.session, world, "Healthcare CTOs answer on Tuesdays")
        proposal = proposals.director_promotes(
            u.session, world.workspace, world.director, learning.id, "holds", cycle_id=None
        )
        u.commit()
        with pytest.raises(AlreadyDone, match="already waits for a manager"):
            proposals.director_promotes(
                u.session, world.workspace, world.director, learning.id, "again", cycle_id=None
            )

    approved = use_cases.approve_proposal(uow(), "T0001", proposal.id, MANAGER)

    with uow(readonly=True) as u:
        copy = u.session.get_one(MemoryBlock, approved.block_id)
    assert (copy.tier.value, copy.promoted_from_id, copy.promoted_by) == (
        "team",
        learning.id,
        "dir-emea",
    )


def test_a_director_note_ranks_below_a_persons_whatever_importance_it_asks_for(
    uow: Uow, world: World
) -> None:
    with uow() as u:
        note = coaching.CoachingNote(NOTE, Actor.agent("dir-emea"), "ae-emea", importance=1.0)
        [stored] = coaching.coach(u.session, world.workspace, [note])
        u.commit()
    assert isinstance(stored, coaching.Coaching)
    assert stored.block.importance == pytest.approx(0.8)


def test_autonomy_is_changed_by_admins_only_and_a_bad_value_is_bad_input(
    uow: Uow, world: World
) -> None:
    assert use_cases.director_settings(uow(), "T0001").autonomy.value == "propose"
    with pytest.raises(PermissionDenied, match="only admins"):
        use_cases.configure_director(uow(), "T0001", MANAGER, autonomy="apply")
    with pytest.raises(InvalidInput, match="autonomy"):
        use_cases.configure_director(uow(), "T0001", Actor.member(ADMIN), autonomy="sometimes")
    with pytest.raises(InvalidInput, match="notes_per_day"):
        use_cases.configure_director(uow(), "T0001", Actor.member(ADMIN), notes_per_day=0)

    changed = use_cases.configure_director(uow(), "T0001", Actor.member(ADMIN), autonomy="apply")

    assert changed.as_json() == {"autonomy": "apply", "notes_per_day": 1}
    assert use_cases.director_settings(uow(), "T0001") == changed


def test_a_note_resting_on_a_finding_does_not_hold_up_that_findings_promotion(
    uow: Uow, world: World
) -> None:
    with uow() as u:
        finding = sdr_learning(u.session, world, "Question subject lines open at 41%")
        note = proposals.director_coaches(
            u.session,
            world.workspace,
            world.director,
            "ae-emea",
            NOTE,
            evidence=EVIDENCE,
            cycle_id=None,
            finding=finding.id,
        )
        promotion = proposals.director_promotes(
            u.session, world.workspace, world.director, finding.id, "holds", cycle_id=None
        )
        u.commit()
    assert note.source_block_id == promotion.source_block_id == finding.id
    with uow(readonly=True) as u:
        assert proposals.proposed_block_ids(u.session, world.emea) == frozenset({finding.id})


def test_the_weekly_digest_lists_the_teams_proposals_still_waiting_until_decided(
    uow: Uow, world: World
) -> None:
    proposal_id = _coach(uow, world)

    waiting = use_cases.weekly_digest(uow(readonly=True), "T0001", "emea").proposals
    assert len(waiting) == 1
    assert waiting[0].startswith(f"proposal {proposal_id} (")
    assert "ae-emea" in waiting[0]
    assert use_cases.weekly_digest(uow(readonly=True), "T0001", "amer").proposals == []

    use_cases.reject_proposal(uow(), "T0001", proposal_id, MANAGER, "not yet")
    assert use_cases.weekly_digest(uow(readonly=True), "T0001", "emea").proposals == []
