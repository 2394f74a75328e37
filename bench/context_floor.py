"""The least work assemble_context's score needs, against the naive baseline: a floor.

    .venv/bin/python -m bench.context_floor --optimized         # SQLite, 1,000,000 blocks
    .venv/bin/python -m bench.context_floor --blocks 50000      # smaller
    .venv/bin/python -m bench.context_floor --url sqlite:///PATH  # another SQLite file

Issue 3 asks for >= 20x the naive baseline of bench/context_scale.py at a million blocks.
This measures, on the same database, (agent, task) pairs and harness as that benchmark and
against its naive baseline in the same run, a pipeline that does only what the score
cannot do without, on the raw sqlite3 driver inside the unit of work's read transaction:

  1. the task's words in the agent's three scopes (FTS5, as core/context/search.py),
  2. the count of the agent's active readable blocks (the idf needs it),
  3. importance, tier, type and updated_at of every block holding a task word, scored,
  4. the content of the best k = limit + 10,
  5. near-duplicates and the budget (take_best, as the product).

It leaves out what a complete answer also needs: the lexicon's synonyms and plurals, account
notes named by the task, standing orders, SQLAlchemy, the lineage of promoted blocks and
the result objects. Any implementation of
the score does at least this much, so its speed-up over the baseline is at most this one.
assemble_context is measured too, and how often the floor picked the same blocks when its
matches settled the answer (they differ where the task names an account, where the lexicon
or a plural finds more, and by the standing orders).
"""

from __future__ import annotations

import argparse
import heapq
import json
import math
import os
import time
from collections import Counter
from typing import Any, NamedTuple

from sqlalchemy.orm import Session

from bench.context_scale import _percentiles, _queries, measure, naive_context, open_database
from core import clock
from core.context import ContextSettings, assemble_context
from core.context.assembly import take_best
from core.context.lexicon import STOPWORDS, words
from core.models import Agent, BlockType, Tier

_BRANCHES = (
    "agent_id = :agent_id AND tier = 'personal'",
    "team_id = :team_id AND tier = 'team'",
    "tier = 'company'",
)
READABLE = (
    "SELECT count(*) FROM ("
    + " UNION ALL ".join(
        f"SELECT 1 FROM memory_blocks WHERE workspace_id = :workspace_id AND {branch} "
        "AND status = 'active'"
        for branch in _BRANCHES
    )
    + ")"
)
TERM_HITS = (
    "SELECT j.key, f.rowid FROM json_each(:scoped_terms) AS j "
    "JOIN memory_fts AS f ON f.memory_fts MATCH j.value"
)
COMPONENTS = (
    "SELECT id, tier, type, importance, julianday(updated_at) FROM memory_blocks "
    "WHERE id IN (SELECT value FROM json_each(?))"
)
CONTENT = "SELECT id, type, content FROM memory_blocks WHERE id IN (SELECT value FROM json_each(?))"


class Row(NamedTuple):
    id: int
    type: str
    content: str
    score: float


class Floor:
    """The pipeline, and how often its matches alone could not settle the answer."""

    def __init__(self, settings: ContextSettings, limit: int, budget: int) -> None:
        self.settings, self.limit, self.budget = settings, limit, budget
        self.reset()

    def reset(self) -> None:
        self.unsettled = 0
        self.settled: list[int] = []  # which answers (by order) its matches alone settled
        self._answers = 0

    def __call__(self, session: Session, agent: Agent, task: str) -> list[Any]:
        sqlite = session.connection().connection.driver_connection
        assert sqlite is not None  # an open session's connection
        scope = {"workspace_id": agent.workspace_id, "agent_id": agent.id, "team_id": agent.team_id}
        terms = _scoped_words(agent, task)
        hits = sqlite.execute(TERM_HITS, {"scoped_terms": terms}).fetchall()
        readable = sqlite.execute(READABLE, scope).fetchone()[0]
        idf = {
            term: math.log(1 + (readable - n + 0.5) / (n + 0.5))
            for term, n in Counter(term for term, _ in hits).items()
        }
        raw: dict[int, float] = {}
        for term, block_id in hits:
            raw[block_id] = raw.get(block_id, 0.0) + idf[term]
        best = max(raw.values(), default=1.0)
        now = clock.now().timestamp() / 86400.0 + 2440587.5  # the Julian day
        scored = []
        for block_id, tier, kind, importance, updated in sqlite.execute(
            COMPONENTS, (json.dumps(list(raw)),)
        ):
            half_life = self.settings.half_life(Tier(tier), BlockType(kind))
            recency = 0.5 ** (max(0.0, now - updated) / half_life)
            if self.settings.durable(Tier(tier), BlockType(kind)):
                recency = 1.0
            relevance = raw[block_id] / best
            scored.append((self.settings.score(importance, recency, relevance), block_id))
        top = heapq.nlargest(self.limit + 10, scored)
        if len(top) < self.limit + 10:
            self.unsettled += 1  # too few matches: the product's answer holds others
        else:
            self.settled.append(self._answers)
        self._answers += 1
        found = sqlite.execute(CONTENT, (json.dumps([block_id for _, block_id in top]),))
        content = {block_id: (kind, text) for block_id, kind, text in found}
        rows = [Row(block_id, *content[block_id], score) for score, block_id in top]
        return take_best(rows, self.limit, self.budget, self.settings.duplicate_jaccard)


def _scoped_words(agent: Agent, task: str) -> str:
    """Each of the task's words as an FTS5 query under the agent's three scopes, as JSON."""
    scopes = (f"p{agent.id}x", f"t{agent.team_id}x", f"c{agent.workspace_id}x")
    terms = dict.fromkeys(word for word in words(task) if word not in STOPWORDS)
    return json.dumps([" OR ".join(f'"{scope}{term}"' for scope in scopes) for term in terms])


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--blocks", type=int, default=1_000_000)
    parser.add_argument("--url", default=None, help="a SQLite URL (default: under bench/data)")
    parser.add_argument("--queries", type=int, default=1_000)
    parser.add_argument("--limit", type=int, default=20)
    parser.add_argument("--budget", type=int, default=2_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--max-seconds", type=float, default=900, help="per measured side")
    parser.add_argument("--optimized", action="store_true", help="after `salesbrain db optimize`")
    args = parser.parse_args(argv)

    if args.url and not args.url.startswith("sqlite"):
        parser.error("the floor pipeline reads SQLite's FTS5 index: give a sqlite:/// URL")
    engine, _ = open_database(args.url, args.blocks, args.seed, args.optimized)
    settings = ContextSettings()
    queries = _queries(engine, args.queries, args.seed)
    floor = Floor(settings, args.limit, args.budget)

    def naive(session: Session, agent: Agent, task: str) -> list[Any]:
        return naive_context(session, agent, task, settings, args.limit, args.budget)

    def product(session: Session, agent: Agent, task: str) -> list[Any]:
        return assemble_context(
            session, agent, task, limit=args.limit, token_budget=args.budget, settings=settings
        ).blocks

    warm = queries[: min(50, len(queries) // 4)]
    for answer in (floor, product, naive):
        measure(engine, warm, answer, time.monotonic() + 60)
    floor.reset()
    fast, fast_ids = measure(engine, queries, floor, time.monotonic() + args.max_seconds)
    real, real_ids = measure(engine, queries, product, time.monotonic() + args.max_seconds)
    slow, _ = measure(engine, queries, naive, time.monotonic() + args.max_seconds)
    same = [
        fast_ids[n] == real_ids[n] for n in floor.settled if n < min(len(fast_ids), len(real_ids))
    ]
    ours, theirs = _percentiles(fast), _percentiles(slow)
    print(f"\ncontext_floor: {engine.url.render_as_string()}")
    print(f"  queries: {len(fast)} floor, {len(real)} assemble_context, {len(slow)} naive")
    print("                     p50        p95        p99")
    for name, figures in (
        ("floor pipeline", ours),
        ("assemble_context", _percentiles(real)),
        ("naive baseline", theirs),
    ):
        print(f"  {name:16} " + " ".join(f"{figures[p]:7.2f} ms" for p in ("p50", "p95", "p99")))
    print(
        "  speed-up         "
        + " ".join(f"{theirs[p] / ours[p]:7.1f} x " for p in ("p50", "p95", "p99"))
    )
    print(
        f"  20x would need   {theirs['p50'] / 20:7.2f} ms {theirs['p95'] / 20:7.2f} ms"
        f" {theirs['p99'] / 20:7.2f} ms"
    )
    share = floor.unsettled / max(1, len(fast))
    print(f"  matches alone could not settle {floor.unsettled} of {len(fast)} ({share:.0%})")
    print(f"  same blocks as assemble_context where they did: {sum(same)} of {len(same)}")
    print(f"  load average: {' '.join(f'{v:.2f}' for v in os.getloadavg())}")
    engine.dispose()


if __name__ == "__main__":
    main()
