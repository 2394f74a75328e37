"""The tier permission matrix: every role x every tier x every action, on both databases."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from sqlalchemy import func, select

from core import directory, memory
from core.coaching import coach_one
from core.db import UnitOfWork
from core.errors import PermissionDenied
from core.models import AuditEvent, MemberRole, MemoryBlock, Tier
from core.permissions import Actor, principal_for
from core.use_cases import refusal_recorded
from tests.conftest import (
    ADMIN,
    AMER_MANAGER,
    EMEA_MANAGER,
    GLOBEX_ADMIN,
    MEMBER,
    STRANGER,
    World,
)

ACTORS = {
    "admin": Actor.member(ADMIN),
    "manager of the team": Actor.member(EMEA_MANAGER),
    "manager of another team": Actor.member(AMER_MANAGER),
    "member": Actor.member(MEMBER),
    "unknown slack user": Actor.member(STRANGER),
    "admin of another workspace": Actor.member(GLOBEX_ADMIN),
    "the agent itself": Actor.agent("sdr-emea"),
    "another agent of the team": Actor.agent("ae-emea"),
    "director of the team": Actor.agent("dir-emea"),
    "director of another team": Actor.agent("dir-amer"),
}

TEAM_LEADS = {"admin", "manager of the team", "director of the team"}
ALLOWED = {
    "coach the agent (personal)": TEAM_LEADS,
    "write a learning (personal)": {"the agent itself"},
    "promote personal -> team": TEAM_LEADS,
    "promote personal -> company": {"admin"},
    "promote team -> company": {"admin"},
    "write company knowledge": {"admin"},
    "archive a personal block": TEAM_LEADS,
    "archive a team block": TEAM_LEADS,
    "archive a company block": {"admin"},
}


def _seed(uow: Callable[..., UnitOfWork], world: World) -> dict[str, int]:
    """One block on each tier: a learning of sdr-emea, a team block, a company block."""
    with uow() as u:
        personal = memory.write_learning(
            u.session,
            world.workspace,
            world.sdr,
            "Question subject lines open better with CTOs",
            by=Actor.agent("sdr-emea"),
            importance=0.6,
        )
        team = memory.promote(
            u.session, world.workspace, personal.id, "team", by=Actor.member(ADMIN)
        )
        company = memory.write_company(
            u.session, world.workspace, "We sell to hospitals and clinics", by=Actor.member(ADMIN)
        )
        return {"personal": personal.id, "team": team.id, "company": company.id}


def _act(action: str, u: UnitOfWork, world: World, actor: Actor, ids: dict[str, int]) -> None:
    s, ws = u.session, world.workspace
    if action == "coach the agent (personal)":
        coach_one(s, ws, "sdr-emea", "Lead with the compliance angle", by=actor)
    elif action == "write a learning (personal)":
        memory.write_learning(s, ws, world.sdr, "Tuesdays reply best", by=actor, importance=0.5)
    elif action == "promote personal -> team":
        # A fresh personal block: the seeded one is already on the Team Brain.
        fresh = MemoryBlock(
            workspace_id=ws.id,
            tier=Tier.PERSONAL,
            agent_id=world.sdr.id,
            type="learning",
            content="Short emails get replies",
            importance=0.5,
            source_kind="agent_cycle",
        )
        s.add(fresh)
        s.flush()
        memory.promote(s, ws, fresh.id, "team", by=actor)
    elif action == "promote personal -> company":
        memory.promote(s, ws, ids["personal"], "company", by=actor)
    elif action == "promote team -> company":
        memory.promote(s, ws, ids["team"], "company", by=actor)
    elif action == "write company knowledge":
        memory.write_company(s, ws, "Our fiscal year starts in April", by=actor)
    elif action.startswith("archive a "):
        memory.archive(s, ws, ids[action.split()[2]], by=actor)
    else:
        raise AssertionError(action)


def _snapshot(uow: Callable[..., UnitOfWork]) -> list[tuple[object, ...]]:
    with uow(readonly=True) as u:
        rows = u.session.execute(
            select(
                MemoryBlock.id, MemoryBlock.tier, MemoryBlock.status, MemoryBlock.content
            ).order_by(MemoryBlock.id)
        )
        return [tuple(row) for row in rows]


def _refusals(uow: Callable[..., UnitOfWork]) -> int:
    with uow(readonly=True) as u:
        return (
            u.session.scalar(
                select(func.count()).select_from(AuditEvent).where(AuditEvent.outcome == "refused")
            )
            or 0
        )


CASES = [
    pytest.param(action, who, who in allowed, id=f"{action} by {who}")
    for action, allowed in ALLOWED.items()
    for who in ACTORS
]


@pytest.mark.parametrize(("action", "who", "allowed"), CASES)
def test_permission_matrix(
    uow: Callable[..., UnitOfWork], world: World, action: str, who: str, allowed: bool
) -> None:
    ids = _seed(uow, world)
    before, refusals_before = _snapshot(uow), _refusals(uow)
    actor = ACTORS[who]

    if allowed:
        with uow() as u:
            _act(action, u, world, actor, ids)
        assert _snapshot(uow) != before
        assert _refusals(uow) == refusals_before
        return

    with pytest.raises(PermissionDenied) as refused, uow() as u, refusal_recorded(u):
        _act(action, u, world, actor, ids)
    assert "may not" in str(refused.value)
    assert _snapshot(uow) == before, "a refused write stored something"
    assert _refusals(uow) == refusals_before + 1
    with uow(readonly=True) as u:
        event = u.session.scalars(select(AuditEvent).order_by(AuditEvent.id.desc())).first()
        assert event is not None
        assert event.actor == str(actor)
        assert event.outcome == "refused"
        assert event.workspace_id == world.workspace.id


def test_admin_of_one_workspace_cannot_coach_in_another(
    uow: Callable[..., UnitOfWork], world: World
) -> None:
    with pytest.raises(PermissionDenied), uow() as u:
        coach_one(u.session, world.other_workspace, "sdr-emea", "hi", by=Actor.member(ADMIN))


def test_director_acts_with_manager_rights_over_its_own_team_only(
    uow: Callable[..., UnitOfWork], world: World
) -> None:
    with uow() as u:
        block = coach_one(
            u.session,
            world.workspace,
            "ae-emea",
            "Follow up within a day",
            by=Actor.agent("dir-emea"),
        )
        assert block.source_by == "dir-emea"
    with pytest.raises(PermissionDenied), uow() as u:
        coach_one(u.session, world.workspace, "sdr-amer", "x", by=Actor.agent("dir-emea"))


def test_a_manager_of_two_teams_coaches_the_agents_of_both_and_keeps_the_role(
    uow: Callable[..., UnitOfWork], world: World
) -> None:
    with uow() as u:
        directory.set_member(u.session, world.workspace, AMER_MANAGER, "manager", ["amer", "emea"])
    with uow() as u:
        principal = principal_for(u.session, world.workspace, Actor.member(AMER_MANAGER))
        for handle in ("sdr-amer", "sdr-emea"):
            coach_one(u.session, world.workspace, handle, "Ask early", by=principal.actor)
    assert principal.role is MemberRole.MANAGER
    assert principal.managed_team_ids == {world.amer.id, world.emea.id}
    assert not principal.is_admin
