"""Does the context score pick the right memory? A labelled, generated test.

    .venv/bin/python -m bench.retrieval_quality                 # SQLite (a fresh file)
    .venv/bin/python -m bench.retrieval_quality --url postgresql://...   # an empty database

Each agent has a few hundred blocks about a dozen topics. A task is about one topic (and
sometimes names one of the agent's accounts); the blocks truly relevant to it are known by
construction:

  relevant   fresh substantive blocks on the topic (learnings, patterns, objection
             responses; importance 0.5-0.8, sharing two to four words with the topic), the
             team's fresh pattern on it, an old but important coaching note (one to two
             half-lives old), a fresh important coaching note that shares no word with the
             task (it says "healthcare" where the task says "hospital"), and the fresh notes
             about the account the task names (found by the account, not by its words);
  not        recent trivial learnings on the topic (importance 0.1-0.2, days old), stale ones
             (three to six half-lives old, importance 0.3-0.5), a superseded block (recent and
             important, but replaced: it must never appear), blocks about other topics
             (company knowledge, other topics' coaching), and recent generic blocks that
             share the task's everyday words ("draft", "email").

"Fresh" is within one half-life of the block's type (default settings: the product's own
measure of how fast such knowledge goes stale). Everyday words are in half the blocks.

The product goes through assemble_context (limit 10, a budget that never binds). The three
baselines each rank by one component: recency only and importance only over every block
the agent reads (the product's recency: coaching and company policy do not age), and
relevance only (the product's pipeline with both priors at 0 and no standing orders).
Reported: recall@10 (relevant found in the top 10, out of at most 10) and nDCG@10 with
binary gains. Reported as well, over the same readable blocks and labels: BM25 only,
Generative Agents and CrewAI as bench/retrieval_eval.py computes them (the verdict at the
end is still about the single-factor baselines).
"""

from __future__ import annotations

import argparse
import math
import os
import random
import statistics
import sys
from dataclasses import dataclass
from datetime import timedelta
from typing import NamedTuple

from sqlalchemy import func, select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from bench.context_scale import readable_blocks
from bench.generated import FUNCTION_WORDS, NOW, VOCABULARY, empty_database, new_workspace
from bench.retrieval_eval import BASELINES, BM25, top_ids
from bench.retrieval_eval import readable_blocks as candidates_of
from core import clock
from core.context import ContextSettings, assemble_context
from core.db import UnitOfWork
from core.models import (
    Agent,
    BlockStatus,
    BlockType,
    MemoryBlock,
    SourceKind,
    Team,
    Tier,
    Workspace,
)

TOPICS, CORE_WORDS, ALT_WORDS = 12, 8, 6
GENERIC = ["draft", "outreach", "email", "follow"]
PRODUCT = "relevance x bounded priors"
METHODS = [PRODUCT, "recency only", "importance only", "relevance only"]
OUTSIDE_BASELINES = ["BM25 only", "Generative Agents", "CrewAI"]
LIMIT = 10


class Draft(NamedTuple):
    """A task before its blocks have ids."""

    agent_id: int
    text: str
    relevant: list[MemoryBlock]
    kinds: dict[str, list[MemoryBlock]]  # named kinds of block on the task's topic


@dataclass(frozen=True)
class Task:
    agent_id: int
    text: str
    relevant: set[int]
    kinds: dict[str, set[int]]

    @classmethod
    def of(cls, draft: Draft) -> Task:
        return cls(
            draft.agent_id,
            draft.text,
            {block.id for block in draft.relevant},
            {kind: {block.id for block in blocks} for kind, blocks in draft.kinds.items()},
        )


class Generator:
    """Writes one workspace's agents and blocks, and remembers which block is which."""

    def __init__(self, seed: int) -> None:
        self.random = random.Random(seed)
        self.rows: list[MemoryBlock] = []

    def text(self, words: list[str], count: int, extra: list[str] | None = None) -> str:
        """`count` of `words`, the `extra` ones, and (half the time) an everyday word."""
        chosen = self.random.sample(words, min(count, len(words))) + (extra or [])
        if self.random.random() < 0.5:
            chosen.append(self.random.choice(GENERIC))
        self.random.shuffle(chosen)
        out: list[str] = []
        for word in chosen:
            out.append(word)
            if self.random.random() < 0.5:
                out.append(self.random.choice(FUNCTION_WORDS))
        return " ".join(out).capitalize()

    def block(self, **fields: object) -> MemoryBlock:
        days = float(fields.pop("days"))  # type: ignore[arg-type]  (always a number)
        updated = NOW - timedelta(days=days)
        block = MemoryBlock(
            source_kind=fields.pop("source_kind", SourceKind.AGENT_CYCLE),
            source_by="bench",
            created_at=updated,
            updated_at=updated,
            status=fields.pop("status", BlockStatus.ACTIVE),
            times_surfaced=0,
            **fields,
        )
        self.rows.append(block)
        return block


def build(engine: Engine, seed: int, agents: int, decoys: int) -> list[Task]:
    """One workspace, one team, `agents` agents with their topics; the tasks and labels."""
    rng = random.Random(seed)
    drafts: list[Draft] = []
    with clock.frozen_at(NOW), UnitOfWork(engine) as uow:
        session = uow.session
        workspace, [(team, roster)] = new_workspace(session, "TQUALITY", 1, agents)
        pool = [w for w in VOCABULARY if w not in GENERIC]
        filler = rng.sample(pool, 40)
        topical = [w for w in pool if w not in filler]
        generator = Generator(seed)
        for company in range(40):  # company knowledge: important, on no one's topic
            generator.block(
                workspace_id=workspace.id,
                tier=Tier.COMPANY,
                type=rng.choice([BlockType.PATTERN, BlockType.OBJECTION_RESPONSE]),
                content=generator.text(filler, 5, rng.sample(GENERIC, 1)) + f" ({company})",
                importance=rng.uniform(0.6, 0.9),
                days=rng.uniform(0, 365),
            )
        for agent in roster:
            drafts += _agent_memory(generator, rng, workspace, team, agent, topical, filler, decoys)
        session.add_all(generator.rows)
        session.flush()
        return [Task.of(draft) for draft in drafts]


def _half_lives(rng: random.Random, block_type: BlockType, low: float, high: float) -> float:
    """An age in days between `low` and `high` half-lives of the type (default settings):
    the product's own measure of how fast such knowledge goes stale."""
    return rng.uniform(low, high) * ContextSettings().half_life(Tier.PERSONAL, block_type)


def _agent_memory(
    generator: Generator,
    rng: random.Random,
    workspace: Workspace,
    team: Team,
    agent: Agent,
    topical: list[str],
    filler: list[str],
    decoys: int,
) -> list[Draft]:
    words = rng.sample(topical, TOPICS * (CORE_WORDS + ALT_WORDS))
    personal = {"workspace_id": workspace.id, "tier": Tier.PERSONAL, "agent_id": agent.id}
    drafts: list[Draft] = []
    accounts = []
    for account in range(10):
        name = f"Account{agent.id}x{account} Health"
        notes = [
            generator.block(
                **personal,
                type=BlockType.ACCOUNT_CONTEXT,
                content=generator.text(filler, 4),
                importance=rng.uniform(0.5, 0.8),
                days=_half_lives(rng, BlockType.ACCOUNT_CONTEXT, 0, 1),
                subject_company=name,
                subject_domain=f"account{agent.id}x{account}.example",
            )
            for _ in range(2)
        ]
        accounts.append((name, notes))
    for _ in range(25):  # recent, everyday words, about nothing in particular
        generator.block(
            **personal,
            type=BlockType.LEARNING,
            content=generator.text(filler, 3, rng.sample(GENERIC, 2)),
            importance=rng.uniform(0.3, 0.6),
            days=rng.uniform(0, 10),
        )

    def coaching(content: str, low: float, high: float) -> MemoryBlock:
        """A manager's note, important, `low` to `high` half-lives old."""
        return generator.block(
            **personal,
            type=BlockType.COACHING,
            content=content,
            importance=0.9,
            days=_half_lives(rng, BlockType.COACHING, low, high),
            source_kind=SourceKind.SLACK_USER,
        )

    for index in range(TOPICS):
        substantive_types = [BlockType.LEARNING, BlockType.PATTERN, BlockType.OBJECTION_RESPONSE]
        start = index * (CORE_WORDS + ALT_WORDS)
        core = words[start : start + CORE_WORDS]
        alt = words[start + CORE_WORDS : start + CORE_WORDS + ALT_WORDS]
        kinds: dict[str, list[MemoryBlock]] = {
            "substantive": [
                generator.block(
                    **personal,
                    type=block_type,
                    content=generator.text(core, rng.randint(2, 4), rng.sample(filler, 2)),
                    importance=rng.uniform(0.5, 0.8),
                    days=_half_lives(rng, block_type, 0, 1),
                )
                for block_type in rng.choices(substantive_types, k=5)
            ],
            "team pattern": [
                generator.block(
                    workspace_id=workspace.id,
                    tier=Tier.TEAM,
                    team_id=team.id,
                    type=BlockType.PATTERN,
                    content=generator.text(core, 3, rng.sample(filler, 2)),
                    importance=rng.uniform(0.5, 0.8),
                    days=_half_lives(rng, BlockType.PATTERN, 0, 1),
                    source_kind=SourceKind.PROMOTION,
                )
            ],
            "old important coaching": [coaching("Lead with " + generator.text(core, 3), 1, 2)],
            "coaching with no shared word": [coaching("Always " + generator.text(alt, 4), 0, 1)],
        }
        noise = {
            "recent trivial learning": [
                generator.block(
                    **personal,
                    type=BlockType.LEARNING,
                    content="Sent " + generator.text(core, 2, rng.sample(GENERIC, 1)),
                    importance=rng.uniform(0.1, 0.2),
                    days=rng.uniform(0, 3),
                )
                for _ in range(decoys)
            ],
            "stale learning": [
                generator.block(
                    **personal,
                    type=BlockType.LEARNING,
                    content=generator.text(core, 3, rng.sample(filler, 1)),
                    importance=rng.uniform(0.3, 0.5),
                    days=_half_lives(rng, BlockType.LEARNING, 3, 6),
                )
                for _ in range(decoys)
            ],
            "superseded": [
                generator.block(
                    **personal,
                    type=BlockType.LEARNING,
                    content=generator.text(core, 3),
                    importance=0.7,
                    days=rng.uniform(0, 20),
                    status=BlockStatus.SUPERSEDED,
                )
            ],
        }
        relevant = [block for group in kinds.values() for block in group]
        for _ in range(2):
            task_words = rng.sample(core, 3)
            text = (
                f"Draft outreach about {task_words[0]} and {task_words[1]} for the {task_words[2]}"
            )
            task_relevant = list(relevant)
            if rng.random() < 0.3:
                name, notes = rng.choice(accounts)
                text += f" at {name}"
                task_relevant += notes
            drafts.append(Draft(agent.id, text, task_relevant, {**kinds, **noise}))
    return drafts


def ranked(session: Session, agent: Agent, task: str, method: str) -> list[int]:
    """The ids a method puts in the top LIMIT for the task."""
    if method in (PRODUCT, "relevance only"):
        settings = ContextSettings()
        if method != PRODUCT:
            settings = ContextSettings(importance_weight=0, recency_weight=0, standing_orders=0)
        context = assemble_context(
            session, agent, task, limit=LIMIT, token_budget=100_000, settings=settings
        )
        return [block.id for block in context.blocks]
    if method in OUTSIDE_BASELINES:
        candidates = candidates_of(session, agent)
        bm25 = BM25([c.content for c in candidates]).scores(task)
        return top_ids(candidates, BASELINES[method](candidates, bm25))
    settings, now = ContextSettings(), clock.now()

    def recency(block: MemoryBlock) -> float:
        if settings.durable(block.tier, block.type):
            return 1.0
        days = (now - block.updated_at).total_seconds() / 86400
        return float(0.5 ** (days / settings.half_life(block.tier, block.type)))

    def importance(block: MemoryBlock) -> float:
        return block.importance

    key = recency if method == "recency only" else importance
    blocks = sorted(readable_blocks(session, agent), key=lambda b: (key(b), b.id), reverse=True)
    return [block.id for block in blocks[:LIMIT]]


def evaluate(engine: Engine, tasks: list[Task], method: str) -> dict[str, float]:
    """Mean recall@10 and nDCG@10, and how often each named kind of block was shown."""
    recalls: list[float] = []
    gains: list[float] = []
    shown: dict[str, list[float]] = {}
    with clock.frozen_at(NOW), UnitOfWork(engine, readonly=True) as uow:
        for task in tasks:
            agent = uow.session.get(Agent, task.agent_id)
            assert agent is not None
            ids = ranked(uow.session, agent, task.text, method)
            hits = [1 if block_id in task.relevant else 0 for block_id in ids]
            ideal = min(LIMIT, len(task.relevant))
            recalls.append(sum(hits) / ideal)
            dcg = sum(hit / math.log2(rank + 2) for rank, hit in enumerate(hits))
            gains.append(dcg / sum(1 / math.log2(rank + 2) for rank in range(ideal)))
            for kind, blocks in task.kinds.items():
                shown.setdefault(kind, []).append(len(blocks & set(ids)) / len(blocks))
    return {
        "recall@10": statistics.mean(recalls),
        "ndcg@10": statistics.mean(gains),
        **{f"shown: {kind}": statistics.mean(values) for kind, values in shown.items()},
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", default=None, help="an empty PostgreSQL database")
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--agents", type=int, default=8)
    parser.add_argument(
        "--decoys", type=int, default=6, help="recent trivial and stale learnings per topic"
    )
    args = parser.parse_args(argv)

    engine = empty_database(args.url, f"retrieval_quality_{args.seed}")
    tasks = build(engine, args.seed, args.agents, args.decoys)
    with engine.connect() as connection:
        blocks = connection.scalar(select(func.count()).select_from(MemoryBlock)) or 0

    results = {method: evaluate(engine, tasks, method) for method in METHODS + OUTSIDE_BASELINES}
    product = results[PRODUCT]
    print(
        f"retrieval_quality on {engine.dialect.name}: {args.agents} agents, {blocks:,} blocks, "
        f"{len(tasks)} tasks (seed {args.seed})"
    )
    print(f"  {'method':34} recall@10  nDCG@10   margin of the product (recall, nDCG)")
    for name, figures in results.items():
        margin = (
            ""
            if figures is product
            else f"   {product['recall@10'] - figures['recall@10']:+.3f}, "
            f"{product['ndcg@10'] - figures['ndcg@10']:+.3f}"
        )
        print(f"  {name:34} {figures['recall@10']:9.3f} {figures['ndcg@10']:8.3f}{margin}")
    print("  share of each kind of block shown in the top 10 (per task on its topic):")
    kinds = [key for key in product if key.startswith("shown: ")]
    short = ["product", "recency", "importance", "relevance", "BM25", "GenAgents", "CrewAI"]
    print(f"  {'':34} " + " ".join(f"{name:>10}" for name in short))
    for kind in kinds:
        print(f"  {kind[7:]:34} " + " ".join(f"{r[kind]:10.2f}" for r in results.values()))
    print(f"  load average: {' '.join(f'{v:.2f}' for v in os.getloadavg())}")
    beaten = all(
        product["recall@10"] > results[name]["recall@10"]
        and product["ndcg@10"] > results[name]["ndcg@10"]
        for name in METHODS
        if name != PRODUCT
    )
    engine.dispose()
    if not beaten:
        sys.exit("the product's score does not beat every single-factor baseline")


if __name__ == "__main__":
    main()
