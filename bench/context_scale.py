"""How fast assemble_context answers at a million blocks, against a naive baseline.

    .venv/bin/python -m bench.context_scale                      # SQLite, 1,000,000 blocks
    .venv/bin/python -m bench.context_scale --blocks 50000       # smaller
    .venv/bin/python -m bench.context_scale --url postgresql://...  # PostgreSQL (empty db)
    .venv/bin/python -m bench.context_scale --large-brain --queries 200   # one agent, 20,000

The large brain (--large-brain): one workspace in which each agent of one team reads 20,000
active blocks: 15,000 on the Company Brain, 3,000 on its Team Brain, 2,000 of its own
(besides: the other team's blocks and archived or superseded ones, which it may not read).

The database (200 workspaces x 10 teams x 5 agents at a million blocks; fewer workspaces
for fewer blocks) is built once and reused: SQLite under bench/data/, PostgreSQL in the
database the URL names, which must be empty or hold this benchmark's data. Then the same
random (agent, task) pairs are answered by assemble_context and by the naive baseline (load
every block the agent may read through the ORM and score each in Python, with bm25 over the
agent's blocks), each in a fresh read-only unit of work, as a heartbeat cycle would.
"""

from __future__ import annotations

import argparse
import math
import os
import random
import shutil
import sqlite3
import statistics
import sys
import time
from collections import Counter
from collections.abc import Callable, Sequence
from datetime import timedelta
from pathlib import Path
from typing import Any, NamedTuple

from sqlalchemy import and_, func, insert, or_, select, text
from sqlalchemy.engine import Engine
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from bench.generated import DATA, NOW, Corpus, new_workspace
from core import clock
from core.context import ContextSettings, assemble_context, optimize_index
from core.context.accounts import AccountNames
from core.context.assembly import take_best
from core.context.lexicon import STOPWORDS, sales_lexicon, words
from core.db import UnitOfWork, make_engine
from core.models import Agent, BlockStatus, BlockType, MemoryBlock, SourceKind, Team, Tier
from migrations import schema

BLOCKS_PER_WORKSPACE = 5_000
TEAMS, AGENTS_PER_TEAM, ACCOUNTS = 10, 5, 100
TIERS = [(Tier.PERSONAL, 0.75), (Tier.TEAM, 0.17), (Tier.COMPANY, 0.08)]
TYPES = {
    Tier.PERSONAL: {"learning": 45, "coaching": 15, "objection_response": 10, "pattern": 10,
                    "account_context": 20},
    Tier.TEAM: {"pattern": 35, "learning": 25, "objection_response": 20, "coaching": 10,
                "account_context": 10},
    Tier.COMPANY: {"pattern": 40, "objection_response": 20, "account_context": 20,
                   "learning": 10, "coaching": 10},
}  # fmt: skip
IMPORTANCE = {
    BlockType.COACHING: (0.8, 1.0),
    BlockType.OBJECTION_RESPONSE: (0.6, 0.9),
    BlockType.ACCOUNT_CONTEXT: (0.5, 0.8),
    BlockType.PATTERN: (0.4, 0.8),
    BlockType.LEARNING: (0.1, 0.7),
}  # fmt: skip
STATUSES = [
    (BlockStatus.ACTIVE, 0.90),
    (BlockStatus.ARCHIVED, 0.07),
    (BlockStatus.SUPERSEDED, 0.03),
]


def _pick(rng: random.Random, weighted: Sequence[tuple[Any, float]]) -> Any:
    return rng.choices([item for item, _ in weighted], [w for _, w in weighted])[0]


# --- building the database -------------------------------------------------------------


def _workspace_rows(
    corpus: Corpus, workspace_id: int, team_ids: list[int], agent_ids: dict[int, list[int]]
) -> list[dict[str, Any]]:
    rng = corpus.random
    accounts = [corpus.company() for _ in range(ACCOUNTS)]
    rows = []
    for _ in range(BLOCKS_PER_WORKSPACE):
        tier = _pick(rng, TIERS)
        team_id = rng.choice(team_ids)
        kinds = TYPES[tier]
        block_type = BlockType(rng.choices(list(kinds), list(kinds.values()))[0])
        updated = NOW - timedelta(days=rng.uniform(0, 365))
        low, high = IMPORTANCE[block_type]
        subject = rng.choice(accounts) if block_type is BlockType.ACCOUNT_CONTEXT else None
        if tier is Tier.PERSONAL:
            source = (
                SourceKind.SLACK_USER
                if block_type is BlockType.COACHING
                else (rng.choice([SourceKind.AGENT_CYCLE, SourceKind.SIGNAL_ANALYSIS]))
            )
        else:
            source = rng.choice([SourceKind.PROMOTION, SourceKind.SLACK_USER])
        rows.append(
            {
                "workspace_id": workspace_id,
                "tier": tier,
                "agent_id": rng.choice(agent_ids[team_id]) if tier is Tier.PERSONAL else None,
                "team_id": team_id if tier is Tier.TEAM else None,
                "type": block_type,
                "content": corpus.block_text(block_type),
                "importance": round(rng.uniform(low, high), 3),
                "source_kind": source,
                "source_ref": None,
                "source_by": "bench",
                "created_at": updated - timedelta(days=rng.uniform(0, 30)),
                "updated_at": updated,
                "status": _pick(rng, STATUSES),
                "times_surfaced": 0,
                "subject_company": subject[0] if subject else None,
                "subject_domain": subject[1] if subject else None,
            }
        )
    return rows


def _directory(session: Session, number: int) -> tuple[int, list[int], dict[int, list[int]]]:
    workspace, roster = new_workspace(session, f"TBENCH{number:04d}", TEAMS, AGENTS_PER_TEAM)
    agent_ids = {team.id: [agent.id for agent in agents] for team, agents in roster}
    return workspace.id, list(agent_ids), agent_ids


def build(engine: Engine, blocks: int, seed: int) -> None:
    """Workspaces of 5,000 blocks each until `blocks`, one transaction per workspace."""
    workspaces = max(1, round(blocks / BLOCKS_PER_WORKSPACE))
    corpus = Corpus(seed)
    started = time.monotonic()
    for number in range(workspaces):
        with clock.frozen_at(NOW), UnitOfWork(engine) as uow:
            workspace_id, team_ids, agent_ids = _directory(uow.session, number)
            rows = _workspace_rows(corpus, workspace_id, team_ids, agent_ids)
            uow.session.execute(insert(MemoryBlock), rows)
        if number % 10 == 9 or number == workspaces - 1:
            print(
                f"  built {number + 1}/{workspaces} workspaces "
                f"({(number + 1) * BLOCKS_PER_WORKSPACE:,} blocks, "
                f"{time.monotonic() - started:.0f} s)",
                flush=True,
            )


# One agent's large brain: what it reads, per tier, and what it may not.
LARGE_BRAIN = {"company": 15_000, "team": 3_000, "personal": 2_000}
LARGE_BRAIN_HIDDEN = {"archived company": 750, "other team": 2_000, "superseded personal": 100}


def _large_brain_counts(scale: float) -> dict[str, int]:
    return {k: round(v * scale) for k, v in (LARGE_BRAIN | LARGE_BRAIN_HIDDEN).items()}


def _large_brain_rows(
    corpus: Corpus,
    workspace_id: int,
    team_ids: list[int],
    agent_ids: dict[int, list[int]],
    scale: float,
) -> list[dict[str, Any]]:
    rng = corpus.random
    count = _large_brain_counts(scale)
    accounts = [corpus.company() for _ in range(ACCOUNTS)]
    readers, others = team_ids[0], team_ids[1]

    def row(tier: Tier, owner: int | None, status: BlockStatus) -> dict[str, Any]:
        kinds = TYPES[tier]
        block_type = BlockType(rng.choices(list(kinds), list(kinds.values()))[0])
        updated = NOW - timedelta(days=rng.uniform(0, 540))
        low, high = IMPORTANCE[block_type]
        subject = rng.choice(accounts) if block_type is BlockType.ACCOUNT_CONTEXT else None
        return {
            "workspace_id": workspace_id,
            "tier": tier,
            "agent_id": owner if tier is Tier.PERSONAL else None,
            "team_id": owner if tier is Tier.TEAM else None,
            "type": block_type,
            "content": corpus.block_text(block_type),
            "importance": round(rng.uniform(low, high), 3),
            "source_kind": SourceKind.PROMOTION if tier is not Tier.PERSONAL
            else SourceKind.AGENT_CYCLE,
            "source_ref": None,
            "source_by": "bench",
            "created_at": updated,
            "updated_at": updated,
            "status": status,
            "times_surfaced": 0,
            "subject_company": subject[0] if subject else None,
            "subject_domain": subject[1] if subject else None,
        }  # fmt: skip

    active = BlockStatus.ACTIVE
    rows = [row(Tier.COMPANY, None, active) for _ in range(count["company"])]
    rows += [row(Tier.TEAM, readers, active) for _ in range(count["team"])]
    for agent_id in agent_ids[readers]:
        rows += [row(Tier.PERSONAL, agent_id, active) for _ in range(count["personal"])]
        hidden = count["superseded personal"]
        rows += [row(Tier.PERSONAL, agent_id, BlockStatus.SUPERSEDED) for _ in range(hidden)]
    rows += [
        row(Tier.COMPANY, None, BlockStatus.ARCHIVED) for _ in range(count["archived company"])
    ]
    rows += [row(Tier.TEAM, others, active) for _ in range(count["other team"])]
    rng.shuffle(rows)  # interleave tiers in the table as years of writes would
    return rows


def build_large_brain(engine: Engine, seed: int, scale: float = 1.0) -> int:
    """One workspace of two teams; each agent of the first reads 20,000 blocks (x scale)."""
    with clock.frozen_at(NOW), UnitOfWork(engine) as uow:
        workspace_id, team_ids, agent_ids = _directory(uow.session, 0)
        rows = _large_brain_rows(Corpus(seed), workspace_id, team_ids[:2], agent_ids, scale)
        for start in range(0, len(rows), 5_000):
            uow.session.execute(insert(MemoryBlock), rows[start : start + 5_000])
    return len(rows)


def open_large_brain(url: str | None, seed: int, scale: float = 1.0) -> Engine:
    """The large-brain database: reused when it holds it, else built."""
    count = _large_brain_counts(scale)
    personal = count["personal"] + count["superseded personal"]
    expected = sum(count.values()) + (AGENTS_PER_TEAM - 1) * personal
    suffix = "" if scale == 1 else f"_x{scale:g}"
    path = DATA / f"context_large_brain_{seed}{suffix}.db"
    engine, _ = _open(url, path, expected, lambda engine: build_large_brain(engine, seed, scale))
    return engine


def open_or_exit(
    program: str,
    url: str | None,
    seed: int,
    *,
    blocks: int | None,
    optimized: bool = False,
    large_brain_scale: float = 1.0,
) -> Engine:
    """The database of `blocks` blocks, or the large brain (`blocks` None); a database that
    cannot be opened ends the program with one line."""
    try:
        if blocks is None:
            return open_large_brain(url, seed, large_brain_scale)
        return open_database(url, blocks, seed, optimized)[0]
    except OperationalError as error:
        first_line = str(error.orig or error).strip().splitlines()[0]
        sys.exit(f"{program}: cannot open the benchmark database: {first_line}")


def _block_count(engine: Engine) -> int:
    with engine.connect() as connection:
        return connection.scalar(select(func.count()).select_from(MemoryBlock)) or 0


def _optimized_copy(path: Path) -> Path:
    """A copy of the SQLite database after `salesbrain db optimize`, made once."""
    copy = path.with_name(f"{path.stem}_optimized.db")
    if not copy.exists():
        print(f"copying to {copy} and optimizing its full-text index", flush=True)
        building = copy.with_suffix(".building")
        shutil.copyfile(path, building)
        engine = make_engine(f"sqlite:///{building}")
        optimize_index(engine)
        engine.dispose()
        sqlite3.connect(building).close()
        building.rename(copy)
    return copy


def open_database(
    url: str | None, blocks: int, seed: int, optimized: bool = False
) -> tuple[Engine, str]:
    """The benchmark database: reused when it holds the requested size, else built."""
    expected = max(1, round(blocks / BLOCKS_PER_WORKSPACE)) * BLOCKS_PER_WORKSPACE
    path = DATA / f"context_scale_{blocks}_{seed}.db"
    return _open(url, path, expected, lambda engine: build(engine, blocks, seed), optimized)


def _open(
    url: str | None,
    path: Path,
    expected: int,
    fill: Callable[[Engine], object],
    optimized: bool = False,
) -> tuple[Engine, str]:
    """SQLite: the file at `path`, built once by `fill`; PostgreSQL: the database at `url`,
    filled when empty, refused when it holds something else than `expected` blocks."""
    if url is None:
        if not path.exists():
            DATA.mkdir(parents=True, exist_ok=True)
            building = path.with_suffix(".building")
            for leftover in DATA.glob(f"{building.name}*"):
                leftover.unlink()
            print(f"building {building} ({expected:,} blocks; minutes at a million)", flush=True)
            schema.upgrade(f"sqlite:///{building}")
            engine = make_engine(f"sqlite:///{building}")
            fill(engine)
            engine.dispose()
            # The last connection to close folds the WAL into the file, which can then move.
            sqlite3.connect(building).close()
            building.rename(path)
        if optimized:
            path = _optimized_copy(path)
        url = f"sqlite:///{path}"
        return make_engine(url), url
    schema.upgrade(url)
    engine = make_engine(url)
    found = _block_count(engine)
    if found == 0:
        print(f"building in {engine.url.render_as_string()} ({expected:,} blocks)", flush=True)
        fill(engine)
        settle(engine)
    elif found != expected:
        sys.exit(f"{url} holds {found:,} blocks, not {expected:,}: give an empty database")
    elif visible_share(engine) not in (None, 1.0):
        settle(engine)  # built before the visibility map was seen to
    if optimized:
        optimize_index(engine)
    return engine, url


def settle(engine: Engine, tries: int = 20) -> None:
    """The statistics, and on PostgreSQL the visibility map, of a database just built, as
    autovacuum would leave them.

    Until the visibility map marks a page all-visible, the covering indexes' index-only
    scans read the table for each of its rows (11x slower at 100,000 blocks) and the
    planner prefers other plans (a large brain's count: a parallel scan of the table, 30
    ms). VACUUM marks a page only once the commits of its rows are flushed to the WAL, and
    older than every snapshot still open in the database:
    - a cluster with synchronous_commit=off (scripts/postgres-throwaway) flushes them up to
      0.2 s later: a VACUUM right after the build left half the pages of the 100,000-block
      database unmarked, and all of the large brain's. ANALYZE writes, so its transaction,
      committed synchronously, flushes the build's commits before VACUUM runs;
    - a snapshot taken before the build's last commit (autovacuum analysing another table,
      another session) holds them until it ends: VACUUM again, 0.5 s apart, `tries` times.
    """
    with engine.begin() as connection:
        if engine.dialect.name == "postgresql":
            connection.execute(text("SET LOCAL synchronous_commit = on"))
        connection.execute(text("ANALYZE"))
    if engine.dialect.name != "postgresql":
        return
    for attempt in range(tries):
        if attempt:
            time.sleep(0.5)
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.execute(text("VACUUM memory_blocks"))
        if visible_share(engine) == 1.0:
            return
    print(
        f"  {visible_share(engine):.0%} of the pages all-visible after {tries} "
        f"VACUUM{'s' if tries > 1 else ''}: "
        "a transaction open since the build holds the rest",
        file=sys.stderr,
    )


def visible_share(engine: Engine) -> float | None:
    """The share of memory_blocks' pages the visibility map marks all-visible (PostgreSQL's
    own count, as of the last VACUUM or ANALYZE); None on SQLite, which has no such map."""
    if engine.dialect.name != "postgresql":
        return None
    with engine.connect() as connection:
        pages, visible = connection.execute(
            text(
                "SELECT relpages, relallvisible FROM pg_class WHERE oid = 'memory_blocks'::regclass"
            )
        ).one()
    return visible / pages if pages else 1.0


# --- the naive baseline ----------------------------------------------------------------


class NaiveRow(NamedTuple):
    id: int
    type: str
    content: str
    score: float


def readable_blocks(session: Session, agent: Agent) -> Sequence[MemoryBlock]:
    """Every active block the agent may read, through the ORM."""
    return session.scalars(
        select(MemoryBlock).where(
            MemoryBlock.workspace_id == agent.workspace_id,
            MemoryBlock.status == BlockStatus.ACTIVE,
            or_(
                and_(MemoryBlock.tier == Tier.PERSONAL, MemoryBlock.agent_id == agent.id),
                and_(MemoryBlock.tier == Tier.TEAM, MemoryBlock.team_id == agent.team_id),
                MemoryBlock.tier == Tier.COMPANY,
            ),
        )
    ).all()


def naive_context(
    session: Session, agent: Agent, task: str, settings: ContextSettings, limit: int, budget: int
) -> list[NaiveRow]:
    """Every block the agent may read, through the ORM, each scored in Python: the same
    score and account names, the task's own words only (no lexicon, no plurals)."""
    blocks = readable_blocks(session, agent)
    terms = {word for word in words(task) if word not in STOPWORDS}
    documents = [words(block.content) for block in blocks]
    ranks = _bm25(documents, terms)
    best = max(ranks, default=0.0) or 1.0
    named = AccountNames.of(task, sales_lexicon()).named(
        {(b.subject_company, b.subject_domain) for b in blocks if b.subject_company}
    )
    now = clock.now()
    scored = []
    for block, rank in zip(blocks, ranks, strict=True):
        age = max(0.0, (now - block.updated_at).total_seconds() / 86400)
        durable = settings.durable(block.tier, block.type)
        recency = 1.0 if durable else 0.5 ** (age / settings.half_life(block.tier, block.type))
        is_named = block.type is BlockType.ACCOUNT_CONTEXT and (
            (block.subject_company or "", block.subject_domain or "") in named
        )
        relevance = 1.0 if is_named else rank / best
        if relevance > 0:
            score = settings.score(block.importance, recency, relevance)
            scored.append(NaiveRow(block.id, block.type.value, block.content, score))
    scored.sort(key=lambda row: (row.score, row.id), reverse=True)
    return take_best(scored, limit, budget, settings.duplicate_jaccard)


def _bm25(
    documents: list[list[str]], terms: set[str], k1: float = 1.2, b: float = 0.75
) -> list[float]:
    if not documents or not terms:
        return [0.0] * len(documents)
    average = sum(len(d) for d in documents) / len(documents)
    frequency = Counter(term for d in documents for term in set(d) if term in terms)
    idf = {
        term: math.log(1 + (len(documents) - n + 0.5) / (n + 0.5)) for term, n in frequency.items()
    }
    ranks = []
    for document in documents:
        counts = Counter(word for word in document if word in idf)
        ranks.append(
            sum(
                idf[term] * n * (k1 + 1) / (n + k1 * (1 - b + b * len(document) / average))
                for term, n in counts.items()
            )
        )
    return ranks


# --- measuring ---------------------------------------------------------------------------


def _queries(
    engine: Engine, count: int, seed: int, team_slug: str | None = None
) -> list[tuple[int, str]]:
    """Random (agent, task) pairs; only agents of teams named `team_slug` when given."""
    rng = random.Random(seed + 1)
    corpus = Corpus(seed + 2)
    with engine.connect() as connection:
        agents_query = select(Agent.id, Agent.workspace_id)
        if team_slug is not None:
            agents_query = (
                agents_query.join(Team, Team.id == Agent.team_id)
                .where(Team.slug == team_slug)
                .order_by(Agent.id)
            )
        agents = connection.execute(agents_query).all()
        accounts = connection.execute(
            select(MemoryBlock.workspace_id, MemoryBlock.subject_company)
            .where(MemoryBlock.subject_company.is_not(None))
            .limit(20_000)
        ).all()
    by_workspace: dict[int, list[str]] = {}
    for workspace_id, company in accounts:
        by_workspace.setdefault(workspace_id, []).append(company)
    queries = []
    for agent_id, workspace_id in rng.choices(agents, k=count):
        task = corpus.task()
        if rng.random() < 0.3 and by_workspace.get(workspace_id):
            task += f" at {rng.choice(by_workspace[workspace_id])}"
        queries.append((agent_id, task))
    return queries


def measure(
    engine: Engine,
    queries: list[tuple[int, str]],
    answer: Callable[[Session, Agent, str], list[Any]],
    deadline: float,
) -> tuple[list[float], list[list[int]]]:
    """Seconds per answer (fresh read-only unit of work each, agent loaded first)."""
    seconds, answers = [], []
    for agent_id, task in queries:
        if time.monotonic() > deadline:
            break
        with clock.frozen_at(NOW), UnitOfWork(engine, readonly=True) as uow:
            agent = uow.session.get(Agent, agent_id)
            assert agent is not None
            started = time.perf_counter()
            found = answer(uow.session, agent, task)
            seconds.append(time.perf_counter() - started)
            answers.append([row.id for row in found])
    return seconds, answers


def _percentiles(seconds: list[float]) -> dict[str, float]:
    cuts = statistics.quantiles(seconds, n=100, method="inclusive")
    return {"p50": cuts[49] * 1000, "p95": cuts[94] * 1000, "p99": cuts[98] * 1000}


def _readable(engine: Engine, agent_ids: list[int]) -> float:
    with UnitOfWork(engine, readonly=True) as uow:
        sizes = []
        for agent_id in agent_ids:
            agent = uow.session.get(Agent, agent_id)
            assert agent is not None
            sizes.append(
                uow.session.scalar(
                    select(func.count())
                    .select_from(MemoryBlock)
                    .where(
                        MemoryBlock.workspace_id == agent.workspace_id,
                        MemoryBlock.status == BlockStatus.ACTIVE,
                        or_(
                            and_(
                                MemoryBlock.tier == Tier.PERSONAL, MemoryBlock.agent_id == agent.id
                            ),
                            and_(
                                MemoryBlock.tier == Tier.TEAM, MemoryBlock.team_id == agent.team_id
                            ),
                            MemoryBlock.tier == Tier.COMPANY,
                        ),
                    )
                )
                or 0
            )
    return statistics.mean(sizes)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--blocks", type=int, default=1_000_000)
    parser.add_argument("--url", default=None, help="PostgreSQL URL (default: SQLite file)")
    parser.add_argument("--queries", type=int, default=1_000)
    parser.add_argument("--limit", type=int, default=20)
    parser.add_argument("--budget", type=int, default=2_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--max-seconds", type=float, default=900, help="per measured side")
    parser.add_argument(
        "--optimized",
        action="store_true",
        help="measure after `salesbrain db optimize` (SQLite: on a copy, made once)",
    )
    parser.add_argument(
        "--large-brain",
        action="store_true",
        help="agents that each read 20,000 blocks, 15,000 of them Company blocks (--blocks unused)",
    )
    parser.add_argument("--large-brain-scale", type=float, default=1.0, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    engine = open_or_exit(
        "context_scale",
        args.url,
        args.seed,
        blocks=None if args.large_brain else args.blocks,
        optimized=args.optimized,
        large_brain_scale=args.large_brain_scale,
    )
    settings = ContextSettings()
    total = _block_count(engine)
    queries = _queries(engine, args.queries, args.seed, "team-0" if args.large_brain else None)
    readable = _readable(engine, [agent_id for agent_id, _ in queries[:100]])

    def product(session: Session, agent: Agent, task: str) -> list[Any]:
        context = assemble_context(
            session, agent, task, limit=args.limit, token_budget=args.budget, settings=settings
        )
        return context.blocks

    def naive(session: Session, agent: Agent, task: str) -> list[Any]:
        return naive_context(session, agent, task, settings, args.limit, args.budget)

    warm = queries[: min(50, len(queries) // 4)]  # warm the caches
    measure(engine, warm, product, time.monotonic() + 60)
    measure(engine, warm, naive, time.monotonic() + 60)
    fast, fast_ids = measure(engine, queries, product, time.monotonic() + args.max_seconds)
    slow, slow_ids = measure(engine, queries, naive, time.monotonic() + args.max_seconds)
    overlap = statistics.mean(
        len(set(a) & set(b)) / max(1, len(b)) for a, b in zip(fast_ids, slow_ids, strict=False)
    )
    ours, theirs = _percentiles(fast), _percentiles(slow)
    where = engine.url.render_as_string(hide_password=True)
    state = "optimized" if args.optimized else "as written"
    print(f"\ncontext_scale: {total:,} blocks in {where} (full-text index {state})")
    print(f"  readable active blocks per agent: {readable:.0f} on average")
    visible = visible_share(engine)
    if visible is not None:
        print(f"  pages all-visible (index-only scans need it): {visible:.0%}")
    print(f"  queries: {len(fast)} assemble_context, {len(slow)} naive (same agents and tasks)")
    print("                     p50        p95        p99")
    for name, figures in (("assemble_context", ours), ("naive baseline", theirs)):
        print(f"  {name:16} " + " ".join(f"{figures[p]:7.2f} ms" for p in ("p50", "p95", "p99")))
    print(
        "  speed-up         "
        + " ".join(f"{theirs[p] / ours[p]:7.1f} x " for p in ("p50", "p95", "p99"))
    )
    print(f"  same blocks as the naive baseline: {overlap:.0%} (it has no lexicon, no plurals)")
    print(f"  load average: {' '.join(f'{v:.2f}' for v in os.getloadavg())}")
    engine.dispose()


if __name__ == "__main__":
    main()
