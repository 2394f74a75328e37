"""The candidate query: an agent's readable blocks with their score components, best first.

This is where SQLite and PostgreSQL differ (full-text search and date arithmetic); the
score it computes is the one described in core/context/settings.py.

Relevance is BM25 over the blocks the agent reads, by concept: each concept of the task
(core/context/lexicon.py: a word, or a lexicon concept with its synonyms) found in a block
adds its idf among those blocks, ln(1 + (N - n + 0.5) / (n + 0.5)), times its weight (the
task's own words 1, a synonym less; term presence: blocks are a few sentences). The
database's full-text search says which block holds which phrase; both index words as
written, without stemming (migration 0007), and the query names each form it accepts:

- SQLite: the FTS5 table `memory_fts` (migration 0002) indexes each active block's words
  under its owner's scope: `p<agent id>x`, `t<team id>x` or `c<workspace id>x` + word, so
  that a task word is looked up in the three brains the agent reads and nowhere else. FTS5's
  own bm25() is not used: it takes idf over the whole table, which lets other workspaces'
  words sway a workspace's ranking and scans every common word's postings (hundreds of
  milliseconds at a million blocks).
- PostgreSQL: the generated tsvector column `memory_fts` ('simple' configuration) and
  tsquery (ts_rank has no idf).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Row, text
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from core.context.accounts import AccountNames
from core.context.lexicon import STOPWORDS, Concept, Phrase, phrase_variants, sales_lexicon
from core.context.settings import ContextSettings
from core.db import UnitOfWork
from core.models import Agent, BlockType, Tier

# Joins the account keys the task names into one parameter (a character no name holds).
_SEPARATOR = "\x1f"


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


def _readable(columns: str, tables: str, where: str = "") -> str:
    """The agent's active blocks on its three tiers, one index range each."""
    branches = [
        "agent_id = :agent_id AND tier = 'personal'",
        "team_id = :team_id AND tier = 'team'",
        "tier = 'company'",
    ]
    return "\n UNION ALL\n".join(
        f"SELECT {columns} FROM {tables} "
        f"WHERE workspace_id = :workspace_id AND {branch} AND status = 'active'{where}"
        for branch in branches
    )


def _statement(*, readable: str, term_hits: str, age_days: str, position: str) -> str:
    """The candidate query: the agent's readable blocks, the weight of each task concept
    among them, components per block, the score (the formula: settings.py), the best k that
    share something with the task and the best standing orders, and only for those the table
    row with the content.

    `readable` and `term_hits` (concept, weight, id) are the dialect's CTEs; `age_days` and
    `position` (substring search) its expressions. Materialized CTEs keep SQLite from
    evaluating a component once per use."""
    half_life = " ".join(
        f"WHEN r.type = '{block_type.value}' THEN :half_life_{block_type.value}"
        for block_type in BlockType
    )
    kind = "' ' || r.tier || ':' || r.type || ' '"
    named = (
        f"r.type = 'account_context' AND ("
        f"{position}(:named_companies, :separator || r.subject_company || :separator) > 0"
        f" OR {position}(:named_domains, :separator || r.subject_domain || :separator) > 0)"
    )
    columns = "id, tier, type, importance, recency, relevance"
    score = (
        "relevance * (1.0 + :importance_weight * importance + :recency_weight * recency)"
        " / (1.0 + :importance_weight + :recency_weight)"
    )
    return f"""
WITH readable AS MATERIALIZED ({readable}),
term_hits(concept, weight, id) AS MATERIALIZED ({term_hits}),
concept_hits(concept, id, weight) AS MATERIALIZED (
    SELECT concept, id, max(weight) FROM term_hits GROUP BY concept, id),
weights(concept, idf) AS MATERIALIZED (
    SELECT concept, ln(1.0 + (CAST((SELECT count(*) FROM readable) AS DOUBLE PRECISION)
                              - count(*) + 0.5) / (count(*) + 0.5))
      FROM concept_hits GROUP BY concept),
hits(id, raw) AS MATERIALIZED (
    SELECT c.id, sum(c.weight * w.idf)
      FROM concept_hits c JOIN weights w ON w.concept = c.concept GROUP BY c.id),
best(raw) AS MATERIALIZED (SELECT max(raw) FROM hits),
components AS MATERIALIZED (
    SELECT r.id, r.tier, r.type, r.importance,
           CASE WHEN {position}(:durable, {kind}) > 0 THEN 1.0
                ELSE power(0.5, {age_days}
                           / (CASE WHEN r.tier = 'company' THEN :half_life_company
                                   {half_life} END)) END AS recency,
           CASE WHEN {named} THEN 1.0
                ELSE coalesce(h.raw / (SELECT raw FROM best), 0.0) END AS relevance
      FROM readable r LEFT JOIN hits h ON h.id = r.id
     -- Only blocks that can be taken: matches, named accounts, standing order candidates.
     WHERE h.id IS NOT NULL OR ({named})
        OR ({position}(:durable, {kind}) > 0 AND r.importance >= :standing_min_importance)),
earned AS MATERIALIZED (
    SELECT {columns}, {score} AS score, 0 AS standing
      FROM components WHERE relevance > 0
     ORDER BY score DESC, id DESC LIMIT :k),
standing AS MATERIALIZED (
    SELECT {columns}, {score} AS score, 1 AS standing
      FROM components
     WHERE recency = 1.0 AND importance >= :standing_min_importance
       AND {position}(:durable, ' ' || tier || ':' || type || ' ') > 0
     ORDER BY importance DESC, id DESC LIMIT :standing_k),
top AS (SELECT * FROM earned UNION ALL SELECT * FROM standing)
SELECT top.id, top.tier, top.type, b.content, top.importance, b.source_kind,
       b.promoted_from_id, b.subject_company, b.subject_domain, top.recency, top.relevance,
       top.score, top.standing
  FROM top JOIN memory_blocks b ON b.id = top.id
 ORDER BY top.standing, top.score DESC, top.id DESC"""


# What the score needs, all of it in the covering indexes above.
_COLUMNS = "id, tier, type, importance, updated_at, subject_company, subject_domain"
SQLITE = _statement(
    readable=_readable(_COLUMNS, "memory_blocks"),
    # One FTS5 query per group of the task's phrases, each under the agent's three scopes
    # (see above).
    term_hits="SELECT json_extract(j.value, '$[0]'), json_extract(j.value, '$[1]'), f.rowid "
    "FROM json_each(:groups) AS j "
    "JOIN memory_fts AS f ON f.memory_fts MATCH json_extract(j.value, '$[2]')",
    age_days="max(0.0, :now_julian_day - julianday(r.updated_at))",
    position="instr",
)
POSTGRESQL = _statement(
    readable=_readable(f"{_COLUMNS}, memory_fts", "memory_blocks"),
    # The queries are parsed once (a join would parse one per block and group).
    term_hits="WITH queries AS MATERIALIZED ("
    "SELECT u.concept, u.weight, to_tsquery('simple', u.query) AS query "
    "FROM unnest(CAST(:concepts AS integer[]), CAST(:weights AS float8[]), "
    "CAST(:queries AS text[])) AS u(concept, weight, query)), "
    # One test of the whole task first: most blocks hold none of its words.
    "matched AS MATERIALIZED (SELECT id, memory_fts FROM readable "
    "WHERE memory_fts @@ to_tsquery('simple', :any_query)) "
    "SELECT q.concept, q.weight, m.id FROM matched m JOIN queries q ON m.memory_fts @@ q.query",
    age_days="greatest(0.0, extract(epoch FROM (:now - r.updated_at))::float8 / 86400.0)",
    position="strpos",
)
# The account notes among the readable blocks: which accounts there are to name.
SUBJECTS = (
    "SELECT DISTINCT subject_company, subject_domain FROM ("
    + _readable("subject_company, subject_domain", "memory_blocks", " AND type = 'account_context'")
    + ") AS accounts"
)


# Parsed once: text() scans the statement for its parameters, 0.1 ms each heartbeat cycle.
_SQLITE_QUERY, _POSTGRESQL_QUERY, _SUBJECTS_QUERY = text(SQLITE), text(POSTGRESQL), text(SUBJECTS)


def _sqlite_groups(agent: Agent, groups: Sequence[tuple[int, float, list[Phrase]]]) -> str:
    """Each group as an FTS5 query of its phrases under the agent's scopes, as JSON."""
    scopes = (f"p{agent.id}x", f"t{agent.team_id}x", f"c{agent.workspace_id}x")
    return json.dumps(
        [
            [
                index,
                weight,
                " OR ".join(
                    '"' + " ".join(scope + word for word in phrase) + '"'
                    for phrase in phrases
                    for scope in scopes
                ),
            ]
            for index, weight, phrases in groups
        ]
    )


def _tsquery(phrases: Sequence[Phrase]) -> str:
    """The phrases as one tsquery: words of a phrase follow each other, phrases are ORed."""
    return " | ".join(f"({' <-> '.join(phrase)})" for phrase in phrases)


def _julian_day(moment: datetime) -> float:
    return moment.timestamp() / 86400.0 + 2440587.5


def _durable_kinds(settings: ContextSettings) -> str:
    """The tier:type pairs whose recency stays 1, space-padded for a substring test."""
    kinds = [f"{tier.value}:{block_type.value}" for tier in Tier for block_type in BlockType]
    return " " + " ".join(k for k in kinds if settings.durable(*_kind(k))) + " "


def _kind(pair: str) -> tuple[Tier, BlockType]:
    tier, block_type = pair.split(":")
    return Tier(tier), BlockType(block_type)


def named_accounts(session: Session, agent: Agent, task: str) -> dict[tuple[str, str], str]:
    """The agent's accounts the task names: (company, domain) as stored -> how the task
    named it."""
    subjects = session.execute(
        _SUBJECTS_QUERY,
        {"workspace_id": agent.workspace_id, "agent_id": agent.id, "team_id": agent.team_id},
    ).all()
    if not subjects:
        return {}
    return AccountNames.of(task, sales_lexicon()).named(subjects)


def scored_candidates(
    session: Session,
    agent: Agent,
    query: Query,
    named: dict[tuple[str, str], str],
    settings: ContextSettings,
    now: datetime,
    k: int,
) -> Sequence[Row[tuple[object, ...]]]:
    """The agent's k best active blocks for the query that share something with it, then
    the standing orders, with importance, recency, relevance and score, each best first."""
    parameters: dict[str, object] = {
        "workspace_id": agent.workspace_id,
        "agent_id": agent.id,
        "team_id": agent.team_id,
        "separator": _SEPARATOR,
        "named_companies": _joined(company for company, _ in named if company),
        "named_domains": _joined(domain for _, domain in named if domain),
        "durable": _durable_kinds(settings),
        "importance_weight": settings.importance_weight,
        "recency_weight": settings.recency_weight,
        "standing_min_importance": settings.standing_order_min_importance,
        "standing_k": settings.standing_orders,
        "half_life_company": settings.company_half_life_days,
        "k": k,
    }
    for block_type in BlockType:
        parameters[f"half_life_{block_type.value}"] = settings.half_life(Tier.PERSONAL, block_type)
    if session.get_bind().dialect.name == "sqlite":
        statement = _SQLITE_QUERY
        parameters["now_julian_day"] = _julian_day(now)
        parameters["groups"] = _sqlite_groups(agent, query.groups)
    else:
        statement = _POSTGRESQL_QUERY
        parameters["now"] = now
        parameters["concepts"] = [index for index, _, _ in query.groups]
        parameters["weights"] = [weight for _, weight, _ in query.groups]
        parameters["queries"] = [_tsquery(phrases) for _, _, phrases in query.groups]
        # Any word of any phrase but the stop words ("head of it" needs "head" anyway): a
        # cheap test without positions that the phrases refine.
        every = dict.fromkeys(
            word
            for _, _, phrases in query.groups
            for phrase in phrases
            for word in phrase
            if word not in STOPWORDS
        )
        # An empty query matches nothing (when the task has no word to search for).
        parameters["any_query"] = " | ".join(every)
    return session.execute(statement, parameters).all()


def _joined(keys: Iterable[str]) -> str:
    items = [key for key in keys if key]
    return _SEPARATOR + _SEPARATOR.join(items) + _SEPARATOR if items else ""


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
            merged = _merge_step(uow.session, pages)
        if not merged:
            return step
    return max_steps


def _merge_step(session: Session, pages: int) -> bool:
    if session.get_bind().dialect.name != "sqlite":
        cleaned = session.scalar(text("SELECT gin_clean_pending_list('memory_fts_index')"))
        return bool(cleaned)
    sqlite = session.connection().connection.driver_connection
    assert sqlite is not None  # an open session's connection
    before = sqlite.total_changes
    # A negative page count asks FTS5 for a step of a full optimize ("incremental optimize").
    session.execute(
        text("INSERT INTO memory_fts(memory_fts, rank) VALUES ('merge', :pages)"),
        {"pages": -pages},
    )
    # The command counts as one change itself; more means it merged something.
    return bool(sqlite.total_changes - before > 1)
