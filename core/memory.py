"""Tiered memory: coaching, learnings, company knowledge, promotion and archiving."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from core import audit, clock, rules
from core.directory import get_agent
from core.errors import AlreadyDone, InvalidInput, NotFound
from core.models import (
    Agent,
    BlockStatus,
    BlockType,
    MemoryBlock,
    SourceKind,
    Tier,
    Workspace,
)
from core.permissions import (
    Actor,
    ActorKind,
    check_archive,
    check_promote,
    check_write_company,
    check_write_learning,
    principal_for,
)

COACHING_IMPORTANCE = 0.9
# A director agent's coaching ranks below a person's.
DIRECTOR_COACHING_IMPORTANCE = 0.8
DEFAULT_IMPORTANCE = {
    BlockType.COACHING: COACHING_IMPORTANCE,
    BlockType.OBJECTION_RESPONSE: 0.8,
    BlockType.ACCOUNT_CONTEXT: 0.7,
    BlockType.PATTERN: 0.6,
    BlockType.LEARNING: 0.5,
}
# Coaching outranks inference: what an agent or an analysis concludes stays below this.
MAX_INFERRED_IMPORTANCE = 0.7


def source_of(actor: Actor, ref: str | None) -> tuple[SourceKind, str | None, str]:
    """Where a block written by `actor` comes from: its kind, reference and author."""
    if actor.kind is ActorKind.MEMBER:
        return SourceKind.SLACK_USER, ref or actor.ref, actor.ref
    if actor.kind is ActorKind.AGENT:
        return SourceKind.AGENT_CYCLE, ref, actor.ref
    return SourceKind.IMPORT, ref, actor.ref


def write_learning(
    session: Session,
    workspace: Workspace,
    agent: Agent,
    text: str,
    *,
    by: Actor,
    importance: float,
    type: BlockType = BlockType.LEARNING,
    evidence: dict[str, Any] | None = None,
    source_kind: SourceKind | None = None,
    source_ref: str | None = None,
    subject: dict[str, str] | None = None,
) -> MemoryBlock:
    """Store what an agent learned on its own Personal Brain (never above the coaching band)."""
    if type is BlockType.COACHING:
        raise InvalidInput("type", "learnings cannot be coaching; managers coach with /coach")
    content = rules.content(text)
    weight = min(rules.importance(importance), MAX_INFERRED_IMPORTANCE)
    check_write_learning(principal_for(session, workspace, by), agent)
    kind, ref, source_by = source_of(by, source_ref)
    block = _stored(
        session,
        new_block(
            workspace,
            tier=Tier.PERSONAL,
            agent=agent,
            type=type,
            content=content,
            importance=weight,
            source=(source_kind or kind, ref, source_by),
            evidence=evidence,
            subject=subject,
        ),
    )
    audit.record(
        session, workspace, by, "write_learning", f"block:{block.id}", f"agent:{agent.handle}"
    )
    return block


def write_company(
    session: Session,
    workspace: Workspace,
    text: str,
    *,
    by: Actor,
    type: str | BlockType = BlockType.PATTERN,
    importance: float = 0.8,
    source_ref: str | None = None,
    subject: dict[str, str] | None = None,
) -> MemoryBlock:
    """Write workspace-wide knowledge to the Company Brain (admins only)."""
    block_type = rules.choice(BlockType, type, "type")
    content = rules.content(text)
    weight = rules.importance(importance)
    check_write_company(principal_for(session, workspace, by))
    kind, ref, source_by = source_of(by, source_ref)
    block = _stored(
        session,
        new_block(
            workspace,
            tier=Tier.COMPANY,
            type=block_type,
            content=content,
            importance=weight,
            source=(kind, ref, source_by),
            subject=subject,
        ),
    )
    audit.record(session, workspace, by, "write_company", f"block:{block.id}")
    return block


def promote(
    session: Session, workspace: Workspace, block_id: int | str, to: str | Tier, *, by: Actor
) -> MemoryBlock:
    """Promote a block one or two tiers up. The original stays; the copy links back to it."""
    target = rules.choice(Tier, to, "to")
    block = get_block(session, workspace, block_id)
    if block.status is not BlockStatus.ACTIVE:
        raise InvalidInput(
            "block", f"block {block.id} is {block.status.value}; only active blocks are promoted"
        )
    order = [Tier.PERSONAL, Tier.TEAM, Tier.COMPANY]
    if order.index(target) <= order.index(block.tier):
        raise InvalidInput(
            "to",
            f"block {block.id} is on the {block.tier.value} brain; promote it to a higher tier",
        )
    team_id = _owning_team_id(session, block)
    principal = principal_for(session, workspace, by)
    check_promote(principal, block, target, team_id)
    existing = _promotion_in_lineage(session, block, target)
    if existing is not None:
        raise _already_promoted(workspace, block, existing, by)
    try:
        # A savepoint: a concurrent promotion of the same block (PostgreSQL lets two run at
        # once) may store its copy first; the unique (promoted_from_id, tier) then refuses
        # this one, and the person is told about the winner's copy.
        with session.begin_nested():
            promoted = _promoted_copy(session, workspace, block, target, team_id, by)
    except IntegrityError:
        existing = _promotion_in_lineage(session, block, target)
        if existing is None:
            raise
        raise _already_promoted(workspace, block, existing, by) from None
    audit.record(
        session,
        workspace,
        by,
        "promote",
        f"block:{block.id}",
        f"to {target.value} as block:{promoted.id}",
    )
    return promoted


def _promoted_copy(
    session: Session,
    workspace: Workspace,
    block: MemoryBlock,
    target: Tier,
    team_id: int | None,
    by: Actor,
) -> MemoryBlock:
    promoted = _stored(
        session,
        new_block(
            workspace,
            tier=target,
            team_id=team_id if target is Tier.TEAM else None,
            type=block.type,
            content=block.content,
            importance=block.importance,
            source=(SourceKind.PROMOTION, f"block:{block.id}", by.ref),
            evidence=block.evidence,
            subject={
                "company": block.subject_company or "",
                "domain": block.subject_domain or "",
                "segment": block.subject_segment or "",
            },
        ),
    )
    promoted.promoted_from_id = block.id
    promoted.promoted_by = by.ref
    session.flush()
    return promoted


def _already_promoted(
    workspace: Workspace, block: MemoryBlock, existing: MemoryBlock, by: Actor
) -> AlreadyDone:
    moved = (
        existing.status is BlockStatus.ACTIVE
        and existing.promoted_from_id == block.id
        and existing.content != block.content
    )
    hint = f", which no longer says what it says: refresh block {existing.id}"
    return AlreadyDone(
        f"block {block.id} was already promoted to the {existing.tier.value} brain as block "
        f"{existing.id} ({existing.status.value})" + (hint if moved else ""),
        workspace_id=workspace.id,
        actor=str(by),
        origin=by.origin,
        action="promote",
        target=f"block:{block.id}",
    )


def refresh(
    session: Session, workspace: Workspace, block_id: int | str, *, by: Actor
) -> MemoryBlock:
    """Bring a promoted copy up to date with the block it was copied from, which has moved on
    (a finding refreshed in place); whoever may promote there may refresh."""
    copy = get_block(session, workspace, block_id)
    if copy.source_kind is not SourceKind.PROMOTION or copy.promoted_from_id is None:
        raise InvalidInput("block", f"block {copy.id} is not a promoted copy: nothing to refresh")
    # The copy's tier and team are its original's promotion target: checked before its state.
    principal = principal_for(session, workspace, by)
    check_promote(principal, copy, copy.tier, _owning_team_id(session, copy))
    if copy.status is not BlockStatus.ACTIVE:
        raise InvalidInput(
            "block", f"block {copy.id} is {copy.status.value}; only active copies are refreshed"
        )
    original = session.get(MemoryBlock, copy.promoted_from_id)
    if original is None or original.status is not BlockStatus.ACTIVE:
        state = "gone" if original is None else original.status.value
        raise InvalidInput(
            "block",
            f"block {copy.id} was copied from block {copy.promoted_from_id}, which is {state}: "
            "archive the copy instead",
        )
    if (copy.content, copy.evidence, copy.importance) == (
        original.content,
        original.evidence,
        original.importance,
    ):
        raise AlreadyDone(
            f"block {copy.id} already says what block {original.id} says",
            workspace_id=workspace.id,
            actor=str(by),
            origin=by.origin,
            action="refresh",
            target=f"block:{copy.id}",
        )
    copy.content, copy.evidence, copy.importance = (
        original.content,
        original.evidence,
        original.importance,
    )
    copy.updated_at = clock.now()
    session.flush()
    audit.record(session, workspace, by, "refresh", f"block:{copy.id}", f"from block:{original.id}")
    return copy


def archive(
    session: Session,
    workspace: Workspace,
    block_id: int | str,
    *,
    by: Actor,
    reason: str | None = None,
) -> MemoryBlock:
    """Archive a block: it stays on record but never surfaces again."""
    block = get_block(session, workspace, block_id)
    check_archive(principal_for(session, workspace, by), block, _owning_team_id(session, block))
    if block.status is BlockStatus.ARCHIVED:
        raise InvalidInput("block", f"block {block.id} is already archived")
    block.status = BlockStatus.ARCHIVED
    block.status_reason = (reason or "").strip() or f"archived by {by.ref}"
    block.updated_at = clock.now()
    session.flush()
    audit.record(session, workspace, by, "archive", f"block:{block.id}", block.status_reason)
    return block


def get_block(session: Session, workspace: Workspace, block_id: int | str) -> MemoryBlock:
    """A block of this workspace by id; blocks of other workspaces do not exist here."""
    number = rules.record_id(block_id, "block")
    block = session.scalar(
        select(MemoryBlock).where(
            MemoryBlock.id == number, MemoryBlock.workspace_id == workspace.id
        )
    )
    if block is None:
        raise NotFound(f"block {number} not found")
    return block


def list_blocks(
    session: Session,
    workspace: Workspace,
    *,
    agent: str | None = None,
    tier: str | None = None,
    type: str | None = None,
    status: str | None = BlockStatus.ACTIVE,
    limit: int = 200,
) -> list[MemoryBlock]:
    """Blocks of the workspace, newest first. With an agent: the blocks that agent may read."""
    query = select(MemoryBlock).where(MemoryBlock.workspace_id == workspace.id)
    if agent:
        owner = get_agent(session, workspace, agent)
        query = query.where(
            or_(
                MemoryBlock.agent_id == owner.id,
                MemoryBlock.team_id == owner.team_id,
                MemoryBlock.tier == Tier.COMPANY,
            )
        )
    if tier:
        query = query.where(MemoryBlock.tier == rules.choice(Tier, tier, "tier"))
    if type:
        query = query.where(MemoryBlock.type == rules.choice(BlockType, type, "type"))
    if status:
        query = query.where(MemoryBlock.status == rules.choice(BlockStatus, status, "status"))
    if not 1 <= limit <= 10_000:
        raise InvalidInput("limit", f"{limit} is outside 1..10000")
    return list(session.scalars(query.order_by(MemoryBlock.id.desc()).limit(limit)))


def brain_size(session: Session, agent: Agent) -> dict[str, int]:
    """How many active blocks an agent reads, per tier."""
    rows = session.execute(
        select(MemoryBlock.tier, func.count())
        .where(
            MemoryBlock.workspace_id == agent.workspace_id,
            MemoryBlock.status == BlockStatus.ACTIVE,
            or_(
                MemoryBlock.agent_id == agent.id,
                MemoryBlock.team_id == agent.team_id,
                MemoryBlock.tier == Tier.COMPANY,
            ),
        )
        .group_by(MemoryBlock.tier)
    )
    counts = {tier: count for tier, count in rows}
    return {tier.value: counts.get(tier, 0) for tier in Tier}


def _owning_team_id(session: Session, block: MemoryBlock) -> int | None:
    if block.tier is Tier.TEAM:
        return block.team_id
    if block.tier is Tier.PERSONAL and block.agent_id is not None:
        return session.scalar(select(Agent.team_id).where(Agent.id == block.agent_id))
    return None


def _promotion_in_lineage(session: Session, block: MemoryBlock, target: Tier) -> MemoryBlock | None:
    """A block already promoted to `target` from this block or from any block it came from
    or that came from it: the same knowledge never lands twice on one tier."""
    lineage = {block.id}
    current = block
    while current.promoted_from_id is not None and current.promoted_from_id not in lineage:
        lineage.add(current.promoted_from_id)
        parent = session.get(MemoryBlock, current.promoted_from_id)
        if parent is None:
            break
        current = parent
    frontier = set(lineage)
    while frontier:
        children = list(
            session.scalars(select(MemoryBlock).where(MemoryBlock.promoted_from_id.in_(frontier)))
        )
        for child in children:
            if child.tier is target:
                return child
        frontier = {child.id for child in children} - lineage
        lineage |= frontier
    return None


def _stored(session: Session, block: MemoryBlock) -> MemoryBlock:
    session.add(block)
    session.flush()  # the block's id, for the audit log and the caller
    return block


def new_block(
    workspace: Workspace,
    *,
    tier: Tier,
    type: BlockType,
    content: str,
    importance: float,
    source: tuple[SourceKind, str | None, str | None],
    agent: Agent | None = None,
    team_id: int | None = None,
    evidence: dict[str, Any] | None = None,
    subject: dict[str, str] | None = None,
) -> MemoryBlock:
    """A new active block, not yet stored."""
    now = clock.now()
    subject = subject or {}
    return MemoryBlock(
        workspace_id=workspace.id,
        tier=tier,
        agent_id=agent.id if agent is not None else None,
        team_id=team_id,
        type=type,
        content=content,
        importance=importance,
        source_kind=source[0],
        source_ref=source[1],
        source_by=source[2],
        created_at=now,
        updated_at=now,
        status=BlockStatus.ACTIVE,
        evidence=evidence,
        times_surfaced=0,
        subject_company=subject.get("company") or None,
        subject_domain=subject.get("domain") or None,
        subject_segment=subject.get("segment") or None,
    )
