"""The candidate query: an agent's readable blocks with their score components, best first.

This is where SQLite and PostgreSQL differ (full-text search and date arithmetic); the
score it computes is the one described in core/context/assembly.py.

Relevance is BM25 over the blocks the agent reads: each task word found in a block adds
its idf among those blocks, ln(1 + (N - n + 0.5) / (n + 0.5)) (term presence: blocks are a
few sentences). The database's full-text search says which block holds which word:

- SQLite: the FTS5 table `memory_fts` (migration 0002) indexes each active block's words
  under its owner's scope: `p<agent id>x`, `t<team id>x` or `c<workspace id>x` + word, so
  that a task word is looked up in the three brains the agent reads and nowhere else. FTS5's
  own bm25() is not used: it takes idf over the whole table, which lets other workspaces'
  words sway a workspace's ranking and scans every common word's postings (hundreds of
  milliseconds at a million blocks).
- PostgreSQL: the generated tsvector column `memory_fts` and tsquery (ts_rank has no idf).
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Index, Row, text
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from core.context.settings import ContextSettings
from core.db import UnitOfWork
from core.models import Agent, BlockType, MemoryBlock, Tier

# The candidate query reads each tier's active blocks from these indexes (migration 0004) alone:
# visiting the table rows of the ~500 blocks an agent reads would cost more than the rest.
_COVERED = (
    MemoryBlock.type,
    MemoryBlock.importance,
    MemoryBlock.updated_at,
    MemoryBlock.subject_company,
    MemoryBlock.subject_domain,
)
CONTEXT_INDEXES = (
    Index(
        "ix_memory_blocks_context_personal",
        MemoryBlock.agent_id,
        MemoryBlock.tier,
        MemoryBlock.status,
        MemoryBlock.workspace_id,
        *_COVERED,
    ),
    Index(
        "ix_memory_blocks_context_team",
        MemoryBlock.team_id,
        MemoryBlock.tier,
        MemoryBlock.status,
        MemoryBlock.workspace_id,
        *_COVERED,
    ),
    Index(
        "ix_memory_blocks_context_company",
        MemoryBlock.workspace_id,
        MemoryBlock.tier,
        MemoryBlock.status,
        *_COVERED,
    ),
)

# Words that say nothing about what a block is about; FTS5 has no stop list of its own.
_STOPWORDS = """a about above after again against all am an and any are as at be because been before
    being below between both but by can could did do does doing down during each few for from
    further had has have having he her here hers herself him himself his how i if in into is it
    its itself just me more most my myself no nor not now of off on once only or other our ours
    ourselves out over own same she should so some such than that the their theirs them
    themselves then there these they this those through to too under until up very was we were
    what when where which while who whom why will with would you your yours yourself
    yourselves"""
STOPWORDS = frozenset(_STOPWORDS.split())
MAX_TERMS = 32
# Longer "words" are noise (pasted tokens, base64); PostgreSQL ignores them anyway.
MAX_TERM_LENGTH = 64
WORD = re.compile(r"[^\W_]+")
DOMAIN = re.compile(r"[a-z0-9][a-z0-9-]*(?:\.[a-z0-9-]+)+")
# Punctuation that separates a company name's words ("Northwind Health, Inc."), for comparing
# subject keys; names with other marks match by domain.
_NAME_PUNCTUATION = ",.&'-()"


def words(text: str) -> list[str]:
    """Lowercase words of a text (letters and digits; everything else separates)."""
    return WORD.findall(text.lower())


def search_terms(task: str) -> list[str]:
    """The distinct words of a task worth searching for, in order, at most MAX_TERMS."""
    terms = dict.fromkeys(
        word for word in words(task) if word not in STOPWORDS and len(word) <= MAX_TERM_LENGTH
    )
    return list(terms)[:MAX_TERMS]


@dataclass(frozen=True)
class Subjects:
    """How a task names accounts: its words and its domain-like tokens, space-padded so
    that a subject key matches whole words only."""

    words: str
    domains: str

    @classmethod
    def of(cls, task: str) -> Subjects:
        domains = DOMAIN.findall(task.lower())
        domains += [domain.removeprefix("www.") for domain in domains]
        return cls(_padded(words(task)), _padded(domains))


def _padded(items: Sequence[str]) -> str:
    # Nothing to match stays empty: a padded empty string would match an empty subject.
    return f" {' '.join(items)} " if items else ""


def _subject_words(column: str) -> str:
    """SQL for a subject column reduced to lowercase words separated by single spaces."""
    expression = f"lower({column})"
    for mark in _NAME_PUNCTUATION:
        literal = mark.replace("'", "''")
        expression = f"replace({expression}, '{literal}', ' ')"
    # Two passes fold up to four spaces ("Acme - Health, Inc." has three in a row).
    return f"trim(replace(replace({expression}, '  ', ' '), '  ', ' '))"


def _readable(columns: str, tables: str) -> str:
    """The agent's active blocks on its three tiers, one index range each."""
    branches = [
        "agent_id = :agent_id AND tier = 'personal'",
        "team_id = :team_id AND tier = 'team'",
        "tier = 'company'",
    ]
    return "\n UNION ALL\n".join(
        f"SELECT {columns} FROM {tables} "
        f"WHERE workspace_id = :workspace_id AND {branch} AND status = 'active'"
        for branch in branches
    )


def _statement(*, readable: str, term_hits: str, age_days: str, position: str) -> str:
    """The candidate query: the agent's readable blocks, the weight of each task word among
    them, components per block, the score (the formula: assembly.py), the best k, and only
    for those k the table row with the content.

    `readable` and `term_hits` (term, id) are the dialect's CTEs; `age_days` and `position`
    (substring search) its expressions. Materialized CTEs keep SQLite from evaluating a
    component once per use."""
    half_life = " ".join(
        f"WHEN r.type = '{block_type.value}' THEN :half_life_{block_type.value}"
        for block_type in BlockType
    )
    subject_match = (
        f"r.type = 'account_context' AND ("
        f"{position}(:subject_words, ' ' || {_subject_words('r.subject_company')} || ' ') > 0 "
        f"OR {position}(:subject_domains, ' ' || lower(r.subject_domain) || ' ') > 0)"
    )
    return f"""
WITH readable AS MATERIALIZED ({readable}),
term_hits(term, id) AS MATERIALIZED ({term_hits}),
weights(term, idf) AS MATERIALIZED (
    SELECT term, ln(1.0 + (CAST((SELECT count(*) FROM readable) AS DOUBLE PRECISION)
                           - count(*) + 0.5) / (count(*) + 0.5))
      FROM term_hits GROUP BY term),
hits(id, raw) AS MATERIALIZED (
    SELECT t.id, sum(w.idf) FROM term_hits t JOIN weights w ON w.term = t.term GROUP BY t.id),
best(raw) AS MATERIALIZED (SELECT max(raw) FROM hits),
components AS MATERIALIZED (
    SELECT r.id, r.tier, r.type, r.importance,
           power(0.5, {age_days}
                 / (CASE WHEN r.tier = 'company' THEN :half_life_company {half_life} END))
             AS recency,
           CASE WHEN {subject_match} THEN 1.0
                ELSE :floor + (1.0 - :floor) * coalesce(h.raw / (SELECT raw FROM best), 0.0)
           END AS relevance
      FROM readable r LEFT JOIN hits h ON h.id = r.id),
top AS MATERIALIZED (
    SELECT id, tier, type, importance, recency, relevance,
           power(importance, :importance_exponent) * power(recency, :recency_exponent)
           * power(relevance, :relevance_exponent) AS score
      FROM components
     ORDER BY score DESC, id DESC
     LIMIT :k)
SELECT top.id, top.tier, top.type, b.content, top.importance, b.source_kind,
       b.promoted_from_id, top.recency, top.relevance, top.score
  FROM top JOIN memory_blocks b ON b.id = top.id
 ORDER BY top.score DESC, top.id DESC"""


# What the score needs, all of it in the covering indexes above.
_COLUMNS = "id, tier, type, importance, updated_at, subject_company, subject_domain"
SQLITE = _statement(
    readable=_readable(_COLUMNS, "memory_blocks"),
    # One FTS5 query per task word, each under the agent's three scopes (see above).
    term_hits="SELECT j.key, f.rowid FROM json_each(:scoped_terms) AS j "
    "JOIN memory_fts AS f ON f.memory_fts MATCH j.value",
    age_days="max(0.0, :now_julian_day - julianday(r.updated_at))",
    position="instr",
)
POSTGRESQL = _statement(
    readable=_readable(f"{_COLUMNS}, memory_fts", "memory_blocks"),
    # The queries are parsed once (a join would parse one per block and word).
    term_hits="WITH queries AS MATERIALIZED ("
    "SELECT u.term, to_tsquery('english', u.query) AS query "
    "FROM unnest(CAST(:term_queries AS text[])) WITH ORDINALITY AS u(query, term)) "
    "SELECT q.term, r.id FROM readable r JOIN queries q ON r.memory_fts @@ q.query",
    age_days="greatest(0.0, extract(epoch FROM (:now - r.updated_at))::float8 / 86400.0)",
    position="strpos",
)


# Parsed once: text() scans the statement for its parameters, 0.1 ms each heartbeat cycle.
_SQLITE_QUERY, _POSTGRESQL_QUERY = text(SQLITE), text(POSTGRESQL)


def _sqlite_terms(agent: Agent, terms: Sequence[str]) -> str:
    """Each term as an FTS5 query under the agent's scopes, as a JSON array."""
    scopes = (f"p{agent.id}x", f"t{agent.team_id}x", f"c{agent.workspace_id}x")
    return json.dumps([" OR ".join(f'"{scope}{term}"' for scope in scopes) for term in terms])


def _postgresql_terms(terms: Sequence[str]) -> list[str]:
    """Each term as a tsquery with its plural or singular form too: Snowball keeps "ctos"
    apart from "cto" where the Porter stemmer of SQLite's FTS5 merges them."""
    return [
        f"{term} | {term[:-1] if term.endswith('s') and len(term) > 3 else term + 's'}"
        for term in terms
    ]


def _julian_day(moment: datetime) -> float:
    return moment.timestamp() / 86400.0 + 2440587.5


def scored_candidates(
    session: Session,
    agent: Agent,
    task: str,
    settings: ContextSettings,
    now: datetime,
    k: int,
) -> Sequence[Row[tuple[object, ...]]]:
    """The agent's k best active blocks for the task, with importance, recency, relevance
    and score, best first."""
    terms = search_terms(task)
    subjects = Subjects.of(task)
    parameters: dict[str, object] = {
        "workspace_id": agent.workspace_id,
        "agent_id": agent.id,
        "team_id": agent.team_id,
        "subject_words": subjects.words,
        "subject_domains": subjects.domains,
        "floor": settings.relevance_floor,
        "importance_exponent": settings.importance_exponent,
        "recency_exponent": settings.recency_exponent,
        "relevance_exponent": settings.relevance_exponent,
        "half_life_company": settings.company_half_life_days,
        "k": k,
    }
    for block_type in BlockType:
        parameters[f"half_life_{block_type.value}"] = settings.half_life(Tier.PERSONAL, block_type)
    if session.get_bind().dialect.name == "sqlite":
        statement = _SQLITE_QUERY
        parameters["now_julian_day"] = _julian_day(now)
        parameters["scoped_terms"] = _sqlite_terms(agent, terms)
    else:
        statement = _POSTGRESQL_QUERY
        parameters["now"] = now
        parameters["term_queries"] = _postgresql_terms(terms)
    return session.execute(statement, parameters).all()


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
