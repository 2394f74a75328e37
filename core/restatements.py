"""Consolidation at write time: a learning that restates a block the agent already reads
confirms that block instead of becoming another one.

Copies of a finding froze its numbers and outranked it; near-duplicates of an agent's own
learnings piled up. A new learning restates a block when, once case and spacing are set
aside, it says the same, or shares nearly all its words with it (token-set Jaccard at
least `SAME_WORDS`, the context's near-duplicate rule), or quotes a finding or a promoted
copy whole ("Write question subject lines: <the finding>"): a copy of its numbers would
freeze while the finding moves on. Quoting a coaching note or a learning whole and adding
to it is a new learning: the addition is what was learned.
"""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session

from core import audit
from core.models import Agent, AuditEvent, BlockStatus, MemoryBlock, SourceKind, Tier, Workspace
from core.permissions import Actor

SAME_WORDS = 0.8
# A finding's figures as its statement writes them: rates, intervals, sample sizes.
FIGURE = re.compile(r"\d+(?:\.\d+)?-\d+(?:\.\d+)?%|\d+(?:\.\d+)?%|n=\d+(?:,\d{3})*")
# A learning that repeats this many of a finding's figures is derived from it.
SHARED_FIGURES = 2


def restated_block(
    session: Session, workspace: Workspace, agent: Agent, text: str
) -> MemoryBlock | None:
    """The active block the agent reads that `text` restates (its own brain's first, then
    the most important), or None."""
    readable = or_(
        and_(MemoryBlock.tier == Tier.PERSONAL, MemoryBlock.agent_id == agent.id),
        and_(MemoryBlock.tier == Tier.TEAM, MemoryBlock.team_id == agent.team_id),
        MemoryBlock.tier == Tier.COMPANY,
    )
    rows = session.execute(
        select(
            MemoryBlock.id,
            MemoryBlock.content,
            MemoryBlock.tier,
            MemoryBlock.importance,
            MemoryBlock.source_kind,
            MemoryBlock.promoted_from_id,
        )
        .where(
            MemoryBlock.workspace_id == workspace.id,
            MemoryBlock.status == BlockStatus.ACTIVE,
            readable,
        )
        .order_by(MemoryBlock.id)
    )
    said = _normalised(text)
    matches = [
        row
        for row in rows
        if restates(said, _normalised(row.content), quoted_whole_counts=_copies_numbers(row))
    ]
    if not matches:
        return None
    best = min(matches, key=lambda row: (row.tier is not Tier.PERSONAL, -row.importance, row.id))
    return session.get_one(MemoryBlock, best.id)


def paraphrased_finding(
    session: Session, workspace: Workspace, agent: Agent, text: str
) -> MemoryBlock | None:
    """The agent's own active finding whose figures `text` repeats (two or more): a learning
    that paraphrases a finding is linked to it and follows it (updated, or superseded with
    it), since the figures it froze would otherwise outlive the finding's."""
    figures = set(FIGURE.findall(text))
    if len(figures) < SHARED_FIGURES:
        return None
    findings = session.scalars(
        select(MemoryBlock)
        .where(
            MemoryBlock.workspace_id == workspace.id,
            MemoryBlock.tier == Tier.PERSONAL,
            MemoryBlock.agent_id == agent.id,
            MemoryBlock.status == BlockStatus.ACTIVE,
            MemoryBlock.source_kind == SourceKind.SIGNAL_ANALYSIS,
        )
        .order_by(MemoryBlock.id)
    )
    return next(
        (f for f in findings if len(figures & set(FIGURE.findall(f.content))) >= SHARED_FIGURES),
        None,
    )


def with_figures_of(was: str, now: str, text: str) -> str:
    """`text` with a finding's figures as it said them (`was`) replaced by what it says now:
    statements of one finding share their shape, so their figures pair up in order."""
    old, new = FIGURE.findall(was), FIGURE.findall(now)
    if len(old) != len(new):
        return text
    pairs: dict[str, str] = {}
    for before, after in zip(old, new, strict=True):
        if pairs.setdefault(before, after) != after:
            return text  # one old figure became two new ones: no safe rewrite
    return FIGURE.sub(lambda match: pairs.get(match.group(0), match.group(0)), text)


def confirm(
    session: Session, workspace: Workspace, block: MemoryBlock, by: Actor, ref: str
) -> None:
    """Record that `by` (in `ref`, e.g. a cycle) came to what the block says."""
    audit.record(session, workspace, by, "confirm", f"block:{block.id}", ref)


def restates(said: str, existing: str, *, quoted_whole_counts: bool) -> bool:
    """Whether normalised text `said` restates normalised block text `existing`."""
    if not existing:
        return False
    if said == existing or (quoted_whole_counts and existing in said):
        return True
    words, others = set(said.split()), set(existing.split())
    common = len(words & others)
    return common >= SAME_WORDS * (len(words) + len(others) - common)


def _copies_numbers(row: Any) -> bool:
    """A finding's block or a promoted copy: quoting it whole freezes a copy of it."""
    return row.source_kind is SourceKind.SIGNAL_ANALYSIS or row.promoted_from_id is not None


def _normalised(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip().rstrip(".!").lower()


def confirmations(session: Session, workspace: Workspace, block_id: int) -> list[dict[str, Any]]:
    """Who confirmed the block, in which cycle, when: oldest first."""
    rows = session.execute(
        select(AuditEvent.actor, AuditEvent.detail, AuditEvent.at)
        .where(
            AuditEvent.workspace_id == workspace.id,
            AuditEvent.action == "confirm",
            AuditEvent.target == f"block:{block_id}",
        )
        .order_by(AuditEvent.at, AuditEvent.id)
    )
    return [
        {
            "by": actor.removeprefix("agent:"),
            "cycle": int(ref.removeprefix("cycle:")) if ref.startswith("cycle:") else None,
            "ref": ref,
            "at": at.isoformat(),
        }
        for actor, ref, at in rows
    ]
