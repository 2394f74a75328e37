"""Memory services: input rules, provenance of promotions, archiving, no half-written state."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from sqlalchemy import func, select

from core import memory, tasks, use_cases
from core.coaching import coach_one
from core.db import UnitOfWork
from core.errors import AlreadyDone, InvalidInput, NotFound
from core.models import AuditEvent, BlockStatus, MemoryBlock, SourceKind, Tier
from core.permissions import Actor
from tests.conftest import ADMIN, EMEA_MANAGER, World

MANAGER = Actor.member(EMEA_MANAGER)


def _count_blocks(uow: Callable[..., UnitOfWork]) -> int:
    with uow(readonly=True) as u:
        return u.session.scalar(select(func.count()).select_from(MemoryBlock)) or 0


def test_coaching_is_stored_on_the_personal_brain_with_high_importance_and_its_source(
    uow: Callable[..., UnitOfWork], world: World
) -> None:
    with uow() as u:
        block = coach_one(
            u.session,
            world.workspace,
            "sdr-emea",
            "  Lead with compliance for healthcare CTOs ",
            by=MANAGER,
        )
    assert block.tier is Tier.PERSONAL
    assert block.agent_id == world.sdr.id
    assert block.content == "Lead with compliance for healthcare CTOs"
    assert block.importance >= 0.8
    assert (block.source_kind, block.source_by) == (SourceKind.SLACK_USER, EMEA_MANAGER)
    assert block.created_at.tzinfo is not None


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"text": ""}, "note"),
        ({"text": "   \n "}, "note"),
        ({"text": "x" * 4001}, "note"),
        ({"importance": 1.5}, "importance"),
        ({"importance": -0.1}, "importance"),
        ({"importance": float("nan")}, "importance"),
        ({"type": "gossip"}, "type"),
    ],
)
def test_bad_input_is_refused_naming_the_field_and_stores_nothing(
    uow: Callable[..., UnitOfWork], world: World, kwargs: dict[str, object], field: str
) -> None:
    arguments: dict[str, object] = {"text": "Lead with compliance", **kwargs}
    text = arguments.pop("text")
    with pytest.raises(InvalidInput) as error, uow() as u:
        coach_one(u.session, world.workspace, "sdr-emea", text, by=MANAGER, **arguments)
    assert error.value.field == field
    assert str(error.value).startswith(f"{field}: ")
    assert _count_blocks(uow) == 0


def test_content_of_exactly_4000_characters_is_accepted(
    uow: Callable[..., UnitOfWork], world: World
) -> None:
    with uow() as u:
        block = coach_one(u.session, world.workspace, "sdr-emea", "y" * 4000, by=MANAGER)
    assert len(block.content) == 4000


def test_an_agent_of_another_workspace_cannot_be_coached_and_nothing_is_stored(
    uow: Callable[..., UnitOfWork], world: World
) -> None:
    with pytest.raises(NotFound), uow() as u:
        # ae-emea is Acme's: in Globex's workspace no agent has that handle.
        coach_one(u.session, world.other_workspace, "ae-emea", "Lead with compliance", by=MANAGER)
    assert _count_blocks(uow) == 0


def test_unknown_agent_is_not_found_and_lists_the_known_ones(
    uow: Callable[..., UnitOfWork], world: World
) -> None:
    with pytest.raises(NotFound) as error, uow() as u:
        coach_one(u.session, world.workspace, "sdr-nowhere", "hi", by=MANAGER)
    assert "sdr-nowhere" in str(error.value)
    assert "sdr-emea" in str(error.value)


def test_a_block_of_another_workspace_does_not_exist_here(
    uow: Callable[..., UnitOfWork], world: World
) -> None:
    with uow() as u:
        theirs = memory.write_learning(
            u.session,
            world.other_workspace,
            world.globex_sdr,
            "Globex secret",
            by=Actor.system("signals"),
            importance=0.5,
        )
    with pytest.raises(NotFound), uow() as u:
        memory.get_block(u.session, world.workspace, theirs.id)
    with pytest.raises(NotFound), uow() as u:
        memory.promote(u.session, world.workspace, theirs.id, "company", by=Actor.member(ADMIN))


def test_promotion_keeps_the_original_and_links_the_copy(
    uow: Callable[..., UnitOfWork], world: World
) -> None:
    with uow() as u:
        learning = memory.write_learning(
            u.session,
            world.workspace,
            world.sdr,
            "Hospitals reply on Tuesdays",
            by=Actor.agent("sdr-emea"),
            importance=0.6,
            evidence={"n": 120, "successes": 18},
        )
        promoted = memory.promote(u.session, world.workspace, learning.id, "team", by=MANAGER)
    with uow(readonly=True) as u:
        original = u.session.get(MemoryBlock, learning.id)
        copy = u.session.get(MemoryBlock, promoted.id)
        assert original is not None and copy is not None
        assert original.status is BlockStatus.ACTIVE and original.tier is Tier.PERSONAL
        assert copy.tier is Tier.TEAM and copy.team_id == world.emea.id and copy.agent_id is None
        assert copy.promoted_from_id == learning.id
        assert copy.promoted_by == EMEA_MANAGER
        assert copy.source_kind is SourceKind.PROMOTION
        assert copy.evidence == {"n": 120, "successes": 18}
        assert copy.content == original.content


def test_promoting_the_same_block_twice_to_one_tier_is_refused_and_audited(
    uow: Callable[..., UnitOfWork], world: World
) -> None:
    with uow() as u:
        learning = memory.write_learning(
            u.session,
            world.workspace,
            world.sdr,
            "Hospitals reply on Tuesdays",
            by=Actor.agent("sdr-emea"),
            importance=0.6,
        )
        team_copy = memory.promote(u.session, world.workspace, learning.id, "team", by=MANAGER)
        memory.promote(u.session, world.workspace, team_copy.id, "company", by=Actor.member(ADMIN))
    blocks = _count_blocks(uow)
    for block_id, tier in [
        (learning.id, "team"),
        (learning.id, "company"),
        (team_copy.id, "company"),
    ]:
        with pytest.raises(AlreadyDone) as error:
            use_cases.promote(uow(), "T0001", block_id, tier, Actor.member(ADMIN))
        assert "already promoted" in str(error.value)
    assert _count_blocks(uow) == blocks
    with uow(readonly=True) as u:
        refused = u.session.scalars(
            select(AuditEvent).where(
                AuditEvent.action == "promote", AuditEvent.outcome == "refused"
            )
        ).all()
        assert len(refused) == 3


def test_only_active_blocks_are_promoted_and_never_downwards(
    uow: Callable[..., UnitOfWork], world: World
) -> None:
    with uow() as u:
        block = coach_one(u.session, world.workspace, "sdr-emea", "Be brief", by=MANAGER)
        company = memory.write_company(
            u.session, world.workspace, "We sell to clinics", by=Actor.member(ADMIN)
        )
        memory.archive(u.session, world.workspace, block.id, by=MANAGER, reason="outdated")
    with pytest.raises(InvalidInput, match="archived"), uow() as u:
        memory.promote(u.session, world.workspace, block.id, "team", by=MANAGER)
    with pytest.raises(InvalidInput, match="higher tier"), uow() as u:
        memory.promote(u.session, world.workspace, company.id, "team", by=Actor.member(ADMIN))


def test_archived_blocks_keep_their_reason_and_leave_the_active_list(
    uow: Callable[..., UnitOfWork], world: World
) -> None:
    with uow() as u:
        block = coach_one(u.session, world.workspace, "sdr-emea", "Be brief", by=MANAGER)
        memory.archive(
            u.session, world.workspace, block.id, by=MANAGER, reason="we changed the pitch"
        )
    with uow(readonly=True) as u:
        assert memory.list_blocks(u.session, world.workspace, agent="sdr-emea") == []
        [archived] = memory.list_blocks(u.session, world.workspace, status="archived")
        assert archived.status_reason == "we changed the pitch"


def test_learnings_never_reach_the_coaching_band(
    uow: Callable[..., UnitOfWork], world: World
) -> None:
    with uow() as u:
        block = memory.write_learning(
            u.session,
            world.workspace,
            world.sdr,
            "Everyone loves webinars",
            by=Actor.agent("sdr-emea"),
            importance=1.0,
        )
    assert block.importance == memory.MAX_INFERRED_IMPORTANCE


def test_an_exception_mid_use_case_leaves_nothing_half_written(
    uow: Callable[..., UnitOfWork], world: World
) -> None:
    with pytest.raises(RuntimeError), uow() as u:
        coach_one(u.session, world.workspace, "sdr-emea", "First note", by=MANAGER)
        tasks.add_task(u.session, world.workspace, "sdr-emea", "Call the hospital group")
        raise RuntimeError("the process died here")
    assert _count_blocks(uow) == 0
    with uow(readonly=True) as u:
        assert tasks.list_tasks(u.session, world.workspace) == []
        assert (
            u.session.scalar(
                select(func.count()).select_from(AuditEvent).where(AuditEvent.action == "coach")
            )
            == 0
        )


def test_an_agent_reads_its_own_team_and_company_blocks_but_no_one_elses(
    uow: Callable[..., UnitOfWork], world: World
) -> None:
    admin = Actor.member(ADMIN)
    with uow() as u:
        s, ws = u.session, world.workspace
        mine = coach_one(s, ws, "sdr-emea", "Mine", by=admin)
        coach_one(s, ws, "ae-emea", "Teammate's own", by=admin)
        amer = coach_one(s, ws, "sdr-amer", "Other team", by=admin)
        team = memory.promote(s, ws, mine.id, "team", by=admin)
        memory.promote(s, ws, amer.id, "team", by=admin)
        company = memory.write_company(s, ws, "Company wide", by=admin)
        memory.write_company(s, world.other_workspace, "Globex wide", by=Actor.member("U0GLOBEX"))
    with uow(readonly=True) as u:
        seen = {b.id for b in memory.list_blocks(u.session, world.workspace, agent="sdr-emea")}
    assert seen == {mine.id, team.id, company.id}
