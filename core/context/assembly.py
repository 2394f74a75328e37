"""Context assembly: what an agent knows at the start of a cycle, and why.

Each active block the agent may read (its Personal Brain, its team's Team Brain, the Company
Brain) has three components in 0..1, importance, recency and relevance, and a score where
relevance leads (the formula and why: core/context/settings.py):

    score = relevance x (1 + wi x importance + wr x recency) / (1 + wi + wr)

Relevance is BM25 over the agent's blocks by concept, the sales lexicon's synonyms counting
a bit less than the task's own words (core/context/search.py, lexicon.py); an account note
whose account the task names, by any of its aliases, is fully relevant (accounts.py).

The context is then: a few standing orders (the most important coaching and company policy,
whatever the task), and blocks that share something with the task, best first; a block
with no relevance takes no other slot. Near-duplicates are dropped, within the limit and the
token budget. Each block says why it is there: a standing order, a synonym it matched
("matched 'finance chief' via CFO"), the name the task gave its account.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import Table, bindparam, select, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.util import identity_key

from core import clock
from core.context.lexicon import Synonyms, block_words
from core.context.search import Candidates, Query
from core.context.settings import WORKSPACE_KEY, ContextSettings
from core.errors import InvalidInput
from core.models import Agent, BlockType, MemoryBlock, SourceKind, Tier, Workspace

DEFAULT_LIMIT = 20
DEFAULT_TOKEN_BUDGET = 2000
MAX_LIMIT = 200
MAX_TOKEN_BUDGET = 200_000
# Text that came from outside salesbrain's people: prospects' words, imports, and what an
# agent's model wrote after reading them (a model may have been talked into writing it).
OUTSIDE_SOURCES = frozenset({SourceKind.SIGNAL_ANALYSIS, SourceKind.IMPORT, SourceKind.AGENT_CYCLE})
# The enums by their stored values: a dict lookup, not an Enum call (~2 us each).
_TIERS = {tier.value: tier for tier in Tier}
_TYPES = {block_type.value: block_type for block_type in BlockType}
_SOURCES = {source.value: source for source in SourceKind}
# Promotion copies a block at most twice (personal -> team -> company).
_MAX_PROMOTION_DEPTH = 4


def estimate_tokens(text: str) -> int:
    """Tokens a text takes in a prompt, estimated as one per four characters (rounded up)."""
    return max(1, (len(text) + 3) // 4)


@dataclass(frozen=True)
class ScoredBlock:
    """One block of an assembled context with the breakdown of its score."""

    id: int
    tier: Tier
    type: BlockType
    content: str
    importance: float
    recency: float
    relevance: float
    score: float
    source_kind: SourceKind
    tokens: int
    # The content (or, for a promotion, the block it was copied from) came from outside.
    from_outside: bool = False
    # Here whatever the task: one of the most important durable blocks.
    standing_order: bool = False
    # (the lexicon term the block holds, the task's words it stands for)
    synonyms: tuple[tuple[str, str], ...] = ()
    # For an account note: the name by which the task named its account.
    named_as: str | None = None

    def reasons(self) -> list[str]:
        """Why the block is here, beyond the words it shares with the task."""
        found = ["standing order"] if self.standing_order else []
        if self.named_as:
            found.append(f"account named as '{self.named_as}'")
        found += [f"matched '{term}' via {said}" for term, said in self.synonyms]
        return found

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "tier": self.tier.value,
            "type": self.type.value,
            "content": self.content,
            "importance": round(self.importance, 4),
            "recency": round(self.recency, 4),
            "relevance": round(self.relevance, 4),
            "score": round(self.score, 4),
            "source_kind": self.source_kind.value,
            "from_outside": self.from_outside,
            "tokens": self.tokens,
            "standing_order": self.standing_order,
            "matched": [{"found": term, "via": said} for term, said in self.synonyms],
            "named_as": self.named_as,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ScoredBlock:
        """A block as a cycle recorded it (see as_dict)."""
        return cls(
            id=data["id"],
            tier=Tier(data["tier"]),
            type=BlockType(data["type"]),
            content=data["content"],
            importance=data["importance"],
            recency=data["recency"],
            relevance=data["relevance"],
            score=data["score"],
            source_kind=SourceKind(data["source_kind"]),
            tokens=data["tokens"],
            from_outside=data.get("from_outside", False),
        )


@dataclass(frozen=True)
class AssembledContext:
    """The memory an agent sees for one task, best first."""

    agent: str
    task: str
    blocks: list[ScoredBlock]
    tokens: int

    def as_dict(self) -> dict[str, Any]:
        """The `context --json` shape of DESIGN.md."""
        return {
            "agent": self.agent,
            "task": self.task,
            "blocks": [block.as_dict() for block in self.blocks],
            "tokens": self.tokens,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> AssembledContext:
        """The context as a cycle recorded it, blocks at their recorded content."""
        blocks = [ScoredBlock.from_dict(block) for block in data.get("blocks", [])]
        return cls(data.get("agent", ""), data.get("task", ""), blocks, data.get("tokens", 0))


def assemble_context(
    session: Session,
    agent: Agent,
    task: str,
    *,
    limit: int = DEFAULT_LIMIT,
    token_budget: int = DEFAULT_TOKEN_BUDGET,
    settings: ContextSettings | None = None,
    exclude: Collection[int] = (),
) -> AssembledContext:
    """The agent's top blocks for a task at clock.now(), leaving out the `exclude` ids (a
    heartbeat's prompt holds the company standing orders already); reads only, counts no
    usage."""
    if not 1 <= limit <= MAX_LIMIT:
        raise InvalidInput("limit", f"{limit} is outside 1..{MAX_LIMIT}")
    if not 1 <= token_budget <= MAX_TOKEN_BUDGET:
        raise InvalidInput("token_budget", f"{token_budget} is outside 1..{MAX_TOKEN_BUDGET:,}")
    if settings is None:
        settings = _settings_of(session, agent.workspace_id)
    query = Query.of(task, settings)
    candidates = Candidates(session, agent, task, query, settings, clock.now())
    # The best `limit` first; only when dedupe or the budget skipped some, more (the
    # candidates read stay read: a second pass reads only the blocks the first did not).
    fetch = limit + len(exclude)
    while True:
        rows = candidates.best(fetch)
        found = sum(not row.standing for row in rows)
        rows = [row for row in rows if row.id not in exclude] if exclude else rows
        earned = [row for row in rows if not row.standing]
        chosen, standing = _take(rows, earned, limit, token_budget, settings.duplicate_jaccard)
        if len(chosen) == limit or found < fetch or _budget_left(chosen, token_budget) < 1:
            break
        fetch *= 4
    outside = _from_outside(session, chosen)
    synonyms = Synonyms(query.concepts)
    blocks = [
        ScoredBlock(
            id=row.id,
            tier=_TIERS[row.tier],
            type=_TYPES[row.type],
            content=row.content,
            importance=float(row.importance),
            recency=float(row.recency),
            relevance=float(row.relevance),
            score=float(row.score),
            source_kind=_SOURCES[row.source_kind],
            tokens=estimate_tokens(row.content),
            from_outside=row.id in outside,
            standing_order=row.id in standing,
            synonyms=synonyms.found(row.content) if row.id in candidates.through_synonyms else (),
            named_as=candidates.named.get((row.subject_company or "", row.subject_domain or "")),
        )
        for row in chosen
    ]
    return AssembledContext(
        agent=agent.handle, task=task, blocks=blocks, tokens=sum(b.tokens for b in blocks)
    )


# It runs in every cycle's write transaction, which other cycles wait for: a Core statement
# built once (blocks loaded in the caller's session keep the counts they were loaded with).
_BLOCKS = cast(Table, MemoryBlock.__table__)
_COUNT_USAGE = (
    update(_BLOCKS)
    .where(_BLOCKS.c.id.in_(bindparam("block_ids", expanding=True)))
    .values(times_surfaced=_BLOCKS.c.times_surfaced + 1, last_surfaced_at=bindparam("at"))
)


def record_usage(session: Session, block_ids: Sequence[int]) -> None:
    """Count that these blocks informed one cycle, in the caller's transaction."""
    ids = sorted(set(block_ids))
    if not ids:
        return
    session.execute(_COUNT_USAGE, {"block_ids": ids, "at": clock.now()})


def _settings_of(session: Session, workspace_id: int) -> ContextSettings:
    """The workspace's settings: from the session when loaded, else its settings column only."""
    workspace = session.identity_map.get(identity_key(Workspace, workspace_id))
    if isinstance(workspace, Workspace):
        return ContextSettings.of(workspace)
    stored = session.scalar(select(Workspace.settings).where(Workspace.id == workspace_id))
    return ContextSettings.parse((stored or {}).get(WORKSPACE_KEY))


def _take(
    rows: Sequence[Any], earned: Sequence[Any], limit: int, token_budget: int, jaccard: float
) -> tuple[list[Any], set[int]]:
    """The chosen rows best first, and the ids of those there as standing orders: a standing
    order that the task's relevance already brings into the top `limit` needs no slot."""
    by_merit = {row.id for row in earned[:limit]}
    reserved = [row for row in rows if row.standing and row.id not in by_merit]
    chosen = take_best([*reserved, *earned], limit, token_budget, jaccard)
    standing = {row.id for row in reserved} & {row.id for row in chosen}
    # Standing orders the task is not about score 0: the most important of them first.
    chosen.sort(key=lambda row: (row.score, row.importance, row.id), reverse=True)
    return chosen, standing


def _budget_left(chosen: Sequence[Any], token_budget: int) -> int:
    return token_budget - sum(estimate_tokens(row.content) for row in chosen)


def take_best(rows: Iterable[Any], limit: int, token_budget: int, jaccard: float) -> list[Any]:
    """From rows best first (each with .content and .type): skip near-duplicates of a block
    already taken and blocks that would overflow the budget (a smaller one further down may
    still fit), until the limit or the budget is reached."""
    chosen: list[Any] = []
    kept: dict[str, list[frozenset[str]]] = {}  # per type: the word sets taken
    left = token_budget
    for row in rows:
        tokens = estimate_tokens(row.content)
        if tokens > left:
            continue
        # The same words said again have the same set: a Jaccard of 1. Built per call
        # from the cached words: a set is visited by the garbage collector for as long as
        # it lives, and a cache of a thousand sets cost its collections more than it saved.
        word_set = frozenset(block_words(row.content))
        same_type = kept.setdefault(str(row.type), [])
        if any(_similar(word_set, other, jaccard) for other in same_type):
            continue
        chosen.append(row)
        same_type.append(word_set)
        left -= tokens
        if len(chosen) == limit or left < 1:
            break
    return chosen


def _similar(first: frozenset[str], second: frozenset[str], jaccard: float) -> bool:
    """Token-set Jaccard >= `jaccard`. It is at most the ratio of the sizes: most pairs are
    told apart by that alone, without building their union."""
    small, large = len(first), len(second)
    if small > large:
        small, large = large, small
    if large == 0:
        return True
    if small < jaccard * large:
        return False
    common = len(first & second)
    return common >= jaccard * (small + large - common)


def _from_outside(session: Session, rows: Sequence[Any]) -> set[int]:
    """The blocks whose content came from outside, following promotions to the original.

    An original that no longer exists counts as outside: unknown text is treated as data.
    """
    outside = {row.id for row in rows if _SOURCES[row.source_kind] in OUTSIDE_SOURCES}
    # promoted block id -> the id of the block its content was copied from
    pending = {
        row.id: row.promoted_from_id
        for row in rows
        if _SOURCES[row.source_kind] is SourceKind.PROMOTION
    }
    for _ in range(_MAX_PROMOTION_DEPTH):
        outside.update(block_id for block_id, parent in pending.items() if parent is None)
        pending = {block_id: parent for block_id, parent in pending.items() if parent is not None}
        if not pending:
            break
        found = session.execute(
            select(MemoryBlock.id, MemoryBlock.source_kind, MemoryBlock.promoted_from_id).where(
                MemoryBlock.id.in_(set(pending.values()))
            )
        )
        parents = {id_: (SourceKind(kind), parent) for id_, kind, parent in found}
        still_pending: dict[int, int | None] = {}
        for block_id, parent_id in pending.items():
            kind, grandparent = parents.get(parent_id, (None, None))
            if kind is None or kind in OUTSIDE_SOURCES:
                outside.add(block_id)
            elif kind is SourceKind.PROMOTION:
                still_pending[block_id] = grandparent
        pending = still_pending
    outside.update(pending)  # a lineage deeper than promotion allows: treated as data
    return outside
