"""The candidates of context assembly: the agent's blocks the task finds, with their score
components, best first.

Relevance is BM25 over the blocks the agent reads, by concept: each concept of the task
(core/context/lexicon.py: a word, or a lexicon concept with its synonyms) found in a block
adds its idf among those blocks, ln(1 + (N - n + 0.5) / (n + 0.5)), times its weight (the
task's own words 1, a synonym less; term presence: blocks are a few sentences). The
full-text index says which block holds which phrase (core/dialect.py: FTS5 on SQLite, a
tsvector on PostgreSQL; both index words as written, migration 0007) and the query names
each form it accepts. The score is the one of core/context/settings.py.

The work follows what the task finds, not what the agent reads (a large brain reads 20,000
blocks):
1. one full-text statement gives, per phrase group, the ids of the blocks holding it; the
   concepts' weights per block, their idf and the relevance are summed here, over the hits
   alone;
2. the count of readable blocks (the idf's N), the distinct accounts of the readable
   account notes (which the task may name: accounts.py) and the most important durable
   blocks of each kind (the standing orders) come from the covering indexes of migration
   0004, without table rows; these four statements go together (FullText.fetch_all: one
   round trip to PostgreSQL). Where the database tells an exact version of memory
   (SQLite), the Company Brain's part of each, and of each phrase group, is kept between
   calls until anything is written (kept.py): every agent of a workspace reads it;
3. only blocks that can be among the best k read their table row: the score is at most
   the relevance (priors scale it by 1 / (1 + wi + wr) to 1), so once the k most relevant
   blocks are scored, only blocks at least as relevant as the k-th best score can still
   rank (a large brain: ~100 rows read instead of ~2,000 under the plain bound of the
   priors' range, or all 20,000). The notes of the accounts the task names come with the
   first of these reads.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import Any, NamedTuple

from sqlalchemy import TextClause, text
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from core.context.accounts import AccountNames
from core.context.kept import Kept
from core.context.lexicon import Concept, Phrase, phrase_variants, sales_lexicon
from core.context.settings import ContextSettings
from core.db import UnitOfWork
from core.dialect import FullText, Reader, full_text
from core.models import Agent, BlockType, Tier


@dataclass(frozen=True)
class Query:
    """What one assembly searches for: the task's concepts, each as an exact group (the
    task's own words) and a synonym group (the lexicon's other terms), with the weights."""

    concepts: list[Concept]
    # (concept index, weight, phrases): one full-text lookup each
    groups: list[tuple[int, float, list[Phrase]]]
    # The indexes of the groups of lexicon synonyms (the others hold the task's own words).
    synonym_groups: frozenset[int] = frozenset()

    @classmethod
    def of(cls, task: str, settings: ContextSettings) -> Query:
        concepts = sales_lexicon().concepts(task, phrase_word_weight=settings.phrase_word_weight)
        groups: list[tuple[int, float, list[Phrase]]] = []
        synonym_groups: set[int] = set()
        for index, concept in enumerate(concepts):
            for phrases, weight, synonyms in (
                (concept.exact, concept.weight, False),
                (concept.synonyms, concept.weight * settings.synonym_weight, True),
            ):
                # Each form once: a plural's singular may be a term of its own ("rfps").
                forms = list(
                    dict.fromkeys(form for phrase in phrases for form in phrase_variants(phrase))
                )
                if forms and weight > 0:
                    if synonyms:
                        synonym_groups.add(len(groups))
                    groups.append((index, weight, forms))
        return cls(concepts, groups, frozenset(synonym_groups))


class Candidate(NamedTuple):
    """A block that may be taken, with its score components."""

    id: int
    tier: str
    type: str
    content: str
    importance: float
    source_kind: str
    promoted_from_id: int | None
    subject_company: str | None
    subject_domain: str | None
    recency: float
    relevance: float
    score: float
    standing: bool


# Where each tier's readable active blocks are, one covering index range each.
_OWNERS = {
    Tier.PERSONAL: "agent_id = :agent_id AND tier = 'personal'",
    Tier.TEAM: "team_id = :team_id AND tier = 'team'",
    Tier.COMPANY: "tier = 'company'",
}
# The brains an agent reads, in the order of Reader.scopes().
BRAINS = (Tier.PERSONAL, Tier.TEAM, Tier.COMPANY)


def _readable(columns: str, where: str = "") -> str:
    """The agent's active blocks on its three tiers, one index range each."""
    return "\n UNION ALL\n".join(
        f"SELECT {columns} FROM memory_blocks "
        f"WHERE workspace_id = :workspace_id AND {owner} AND status = 'active'{where}"
        for owner in _OWNERS.values()
    )


def _per_brain(brains: tuple[int, ...], select_from: str, where: str = "") -> TextClause:
    """A statement of rows (brain, ...) from the active blocks of these brains (indexes of
    BRAINS), one index range each."""
    return text(
        "\n UNION ALL\n".join(
            f"SELECT {brain} AS brain, b{brain}.* FROM (SELECT {select_from} FROM memory_blocks "
            f"WHERE workspace_id = :workspace_id AND {_OWNERS[BRAINS[brain]]} "
            f"AND status = 'active'{where}) AS b{brain}"
            for brain in brains
        )
    )


# Built once per set of brains: text() scans a statement for its parameters (0.1 ms).
@cache
def _count_statement(brains: tuple[int, ...]) -> TextClause:
    """The count of each brain's active blocks."""
    return _per_brain(brains, "count(*) AS blocks")


_NOTE = " AND type = 'account_context'"


# The accounts there are to name (a large brain holds thousands of notes on ~100 accounts),
# then the notes of one named account.
@cache
def _accounts_statement(brains: tuple[int, ...]) -> TextClause:
    """The accounts of each brain's account notes."""
    return _per_brain(brains, "DISTINCT subject_company, subject_domain", _NOTE)


@cache
def _standing_statement(
    kinds: tuple[tuple[Tier, BlockType], ...], brains: tuple[int, ...]
) -> TextClause:
    """The most important blocks of each durable kind of these brains: an index range read
    backwards each."""
    return text(
        "\n UNION ALL\n".join(
            f"SELECT {brain} AS brain, * FROM (SELECT id, importance FROM memory_blocks "
            f"WHERE workspace_id = :workspace_id AND {_OWNERS[tier]} AND status = 'active' "
            f"AND type = '{block_type.value}' AND importance >= :least "
            f"ORDER BY importance DESC, id DESC LIMIT :k) AS {tier.value}_{block_type.value}"
            for brain in brains
            for tier, block_type in kinds
            if tier is BRAINS[brain]
        )
    )


class _PerBrain(NamedTuple):
    """A read of what each brain holds whatever the task: `statement(brains)` gives rows
    (brain, ...); the Company Brain's are kept under (name, scope, *key)."""

    name: str
    key: tuple[Hashable, ...]
    statement: Callable[[tuple[int, ...]], TextClause]
    params: dict[str, Any]
    brains: tuple[int, ...] = (0, 1, 2)  # the others hold nothing of it


_ROW = (
    "id, tier, type, content, importance, source_kind, promoted_from_id, subject_company, "
    "subject_domain"
)


@cache
def _rows_statement(search: FullText) -> TextClause:
    """The table rows of the given blocks (found among the agent's readable blocks), with
    their age in days. By primary key alone: a condition on the workspace would make SQLite
    scan the workspace's index instead (5 ms against 0.8 for 100 blocks of 5,000)."""
    return text(
        f"SELECT {_ROW}, {search.age_days('updated_at')} AS age "
        f"FROM memory_blocks WHERE id IN ({search.id_list('ids')})"
    )


@cache
def _notes_statement(search: FullText) -> TextClause:
    """The rows of the readable notes of one account, as _rows_statement's."""
    return text(
        _readable(
            f"{_ROW}, {search.age_days('updated_at')} AS age",
            _NOTE + " AND coalesce(subject_company, '') = :company"
            " AND coalesce(subject_domain, '') = :domain",
        )
    )


# A brain's rows of one read, without the brain: tuples of strings and numbers, which the
# garbage collector soon stops visiting when kept.
Rows = tuple[tuple[Any, ...], ...]


# The brain whose parts are kept: the Company Brain, which every agent of a workspace
# reads (an agent's own and its team's are read each time: an agent's next call comes
# after its own cycle wrote, which starts what is kept afresh anyway).
COMPANY = BRAINS.index(Tier.COMPANY)


class _BrainParts:
    """What each of a reader's brains holds whatever the task: the Company Brain's part
    kept, or read with the others'."""

    def __init__(self, kept: Kept, scopes: tuple[str, ...], reads: list[_PerBrain]) -> None:
        self._kept, self._reads = kept, reads
        self._key = scopes[COMPANY]
        self._parts: dict[str, list[Rows | None]] = {
            read.name: [
                (kept.get((read.name, self._key, *read.key)) if brain == COMPANY else None)
                if brain in read.brains
                else ()
                for brain in range(len(scopes))
            ]
            for read in reads
        }

    def kept(self) -> bool:
        """Whether the Company Brain's parts were kept."""
        return all(self._parts[read.name][COMPANY] is not None for read in self._reads)

    def statements(self) -> dict[str, tuple[TextClause, dict[str, Any]]]:
        """Per read, the statement of the brains whose part is not kept."""
        statements = {}
        for read in self._reads:
            unread = tuple(i for i, part in enumerate(self._parts[read.name]) if part is None)
            if unread:
                statements[read.name] = (read.statement(unread), read.params)
        return statements

    def read(self, found: dict[str, list[tuple[Any, ...]]]) -> dict[str, list[Rows]]:
        """Per read, each brain's rows, the Company Brain's now kept."""
        parts: dict[str, list[Rows]] = {}
        for read in self._reads:
            held = self._parts[read.name]
            fresh: dict[int, list[tuple[Any, ...]]] = {
                brain: [] for brain, part in enumerate(held) if part is None
            }
            for row in found.get(read.name, []):
                fresh[row[0]].append(row)
            for brain, rows in fresh.items():
                held[brain] = part = tuple(row[1:] for row in rows)
                if brain == COMPANY:
                    self._kept.put((read.name, self._key, *read.key), part)
            parts[read.name] = [() if part is None else part for part in held]
        return parts


class _PhraseHits:
    """The blocks holding each phrase group in the reader's three brains, in one lookup per
    group; or, where the Company Brain's parts are kept (`keep`), the Company Brain's part
    of each group kept, and looked up on its own when it is not."""

    def __init__(
        self,
        kept: Kept,
        search: FullText,
        reader: Reader,
        groups: list[tuple[Phrase, ...]],
        *,
        keep: bool,
    ) -> None:
        self._kept, self._search, self._reader, self._groups = kept, search, reader, groups
        scopes = reader.scopes()
        self._company, self._others = scopes[COMPANY : COMPANY + 1], scopes[:COMPANY]
        # forms -> the Company Brain's blocks holding one of them, where kept
        self._held: dict[tuple[Phrase, ...], tuple[int, ...] | None] = {}
        if keep:
            self._held = {
                forms: kept.get(("phrases", self._company[0], forms))
                for forms in dict.fromkeys(groups)
            }
        self._keep = keep
        # Lookups (scopes, forms), by the index of their rows.
        self._lookups = [(self._others, forms) for forms in self._held] + [
            (self._company, forms) for forms, held in self._held.items() if held is None
        ]

    def statements(self) -> dict[str, tuple[TextClause, dict[str, Any]]]:
        if self._keep:
            statement = self._search.scope_phrase_query(self._lookups)
        else:
            statement = self._search.phrase_query(self._reader, self._groups)
        return {"hits": statement} if statement is not None else {}

    def read(self, found: dict[str, list[tuple[Any, ...]]]) -> dict[int, list[int]]:
        """Group index -> the ids of the blocks holding it (groups with none left out)."""
        hits = self._search.phrase_hits(found.get("hits", []))
        if not self._keep:
            return hits
        by_forms: dict[tuple[Phrase, ...], list[int]] = {}
        for index, (scopes, forms) in enumerate(self._lookups):
            ids = hits.get(index, [])
            if scopes == self._company:
                self._kept.put(("phrases", scopes[0], forms), tuple(ids))
            by_forms[forms] = by_forms.get(forms, []) + ids
        for forms, held in self._held.items():
            if held:
                by_forms[forms] = by_forms[forms] + list(held)
        return {
            index: by_forms[forms] for index, forms in enumerate(self._groups) if by_forms[forms]
        }


class Candidates:
    """What a task finds among an agent's blocks; `best(k)` reads the rows of the best."""

    def __init__(
        self,
        session: Session,
        agent: Agent,
        task: str,
        query: Query,
        settings: ContextSettings,
        now: datetime,
    ) -> None:
        self._settings = settings
        self._connection = connection = session.connection()
        self._search = search = full_text(connection)
        reader = Reader(agent.workspace_id, agent.team_id, agent.id)
        owner = reader._asdict()
        self._now = search.now(now)
        # What each brain holds whatever the task, and the blocks holding the task's
        # phrases, are read for the brains whose part is not kept from an earlier call at
        # this version of memory (kept.py). None depends on another: one round trip to
        # PostgreSQL for all.
        kept = Kept.of(connection, search)
        reads = [
            _PerBrain("count", (), _count_statement, owner),
            _PerBrain("accounts", (), _accounts_statement, owner),
        ]
        standing_read = self._standing_read(owner)
        if standing_read is not None:
            reads.append(standing_read)
        brains = _BrainParts(kept, reader.scopes(), reads)
        # The Company Brain's phrases are looked up on their own (and kept) once its parts
        # are kept: a workspace whose Company Brain is read again at the same version.
        phrases = _PhraseHits(
            kept, search, reader, [tuple(p) for _, _, p in query.groups], keep=brains.kept()
        )
        statements = {**brains.statements(), **phrases.statements()}
        rows = search.fetch_all(connection, list(statements.values())) if statements else []
        found = dict(zip(statements, rows, strict=True))
        parts = brains.read(found)
        readable = sum(count for part in parts["count"] for (count,) in part)
        hits = phrases.read(found)
        self.relevance = _relevance(hits, query, readable)
        # The blocks a lexicon synonym found: only their explanations can name one.
        self.through_synonyms = {i for group in query.synonym_groups for i in hits.get(group, ())}
        accounts = dict.fromkeys(account for part in parts["accounts"] for account in part)
        self.named = AccountNames.of(task, sales_lexicon()).named(accounts)
        # The notes of a named account are fully relevant: read with the first rows (see _rows).
        self._owner, self._notes_unread = owner, list(self.named)
        # The candidates read so far: a call of best() for more reads only the rest.
        self._read: dict[int, Candidate] = {}
        standing = [row for part in parts.get("standing", []) for row in part]
        self._standing = _standing_orders(standing, settings.standing_orders)
        self._ranked = sorted(self.relevance.values(), reverse=True)
        self._half_lives = settings.half_lives

    def _standing_read(self, owner: dict[str, int]) -> _PerBrain | None:
        """The read of the most important durable blocks, if the settings want any."""
        settings = self._settings
        kinds = settings.durable_kinds
        if settings.standing_orders == 0 or not kinds:
            return None
        least, k = settings.standing_order_min_importance, settings.standing_orders
        return _PerBrain(
            "standing",
            (kinds, least, k),
            lambda brains: _standing_statement(kinds, brains),
            {**owner, "least": least, "k": k},
            tuple(brain for brain, tier in enumerate(BRAINS) if any(t is tier for t, _ in kinds)),
        )

    def best(self, k: int) -> list[Candidate]:
        """The k best blocks that share something with the task, best first; then the
        standing orders, best first (a block may be both)."""
        ranked, relevance = self._ranked, self.relevance.items()
        # First the k most relevant blocks (and ties; on PostgreSQL a little further:
        # FullText.first_read), whose scores set a bar: the score is at most the relevance,
        # so only blocks as relevant as the k-th best score can still rank, and only those
        # not read yet are read next.
        first = ranked[k - 1] * self._search.first_read if len(ranked) > k else 0.0
        rows = self._rows([i for i, r in relevance if r >= first] + self._standing)
        earned = sorted(
            (row for row in rows.values() if row.relevance > 0),
            key=lambda row: (row.score, row.id),
            reverse=True,
        )
        if first > 0 and len(earned) >= k and earned[k - 1].score < first:
            bar = earned[k - 1].score
            more = self._rows([i for i, r in relevance if bar <= r < first and i not in rows])
            rows.update(more)
            earned = sorted(
                [*earned, *more.values()], key=lambda row: (row.score, row.id), reverse=True
            )
        standing = sorted(
            (rows[i]._replace(standing=True) for i in self._standing if i in rows),
            key=lambda row: (row.score, row.id),
            reverse=True,
        )
        return earned[:k] + standing

    def _rows(self, ids: list[int]) -> dict[int, Candidate]:
        """The candidates of these blocks (read once per assembly), and at the first read
        the notes of the accounts the task names, in the same round trip. Their relevance
        (1) is set once read: until then the k-th best relevance that `best` reads down to
        is at most what it would be with them, so that read takes every block it would
        have taken, and more."""
        search, statements, read = self._search, [], self._read
        unread = [block_id for block_id in ids if block_id not in read]
        if unread:
            params = {"now": self._now, "ids": search.ids(unread)}
            statements.append((_rows_statement(search), params))
        for company, domain in self._notes_unread:
            params = {**self._owner, "now": self._now, "company": company, "domain": domain}
            statements.append((_notes_statement(search), params))
        found = search.fetch_all(self._connection, statements) if statements else []
        if self._notes_unread:
            notes = (row[0] for rows in found[1 if unread else 0 :] for row in rows)
            self.relevance.update(dict.fromkeys(notes, 1.0))
            self._ranked = sorted(self.relevance.values(), reverse=True)
            self._notes_unread = []
        fresh = {row[0]: self._candidate(row) for rows in found for row in rows}
        read.update(fresh)
        return {**{block_id: read[block_id] for block_id in ids if block_id in read}, **fresh}

    def _candidate(self, row: Any) -> Candidate:
        # By position: a Row's attributes cost more than the rest of this (~100 rows a call).
        block_id, tier, kind, content, importance, source, parent, company, domain, age = row
        half_life = self._half_lives[(tier, kind)]
        recency = 1.0 if half_life is None else 0.5 ** (age / half_life)
        relevance = self.relevance.get(block_id, 0.0)
        score = self._settings.score(importance, recency, relevance)
        return Candidate(
            block_id, tier, kind, content, importance, source, parent, company, domain,
            recency, relevance, score, False,
        )  # fmt: skip


def _standing_orders(found: list[tuple[Any, ...]], count: int) -> list[int]:
    """The ids of the most important durable blocks, best first, from (id, importance) rows:
    the most important first, the newest of equals."""
    best = sorted(found, key=lambda row: (row[1], row[0]), reverse=True)
    return [block_id for block_id, _ in best[:count]]


def _relevance(hits: dict[int, list[int]], query: Query, readable: int) -> dict[int, float]:
    """Block id -> relevance in 0..1 (the best block's is 1), for the blocks with a hit."""
    # concept -> block id -> the best weight of the concept's groups the block matched:
    # the groups by rising weight, each overriding the ones before.
    held: dict[int, dict[int, float]] = {}
    for group in sorted(hits, key=lambda group: query.groups[group][1]):
        concept, weight, _ = query.groups[group]
        held.setdefault(concept, {}).update(dict.fromkeys(hits[group], weight))
    raw: dict[int, float] = {}
    for blocks in held.values():
        idf = math.log(1.0 + (readable - len(blocks) + 0.5) / (len(blocks) + 0.5))
        for block_id, weight in blocks.items():
            raw[block_id] = raw.get(block_id, 0.0) + weight * idf
    best = max(raw.values(), default=0.0)
    return {block_id: value / best for block_id, value in raw.items()} if best > 0 else {}


def optimize_index(engine: Engine, *, pages: int = 500, max_steps: int = 100_000) -> int:
    """Merge the full-text index into one piece, in short transactions; returns the steps.

    SQLite's FTS5 adds a segment per write and merges them lazily; every segment costs
    every task word a lookup (a million blocks written in small transactions: ~25 segments,
    about 1.5 ms per assembly). Each step merges about `pages` pages (tens of milliseconds),
    so writers never wait long. On PostgreSQL it flushes the GIN index's pending list.
    Run it daily, or after a large import.
    """
    for step in range(1, max_steps + 1):
        with UnitOfWork(engine) as uow:
            connection = uow.session.connection()
            merged = full_text(connection).merge_step(connection, pages)
        if not merged:
            return step
    return max_steps
