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
   round trip to PostgreSQL);
3. only blocks that can be among the best k read their table row: the score is at most
   the relevance (priors scale it by 1 / (1 + wi + wr) to 1), so once the k most relevant
   blocks are scored, only blocks at least as relevant as the k-th best score can still
   rank (a large brain: ~100 rows read instead of ~2,000 under the plain bound of the
   priors' range, or all 20,000). The notes of the accounts the task names come with the
   first of these reads.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import Any, NamedTuple

from sqlalchemy import TextClause, text
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from core.context.accounts import AccountNames
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

    @classmethod
    def of(cls, task: str, settings: ContextSettings) -> Query:
        concepts = sales_lexicon().concepts(task, phrase_word_weight=settings.phrase_word_weight)
        groups = []
        for index, concept in enumerate(concepts):
            for phrases, weight in (
                (concept.exact, concept.weight),
                (concept.synonyms, concept.weight * settings.synonym_weight),
            ):
                forms = [form for phrase in phrases for form in phrase_variants(phrase)]
                if forms and weight > 0:
                    groups.append((index, weight, forms))
        return cls(concepts, groups)


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


def _readable(columns: str, where: str = "") -> str:
    """The agent's active blocks on its three tiers, one index range each."""
    return "\n UNION ALL\n".join(
        f"SELECT {columns} FROM memory_blocks "
        f"WHERE workspace_id = :workspace_id AND {owner} AND status = 'active'{where}"
        for owner in _OWNERS.values()
    )


# Parsed once: text() scans a statement for its parameters, 0.1 ms each heartbeat cycle.
_COUNT = text(
    "SELECT "
    + " + ".join(
        "(SELECT count(*) FROM memory_blocks "
        f"WHERE workspace_id = :workspace_id AND {owner} AND status = 'active')"
        for owner in _OWNERS.values()
    )
)
_NOTE = " AND type = 'account_context'"
# The accounts there are to name (a large brain holds thousands of notes on ~100 accounts),
# then the notes of one named account.
_ACCOUNTS = text(
    "SELECT DISTINCT subject_company, subject_domain FROM ("
    + _readable("subject_company, subject_domain", _NOTE)
    + ") AS notes"
)


@cache
def _standing_statement(kinds: tuple[tuple[Tier, BlockType], ...]) -> TextClause:
    """The most important blocks of each durable kind: an index range read backwards each."""
    return text(
        "\n UNION ALL\n".join(
            f"SELECT * FROM (SELECT id, importance FROM memory_blocks "
            f"WHERE workspace_id = :workspace_id AND {_OWNERS[tier]} AND status = 'active' "
            f"AND type = '{block_type.value}' AND importance >= :least "
            f"ORDER BY importance DESC, id DESC LIMIT :k) AS {tier.value}_{block_type.value}"
            for tier, block_type in kinds
        )
    )


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
        # The count, the accounts, the standing orders and the task's phrases do not depend
        # on one another: one round trip to PostgreSQL for all four.
        statements = {"count": (_COUNT, owner), "accounts": (_ACCOUNTS, owner)}
        standing = self._standing_query(owner)
        phrases = search.phrase_query(reader, [p for _, _, p in query.groups])
        if standing is not None:
            statements["standing"] = standing
        if phrases is not None:
            statements["hits"] = phrases
        rows = search.fetch_all(connection, list(statements.values()))
        found = dict(zip(statements, rows, strict=True))
        ((readable,),) = found["count"]
        self.relevance = _relevance(search.phrase_hits(found.get("hits", [])), query, readable)
        self.named = AccountNames.of(task, sales_lexicon()).named(found["accounts"])
        # The notes of a named account are fully relevant: read with the first rows (see _rows).
        self._owner, self._notes_unread = owner, list(self.named)
        self._standing = _standing_orders(found.get("standing", []), settings.standing_orders)
        self._ranked = sorted(self.relevance.values(), reverse=True)
        # (tier, type) -> None for durable kinds, else the half-life
        self._half_lives = {
            (tier.value, block_type.value): None
            if settings.durable(tier, block_type)
            else settings.half_life(tier, block_type)
            for tier in Tier
            for block_type in BlockType
        }

    def _standing_query(self, owner: dict[str, int]) -> tuple[TextClause, dict[str, Any]] | None:
        """The statement of the most important durable blocks, if the settings want any."""
        settings = self._settings
        kinds = tuple(
            (tier, block_type)
            for tier in Tier
            for block_type in BlockType
            if settings.durable(tier, block_type)
        )
        if settings.standing_orders == 0 or not kinds:
            return None
        return _standing_statement(kinds), {
            **owner, "least": settings.standing_order_min_importance, "k": settings.standing_orders
        }  # fmt: skip

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
        """The candidates of these blocks, and at the first read the notes of the accounts
        the task names, in the same round trip. Their relevance (1) is set once read: until
        then the k-th best relevance that `best` reads down to is at most what it would be
        with them, so that read takes every block it would have taken, and more."""
        search, statements = self._search, []
        if ids:
            statements.append((_rows_statement(search), {"now": self._now, "ids": search.ids(ids)}))
        for company, domain in self._notes_unread:
            params = {**self._owner, "now": self._now, "company": company, "domain": domain}
            statements.append((_notes_statement(search), params))
        if not statements:
            return {}
        found = search.fetch_all(self._connection, statements)
        if self._notes_unread:
            notes = (row[0] for rows in found[1 if ids else 0 :] for row in rows)
            self.relevance.update(dict.fromkeys(notes, 1.0))
            self._ranked = sorted(self.relevance.values(), reverse=True)
            self._notes_unread = []
        return {row[0]: self._candidate(row) for rows in found for row in rows}

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
