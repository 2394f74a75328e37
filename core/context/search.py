"""The candidate query: an agent's readable blocks with their score components, best first.

This is where SQLite and PostgreSQL differ (full-text search and date arithmetic); the
scoring it computes is the one described in core/context/assembly.py.

- SQLite: the FTS5 table `memory_fts` (migration 0002) indexes each active block's words
  under its owner's scope: `p<agent id>x`, `t<team id>x` or `c<workspace id>x` + word. A
  task's words are looked up under the three scopes the agent reads, so bm25 counts its
  statistics within those brains only (a global FTS5 query with bm25 scans every common
  word's postings across all workspaces: hundreds of milliseconds at a million blocks).
- PostgreSQL: the generated tsvector column `memory_fts` with ts_rank (no global scan).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Row, text
from sqlalchemy.orm import Session

from core.context.settings import ContextSettings
from core.models import Agent, BlockType, Tier

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
# Punctuation that a company name's words are separated by, for comparing subject keys.
_NAME_PUNCTUATION = ",.&'-()/:;!?\""


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
    for _ in range(2):
        expression = f"replace({expression}, '  ', ' ')"
    return f"trim({expression})"


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


def _scored(*, source: str, age_days: str, position: str, normalised_rank: str) -> str:
    """Components per block, then the score, best first (the formula: assembly.py)."""
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
SELECT id, tier, type, content, importance, source_kind, promoted_from_id, recency, relevance,
       power(importance, :importance_exponent) * power(recency, :recency_exponent)
       * power(relevance, :relevance_exponent) AS score
  FROM (
    SELECT r.id, r.tier, r.type, r.content, r.importance, r.source_kind, r.promoted_from_id,
           power(0.5, {age_days}
                 / (CASE WHEN r.tier = 'company' THEN :half_life_company {half_life} END))
             AS recency,
           CASE WHEN {subject_match} THEN 1.0
                ELSE :floor + (1.0 - :floor) * coalesce({normalised_rank}, 0.0)
           END AS relevance
      FROM {source}
  ) AS components
 ORDER BY score DESC, id DESC
 LIMIT :k"""


_COLUMNS = (
    "id, tier, type, content, importance, source_kind, promoted_from_id, updated_at, "
    "subject_company, subject_domain"
)
_SQLITE_SCORED = _scored(
    source="readable r LEFT JOIN hits h ON h.id = r.id",
    age_days="max(0.0, :now_julian_day - julianday(r.updated_at))",
    position="instr",
    normalised_rank="h.raw / (SELECT max(raw) FROM hits)",
)
SQLITE_WITH_TERMS = f"""
WITH hits(id, raw) AS MATERIALIZED (
         SELECT rowid, -bm25(memory_fts) FROM memory_fts WHERE memory_fts MATCH :match),
     readable AS ({_readable(_COLUMNS, "memory_blocks")})
{_SQLITE_SCORED}"""
SQLITE_WITHOUT_TERMS = f"""
WITH hits(id, raw) AS (SELECT NULL, NULL WHERE 0),
     readable AS ({_readable(_COLUMNS, "memory_blocks")})
{_SQLITE_SCORED}"""

_POSTGRESQL_SCORED = _scored(
    source="readable r",
    age_days="greatest(0.0, extract(epoch FROM (:now - r.updated_at))::float8 / 86400.0)",
    position="strpos",
    normalised_rank="r.raw / nullif(max(r.raw) OVER (), 0.0)",
)
_POSTGRESQL_RANK = "CASE WHEN memory_fts @@ q THEN ts_rank(memory_fts, q, 1) ELSE 0.0 END"
POSTGRESQL_WITH_TERMS = f"""
WITH query AS MATERIALIZED (SELECT to_tsquery('english', :tsquery) AS q),
     readable AS ({_readable(f"{_COLUMNS}, {_POSTGRESQL_RANK} AS raw", "memory_blocks, query")})
{_POSTGRESQL_SCORED}"""
POSTGRESQL_WITHOUT_TERMS = f"""
WITH readable AS ({_readable(f"{_COLUMNS}, 0.0 AS raw", "memory_blocks")})
{_POSTGRESQL_SCORED}"""


def _sqlite_match(agent: Agent, terms: Sequence[str]) -> str:
    scopes = (f"p{agent.id}x", f"t{agent.team_id}x", f"c{agent.workspace_id}x")
    return " OR ".join(f'"{scope}{term}"' for term in terms for scope in scopes)


def _postgresql_tsquery(terms: Sequence[str]) -> str:
    """Terms OR-ed, each with its plural or singular form too: Snowball keeps "ctos" apart
    from "cto" where the Porter stemmer of SQLite's FTS5 merges them."""
    forms: dict[str, None] = {}
    for term in terms:
        other = term[:-1] if term.endswith("s") and len(term) > 3 else f"{term}s"
        forms.update(dict.fromkeys((term, other)))
    return " | ".join(forms)


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
        statement = SQLITE_WITH_TERMS if terms else SQLITE_WITHOUT_TERMS
        parameters["now_julian_day"] = _julian_day(now)
        parameters["match"] = _sqlite_match(agent, terms)
    else:
        statement = POSTGRESQL_WITH_TERMS if terms else POSTGRESQL_WITHOUT_TERMS
        parameters["now"] = now
        parameters["tsquery"] = _postgresql_tsquery(terms)
    return session.execute(text(statement), parameters).all()
