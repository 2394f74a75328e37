"""Memory health: what has gone stale in the brains, and the one action that tidies each.

Five kinds of item, each found within what the viewer may tidy (admins and the operator at
the command line: the workspace; managers: their teams' agents and Team Brains; members:
nothing):
- `unused`: an active block that has not surfaced in any cycle for `days` days (and is
  older than that): it takes space and informs nothing. Archive.
- `stale_coaching`: a coaching note not written or confirmed within its validity, the
  workspace's coaching half-life (90 days unless set: `salesbrain context settings`).
  Archive it, or coach it again.
- `stale_copy`: a Team Brain copy of a finding that has moved on (core/signals/review.py
  `stale_copies`): refresh it when the finding says something new, else archive it.
- `superseded_copy`: an active copy of a block that is itself superseded or archived (a
  finding the data stopped supporting): archive.
- `duplicate` and `conflict`: two active coaching notes for the same agent. Each note is
  read as context assembly reads a task (core/context/lexicon.py): its lexicon concepts
  ("CFO" and "finance chief" are one) and its other words, singular, without stopwords.
  Two notes *say the same thing* when these keys overlap by at least DUPLICATE (token-set
  Jaccard) and both or neither are negated: merge them. They *conflict* when they share at
  least two keys with a Jaccard of at least CONFLICT and exactly one is negated ("lead with
  price" against "never lead with price"): the older is offered for archiving, the newer
  being the manager's latest word.
"""

from __future__ import annotations

from collections import OrderedDict, defaultdict
from collections.abc import Hashable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import lru_cache
from itertools import combinations
from threading import Lock
from weakref import WeakKeyDictionary

from sqlalchemy import Engine, Pool, Select, case, func, or_, select
from sqlalchemy.orm import Session, aliased

from core import audit, clock, memory
from core.context.lexicon import sales_lexicon, singular, words
from core.context.settings import ContextSettings
from core.errors import InvalidInput
from core.models import (
    Agent,
    BlockStatus,
    BlockType,
    MemberRole,
    MemoryBlock,
    Team,
    Tier,
    Workspace,
)
from core.permissions import Actor, ActorKind, Principal, principal_for
from core.signals.review import stale_copies

UNUSED_DAYS = 30
DUPLICATE = 0.7
CONFLICT = 0.4
# Words that turn an instruction around. "don't" reads as "don" and "t" (lexicon.words).
NEGATIONS = frozenset({"not", "never", "no", "avoid", "stop", "don", "doesn", "nor", "cannot"})
# Items of one kind looked at: a count of PER_KIND means "at least".
PER_KIND = 200
# Active coaching notes compared pairwise per agent (its first ones: a manager rarely keeps
# more; the pairs grow with the square).
MAX_NOTES = 100

ARCHIVE, REFRESH, MERGE = "archive", "refresh", "merge"

# The App Home shows memory health on every open, and a large brain takes about a second to
# check (BENCHMARKS.md): what a viewer was shown is shown again for up to REMEMBER_SECONDS,
# unless the workspace's memory changed meanwhile (a block written, archived, superseded or
# edited), which is checked on every open. Only blocks surfacing in cycles can leave the
# "unused" items unseen for that long.
REMEMBER_SECONDS = 60
REMEMBERED_VIEWS = 512


@dataclass(frozen=True)
class HealthItem:
    """One thing to tidy: the block, what is wrong, and the action that fixes it."""

    kind: str
    block_id: int
    owner: str
    content: str
    reason: str
    action: str
    # The other block: the note a duplicate merges into, the one a conflict keeps.
    other_id: int | None = None


@dataclass(frozen=True)
class Health:
    """The items a viewer may act on, most worth a look first, and how many of each kind."""

    items: list[HealthItem] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)
    may_tidy: bool = False

    @property
    def total(self) -> int:
        return sum(self.counts.values())


def memory_health(
    session: Session, workspace: Workspace, actor: Actor, *, days: int = UNUSED_DAYS
) -> Health:
    """What has gone stale in the memory `actor` may tidy, each item with its action."""
    if days < 1:
        raise InvalidInput("days", f"must be at least 1, not {days}")
    principal = principal_for(session, workspace, actor)
    # The operator (the command line without --by) sees everything, as an admin does.
    operator = actor.kind is ActorKind.SYSTEM
    if principal.role not in (MemberRole.ADMIN, MemberRole.MANAGER) and not operator:
        return Health()
    scope = _Scope(session, workspace, principal, everything=operator)
    found: list[HealthItem] = []
    counts: dict[str, int] = {}
    conflicts, duplicates = scope.coaching_pairs()
    for kind, items in (
        ("conflict", conflicts),
        ("duplicate", duplicates),
        ("stale_copy", scope.stale_copies()),
        ("superseded_copy", scope.superseded_copies()),
        ("stale_coaching", scope.stale_coaching()),
        ("unused", scope.unused(days)),
    ):
        seen = {item.block_id for item in found}
        fresh = [item for item in items if item.block_id not in seen]
        counts[kind] = len(fresh)
        found += fresh
    return Health(items=found, counts=counts, may_tidy=True)


class _Remembered:
    """Health found in one database per (workspace, what the viewer may tidy, days), with the
    state of the workspace's memory it was found in; shared by the threads of a process."""

    def __init__(self) -> None:
        self._found: OrderedDict[Hashable, tuple[Hashable, datetime, Health]] = OrderedDict()
        self._lock = Lock()

    def get(self, key: Hashable, state: Hashable) -> Health | None:
        with self._lock:
            found = self._found.get(key)
        if found is None:
            return None
        was, at, health = found
        fresh = clock.now() - at < timedelta(seconds=REMEMBER_SECONDS)
        return health if was == state and fresh else None

    def put(self, key: Hashable, state: Hashable, health: Health) -> None:
        with self._lock:
            self._found[key] = (state, clock.now(), health)
            self._found.move_to_end(key)
            while len(self._found) > REMEMBERED_VIEWS:
                self._found.popitem(last=False)


# One per database, known by its engine's connection pool (shared by the engine's read-only
# views): a process may open several, the tests one per test.
_remembered: WeakKeyDictionary[Pool, _Remembered] = WeakKeyDictionary()
_remembered_lock = Lock()


def _remembered_in(session: Session) -> _Remembered:
    bind = session.get_bind()
    pool = bind.pool if isinstance(bind, Engine) else bind.engine.pool
    with _remembered_lock:
        return _remembered.setdefault(pool, _Remembered())


def home_health(session: Session, workspace: Workspace, actor: Actor) -> Health:
    """`memory_health` for the App Home: remembered for a minute while memory is unchanged."""
    principal = principal_for(session, workspace, actor)
    if principal.role not in (MemberRole.ADMIN, MemberRole.MANAGER):
        return Health()
    viewer = "all" if principal.is_admin else tuple(sorted(principal.managed_team_ids))
    key = (workspace.id, viewer, UNUSED_DAYS)
    state = memory_state(session, workspace)
    remembered = _remembered_in(session)
    health = remembered.get(key, state)
    if health is None:
        health = memory_health(session, workspace, actor)
        remembered.put(key, state, health)
    return health


def memory_state(session: Session, workspace: Workspace) -> tuple[object, ...]:
    """What changes whenever a block of the workspace is written, archived, superseded or
    edited: its newest id and update, and how many are active (one pass over an index)."""
    active = func.sum(case((MemoryBlock.status == BlockStatus.ACTIVE, 1), else_=0))
    row = session.execute(
        select(func.max(MemoryBlock.id), func.max(MemoryBlock.updated_at), active).where(
            MemoryBlock.workspace_id == workspace.id
        )
    ).one()
    return tuple(row)


def merge(
    session: Session, workspace: Workspace, keep_id: int | str, drop_id: int | str, *, by: Actor
) -> MemoryBlock:
    """Fold a coaching note into another that says the same: the other is archived, the
    kept one takes the higher importance and counts as confirmed now."""
    keep = memory.get_block(session, workspace, keep_id)
    drop = memory.get_block(session, workspace, drop_id)
    if keep.id == drop.id:
        raise InvalidInput("block", f"block {keep.id} cannot be merged into itself")
    if (keep.tier, keep.agent_id, keep.team_id) != (drop.tier, drop.agent_id, drop.team_id):
        raise InvalidInput(
            "block", f"blocks {keep.id} and {drop.id} are on different brains: nothing to merge"
        )
    if keep.status is not BlockStatus.ACTIVE:
        raise InvalidInput(
            "block", f"block {keep.id} is {keep.status.value}: merge into an active one"
        )
    # Archiving checks who may (admins, the managers of the owning team) and audits it.
    memory.archive(session, workspace, drop.id, by=by, reason=f"merged into block {keep.id}")
    keep.importance = max(keep.importance, drop.importance)
    keep.updated_at = clock.now()
    session.flush()
    audit.record(session, workspace, by, "merge", f"block:{keep.id}", f"from block:{drop.id}")
    return keep


@lru_cache(maxsize=20_000)
def note_keys(text: str) -> frozenset[str]:
    """What a note speaks of, as context assembly reads a task: lexicon concepts by name,
    other words singular, stopwords left out. Remembered: the Home asks on every open, and
    notes rarely change."""
    keys = set()
    for concept in sales_lexicon().concepts(text, phrase_word_weight=0.5):
        if concept.weight < 1:
            continue  # a word of a lexicon phrase, already counted as the phrase's concept
        if concept.name is not None:
            keys.add(f"concept:{concept.name}")
        else:
            word = concept.exact[0][0]
            if word not in NEGATIONS:
                keys.add(singular(word))
    return frozenset(keys)


def negated(text: str) -> bool:
    """Whether a note says what not to do."""
    return any(word in NEGATIONS for word in words(text))


class _Scope:
    """The blocks one principal may tidy, and the queries over them."""

    def __init__(
        self, session: Session, workspace: Workspace, principal: Principal, *, everything: bool
    ) -> None:
        self.session = session
        self.workspace = workspace
        self.admin = principal.is_admin or everything
        self.team_ids = principal.managed_team_ids
        self.now = clock.now()
        agents = select(Agent.id, Agent.handle).where(Agent.workspace_id == workspace.id)
        self.handles = {agent_id: handle for agent_id, handle in session.execute(agents)}
        teams = select(Team.id, Team.slug).where(Team.workspace_id == workspace.id)
        self.teams = {team_id: slug for team_id, slug in session.execute(teams)}

    def _active(self) -> Select[MemoryBlock]:
        query = select(MemoryBlock).where(
            MemoryBlock.workspace_id == self.workspace.id,
            MemoryBlock.status == BlockStatus.ACTIVE,
        )
        if self.admin:
            return query
        managed = select(Agent.id).where(
            Agent.workspace_id == self.workspace.id, Agent.team_id.in_(self.team_ids)
        )
        return query.where(
            or_(
                MemoryBlock.agent_id.in_(managed),
                (MemoryBlock.tier == Tier.TEAM) & MemoryBlock.team_id.in_(self.team_ids),
            )
        )

    def _owner(self, block: MemoryBlock) -> str:
        if block.agent_id is not None:
            return self.handles.get(block.agent_id, "?")
        if block.team_id is not None:
            return self.teams.get(block.team_id, "?")
        return "company"

    def _item(
        self, kind: str, block: MemoryBlock, reason: str, action: str, other: int | None = None
    ) -> HealthItem:
        return HealthItem(kind, block.id, self._owner(block), block.content, reason, action, other)

    def unused(self, days: int) -> list[HealthItem]:
        cutoff = self.now - timedelta(days=days)
        blocks = self.session.scalars(
            self._active()
            .where(
                MemoryBlock.created_at < cutoff,
                or_(MemoryBlock.last_surfaced_at.is_(None), MemoryBlock.last_surfaced_at < cutoff),
            )
            # Oldest first, by id (the order blocks were written): the primary key's order,
            # so that the query stops at PER_KIND without sorting every unused block.
            .order_by(MemoryBlock.id)
            .limit(PER_KIND)
        )
        return [
            self._item(
                "unused",
                block,
                f"not surfaced in any cycle for {days} days"
                + ("" if block.last_surfaced_at else " (never surfaced)"),
                ARCHIVE,
            )
            for block in blocks
        ]

    def stale_coaching(self) -> list[HealthItem]:
        validity = ContextSettings.of(self.workspace).half_life(Tier.PERSONAL, BlockType.COACHING)
        cutoff = self.now - timedelta(days=validity)
        blocks = self.session.scalars(
            self._active()
            .where(MemoryBlock.type == BlockType.COACHING, MemoryBlock.updated_at < cutoff)
            .order_by(MemoryBlock.updated_at, MemoryBlock.id)
            .limit(PER_KIND)
        )
        return [
            self._item(
                "stale_coaching",
                block,
                f"not written or confirmed in {validity:g} days, its validity: still true?",
                ARCHIVE,
            )
            for block in blocks
        ]

    def stale_copies(self) -> list[HealthItem]:
        teams = (
            self.teams
            if self.admin
            else {i: s for i, s in self.teams.items() if i in self.team_ids}
        )
        items = []
        for team_id in sorted(teams):
            team = self.session.get(Team, team_id)
            assert team is not None
            for copy in stale_copies(self.session, self.workspace, team):
                block = self.session.get(MemoryBlock, copy.block_id)
                assert block is not None
                reason = f"copied from finding {copy.finding}; {copy.reason}"
                items.append(self._item("stale_copy", block, reason, copy.action, copy.current_id))
        return items[:PER_KIND]

    def superseded_copies(self) -> list[HealthItem]:
        original = aliased(MemoryBlock)
        rows = self.session.execute(
            self._active()
            .add_columns(original.id, original.status)
            .join(original, original.id == MemoryBlock.promoted_from_id)
            .where(original.status.in_((BlockStatus.SUPERSEDED, BlockStatus.ARCHIVED)))
            .order_by(MemoryBlock.id)
            .limit(PER_KIND)
        )
        return [
            self._item(
                "superseded_copy",
                block,
                f"copied from block {original_id}, which is {status.value}",
                ARCHIVE,
            )
            for block, original_id, status in rows
        ]

    def coaching_pairs(self) -> tuple[list[HealthItem], list[HealthItem]]:
        """The conflicts and the duplicates among each agent's active coaching notes."""
        notes: dict[int, list[MemoryBlock]] = defaultdict(list)
        for block in self.session.scalars(
            self._active()
            .where(MemoryBlock.type == BlockType.COACHING, MemoryBlock.tier == Tier.PERSONAL)
            .order_by(MemoryBlock.agent_id, MemoryBlock.id)
            .limit(MAX_NOTES * 50)
        ):
            if block.agent_id is not None and len(notes[block.agent_id]) < MAX_NOTES:
                notes[block.agent_id].append(block)
        conflicts: list[HealthItem] = []
        duplicates: list[HealthItem] = []
        for agent_notes in notes.values():
            self._pairs(agent_notes, conflicts, duplicates)
        return conflicts[:PER_KIND], duplicates[:PER_KIND]

    def _pairs(
        self,
        notes: Sequence[MemoryBlock],
        conflicts: list[HealthItem],
        duplicates: list[HealthItem],
    ) -> None:
        # Plain tuples: the loop runs over every pair, and ORM attributes cost more than the
        # comparison itself.
        read = [
            (index, len(keys), keys, negated(note.content))
            for index, note in enumerate(notes)
            for keys in (note_keys(note.content),)
        ]
        taken: set[int] = set()
        pairs = combinations(read, 2)
        for (older, old_size, old_keys, old_no), (newer, new_size, new_keys, new_no) in pairs:
            small, large = (old_size, new_size) if old_size < new_size else (new_size, old_size)
            # Jaccard is at most small / large: most pairs are told apart without a union.
            if small < CONFLICT * large or older in taken or newer in taken:
                continue
            shared = len(old_keys & new_keys)
            overlap = shared / (small + large - shared) if large else 1.0
            first, second = notes[older], notes[newer]
            if old_no != new_no and overlap >= CONFLICT and shared >= 2:
                reason = f"contradicts the newer block {second.id}: {second.content}"
                conflicts.append(self._item("conflict", first, reason, ARCHIVE, second.id))
            elif old_no == new_no and overlap >= DUPLICATE:
                reason = f"says what block {first.id} says: {first.content}"
                duplicates.append(self._item("duplicate", second, reason, MERGE, first.id))
            else:
                continue
            taken |= {older, newer}
