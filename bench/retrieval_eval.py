"""An evaluation of context ranking on a hand-written sales memory, against published scores.

    .venv/bin/python -m bench.retrieval_eval                     # SQLite (a fresh file)
    .venv/bin/python -m bench.retrieval_eval --url postgresql+psycopg://...   # an empty database
    .venv/bin/python -m bench.retrieval_eval --seed 12 --json

The memory (bench/sales_memory.py): one workspace, two teams, six agents (SDRs, an account
executive, a director, a marketing manager, an ad manager), 27 topics with two tasks each,
hand-written blocks graded 0-3 per topic when they are written, background Company and
personal knowledge on no task's topic, near-duplicates, and blocks on each topic that must
never be shown (another agent's, the other team's, another workspace's, archived,
superseded). Ages go back 18 months; the seed jitters ages and importances and draws the
background. Everything is written through salesbrain's models, with the clock frozen.

Every method ranks the same candidates: the agent's readable active blocks (its Personal
Brain, its team's Team Brain, the Company Brain). The product is `assemble_context` (limit
10, a budget that never binds, the workspace's settings); the baselines are computed here:

  recency only        newest update first
  importance only     most important first
  BM25 only           BM25 (k1 1.2, b 0.75) over the agent's readable blocks; tokens are
                      lowercase runs of letters and digits, no stemming, no stop words
  Generative Agents   0.5 recency + 3 relevance + 2 importance, each min-max normalised
                      over the candidates; recency 0.995^hours since the last update;
                      relevance is the BM25 above (the paper uses embeddings)
  CrewAI              0.5 semantic + 0.3 recency (30-day half-life) + 0.2 importance;
                      semantic is the BM25 above divided by its best (no embeddings here)

Diagnostics per method: the share of top-10 places taken by Company blocks and how many of
those are relevant; how often the grade-3 blocks a year old or more, the relevant blocks
worded differently from their task, and the relevant notes about the account a task names
(by a short form) reach the top 10.

Metrics over the top 10: nDCG@10 (gain = grade; a near-duplicate of a block already shown
gains nothing), recall@10 (blocks of grade 2 or 3 shown, out of at most 10) and success@10
(a grade 3 block shown), each with a 95% bootstrap interval over tasks, and the paired
difference product minus baseline with its interval. Checked as well: isolation (nothing
outside the agent's readable active blocks), near-duplicates shown together, the budget.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import re
import statistics
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, or_, select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from bench import sales_memory
from bench.generated import NOW, empty_database
from bench.sales_memory import ACCOUNTS, AGENTS, TEAMS, TOPICS, Note, Topic
from core import clock, directory
from core.context import assemble_context, estimate_tokens
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

LIMIT = 10
NO_BUDGET = 100_000  # never binds: ten blocks are a few hundred tokens
BINDING_BUDGET = 120  # the budget check: a few blocks' worth
MAX_DAYS = 548  # 18 months
BOOTSTRAP = 2000
PRODUCT = "salesbrain"
SHORT = {"recency only": "recency", "importance only": "importance", "BM25 only": "BM25",
         "Generative Agents": "GenAgents"}  # fmt: skip


# --- building the memory ------------------------------------------------------------------


@dataclass(frozen=True)
class Written:
    """A block as stored, with what the construction knows about it."""

    id: int
    note: Note | None  # None: background
    topic: str | None
    readers: frozenset[str]  # handles of the evaluated agents that may read it
    days: float
    group: str  # near-duplicates share a group
    tier: Tier


@dataclass(frozen=True)
class Task:
    agent: str
    agent_id: int
    topic: str
    text: str
    account: str | None  # the account the task names (by a short form)
    grades: dict[str, int]  # group -> grade (> 0), readable blocks only
    group_of: dict[int, str]  # every readable block's group
    never: frozenset[int]  # the topic's blocks the agent must never be shown


@dataclass(frozen=True)
class Memory:
    tasks: list[Task]
    blocks: int
    readable: dict[str, int]
    written: dict[int, Written]


class Builder:
    """Writes the evaluated workspace (and another one) through salesbrain's models."""

    def __init__(self, session: Session, seed: int) -> None:
        self.session = session
        self.random = random.Random(seed)
        self.rows: list[tuple[MemoryBlock, Note | None, str | None, frozenset[str], float]] = []
        self.workspace = directory.create_workspace(session, "TEVAL", "Northwind Sales")
        self.teams = {
            slug: directory.create_team(session, self.workspace, slug, name)
            for slug, name in TEAMS.items()
        }
        self.agents = {
            handle: directory.create_agent(session, self.workspace, handle, team=team, role=role)
            for handle, (team, role) in AGENTS.items()
        }
        self.other = directory.create_workspace(session, "TEVALOTHER", "Globex Sales")
        other_team = directory.create_team(session, self.other, "enterprise", "Enterprise")
        self.other_agent = directory.create_agent(
            session,
            self.other,
            sales_memory.OTHER_WORKSPACE_AGENT,
            team=other_team.slug,
            role="account_executive",
        )

    def readers(self, tier: Tier, agent: Agent | None, team: Team | None) -> frozenset[str]:
        if tier is Tier.COMPANY:
            return frozenset(AGENTS)
        if tier is Tier.TEAM:
            assert team is not None
            return frozenset(h for h, a in self.agents.items() if a.team_id == team.id)
        assert agent is not None
        return frozenset({agent.handle})

    def add(
        self,
        *,
        workspace: Workspace,
        tier: Tier,
        block_type: BlockType,
        days: float,
        importance: float,
        content: str,
        agent: Agent | None = None,
        team: Team | None = None,
        status: BlockStatus = BlockStatus.ACTIVE,
        account: str | None = None,
        note: Note | None = None,
        topic: str | None = None,
    ) -> MemoryBlock:
        days = min(MAX_DAYS, days * self.random.uniform(0.9, 1.1))
        updated = NOW - timedelta(days=days, minutes=self.random.uniform(0, 600))
        importance = min(1.0, max(0.05, importance + self.random.uniform(-0.03, 0.03)))
        if tier is Tier.PERSONAL:
            source = (
                SourceKind.SLACK_USER
                if block_type is BlockType.COACHING
                else (
                    SourceKind.SIGNAL_ANALYSIS
                    if block_type is BlockType.PATTERN
                    else SourceKind.AGENT_CYCLE
                )
            )
        else:
            source = (
                SourceKind.SLACK_USER
                if block_type is BlockType.COACHING
                else (SourceKind.PROMOTION)
            )
        company, domain = ACCOUNTS[account] if account else (None, None)
        block = MemoryBlock(
            workspace_id=workspace.id,
            tier=tier,
            agent_id=agent.id if tier is Tier.PERSONAL and agent else None,
            team_id=team.id if tier is Tier.TEAM and team else None,
            type=block_type,
            content=content,
            importance=round(importance, 3),
            source_kind=source,
            source_by="bench",
            created_at=updated,
            updated_at=updated,
            status=status,
            status_reason=None if status is BlockStatus.ACTIVE else "bench",
            times_surfaced=0,
            subject_company=company,
            subject_domain=domain,
        )
        readable = status is BlockStatus.ACTIVE and workspace is self.workspace
        readers = self.readers(tier, agent, team) if readable else frozenset()
        self.rows.append((block, note, topic, readers, days))
        return block

    def topic(self, topic: Topic) -> None:
        owner = self.agents[topic.agent]
        own_team = self.teams[AGENTS[topic.agent][0]]
        other_team = next(team for slug, team in self.teams.items() if team is not own_team)
        replaced: list[MemoryBlock] = []
        replacements: list[MemoryBlock] = []
        for note in topic.notes:
            place: dict[str, Any] = {"workspace": self.workspace, "tier": Tier.PERSONAL}
            status = BlockStatus.ACTIVE
            if note.where == "P":
                place["agent"] = owner
            elif note.where == "T":
                place.update(tier=Tier.TEAM, team=own_team)
            elif note.where == "C":
                place["tier"] = Tier.COMPANY
            elif note.where.startswith("X:"):
                place["agent"] = self.agents[note.where[2:]]
            elif note.where == "XT":
                place.update(tier=Tier.TEAM, team=other_team)
            elif note.where == "XW":
                place.update(workspace=self.other, tier=Tier.COMPANY)
            elif note.where in ("ARCH", "SUP"):
                place["agent"] = owner
                status = BlockStatus.ARCHIVED if note.where == "ARCH" else BlockStatus.SUPERSEDED
            else:
                raise ValueError(f"{topic.key}: unknown place {note.where}")
            block = self.add(
                **place,
                block_type=note.type,
                days=note.days,
                importance=note.importance,
                content=note.text,
                status=status,
                account=note.account,
                note=note,
                topic=topic.key,
            )
            if status is BlockStatus.SUPERSEDED:
                replaced.append(block)
            elif note.where == "P" and note.grade >= 2:
                replacements.append(block)
        self.session.add_all(row[0] for row in self.rows)
        self.session.flush()
        for old in replaced:  # the newest relevant note of the same kind replaced it
            new = next((b for b in replacements if b.type is old.type), None)
            if new is not None:
                new.supersedes_id = old.id

    def background(self, scale: float) -> None:
        """Company and personal knowledge on no task's topic; a few archived or superseded."""
        rng = self.random
        seen: set[str] = set()

        def sentence(templates: Sequence[tuple[BlockType, str]]) -> tuple[BlockType, str]:
            for _ in range(50):
                block_type, template = rng.choice(templates)
                text = re.sub(
                    r"\{(\w+)\}", lambda m: rng.choice(sales_memory.SLOTS[m.group(1)]), template
                )
                if text not in seen:
                    seen.add(text)
                    return block_type, text
            return block_type, text  # the templates ran out: a duplicate, rarely

        def status() -> BlockStatus:
            draw = rng.random()
            return (
                BlockStatus.ARCHIVED
                if draw < 0.05
                else (BlockStatus.SUPERSEDED if draw < 0.08 else BlockStatus.ACTIVE)
            )

        company, personal = sales_memory.COMPANY_BACKGROUND, sales_memory.PERSONAL_BACKGROUND
        places: list[tuple[dict[str, Any], Sequence[tuple[BlockType, str]], int, float, float]] = [
            ({"workspace": self.workspace, "tier": Tier.COMPANY}, company, 160, 0.65, 0.95),
            *(
                ({"workspace": self.workspace, "tier": Tier.PERSONAL, "agent": agent},
                 personal, 40, 0.2, 0.7)
                for agent in self.agents.values()
            ),
            *(
                ({"workspace": self.workspace, "tier": Tier.TEAM, "team": team},
                 company, 25, 0.4, 0.8)
                for team in self.teams.values()
            ),
            ({"workspace": self.other, "tier": Tier.COMPANY}, company, 40, 0.65, 0.95),
        ]  # fmt: skip
        for place, templates, count, low, high in places:
            for _ in range(round(count * scale)):
                block_type, text = sentence(templates)
                self.add(
                    **place,
                    block_type=block_type,
                    days=rng.uniform(0, MAX_DAYS),
                    importance=rng.uniform(low, high),
                    content=text,
                    status=status(),
                )
        self.session.add_all(row[0] for row in self.rows)
        self.session.flush()


def build(engine: Engine, seed: int, topics: int | None = None, scale: float = 1.0) -> Memory:
    """Write the memory (the first `topics` topics, `scale` of the background); the tasks."""
    chosen = TOPICS[:topics] if topics else TOPICS
    with clock.frozen_at(NOW), UnitOfWork(engine) as uow:
        builder = Builder(uow.session, seed)
        for topic in chosen:
            builder.topic(topic)
        builder.background(scale)
        written = {
            block.id: Written(
                block.id,
                note,
                topic,
                readers,
                days,
                note.twin if note and note.twin else str(block.id),
                block.tier,
            )
            for block, note, topic, readers, days in builder.rows
        }
        agent_ids = {handle: agent.id for handle, agent in builder.agents.items()}
    tasks = [
        _task(topic, text, account, agent_ids[topic.agent], written)
        for topic in chosen
        for text, account in topic.tasks
    ]
    readable = {h: sum(1 for w in written.values() if h in w.readers) for h in AGENTS}
    return Memory(tasks, len(written), readable, written)


def _task(
    topic: Topic, text: str, account: str | None, agent_id: int, written: dict[int, Written]
) -> Task:
    """The labels of one task, from the construction alone."""
    grades: dict[str, int] = {}
    group_of: dict[int, str] = {}
    never: set[int] = set()
    for block in written.values():
        note = block.note
        if topic.agent not in block.readers:
            if note is not None and block.topic == topic.key:
                never.add(block.id)
            continue
        group_of[block.id] = block.group
        if note is None:
            continue
        on_topic = note.grade if block.topic == topic.key else 0
        if note.account is not None and note.account != account:
            on_topic = min(on_topic, 1)  # another account's note: background for this task
        grade = max(
            on_topic,
            note.also.get(topic.key, 0),
            1 if account is not None and note.account == account else 0,
        )
        if grade > 0:
            grades[block.group] = max(grade, grades.get(block.group, 0))
    return Task(topic.agent, agent_id, topic.key, text, account, grades, group_of, frozenset(never))


# --- ranking ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Candidate:
    id: int
    tier: Tier
    content: str
    importance: float
    updated_at: datetime


def readable_blocks(session: Session, agent: Agent) -> list[Candidate]:
    """The agent's active blocks on its three tiers: what every method ranks."""
    rows = session.execute(
        select(
            MemoryBlock.id,
            MemoryBlock.tier,
            MemoryBlock.content,
            MemoryBlock.importance,
            MemoryBlock.updated_at,
        ).where(
            MemoryBlock.workspace_id == agent.workspace_id,
            MemoryBlock.status == BlockStatus.ACTIVE,
            or_(
                and_(MemoryBlock.tier == Tier.PERSONAL, MemoryBlock.agent_id == agent.id),
                and_(MemoryBlock.tier == Tier.TEAM, MemoryBlock.team_id == agent.team_id),
                MemoryBlock.tier == Tier.COMPANY,
            ),
        )
    )
    return [Candidate(*row) for row in rows]


def tokens(text: str) -> list[str]:
    return re.findall(r"[a-z0-9]+", text.lower())


class BM25:
    """Okapi BM25 over one agent's readable blocks."""

    def __init__(self, documents: Sequence[str], k1: float = 1.2, b: float = 0.75) -> None:
        self.documents = [Counter(tokens(d)) for d in documents]
        self.lengths = [sum(d.values()) for d in self.documents]
        self.average = sum(self.lengths) / max(1, len(self.lengths))
        self.frequency = Counter(term for d in self.documents for term in d)
        self.k1, self.b = k1, b

    def scores(self, query: str) -> list[float]:
        count = len(self.documents)
        terms = set(tokens(query))
        idf = {
            t: math.log(1 + (count - n + 0.5) / (n + 0.5))
            for t in terms
            if (n := self.frequency.get(t, 0))
        }
        out = []
        for document, length in zip(self.documents, self.lengths, strict=True):
            norm = self.k1 * (1 - self.b + self.b * length / self.average)
            out.append(
                sum(
                    w * document[t] * (self.k1 + 1) / (document[t] + norm)
                    for t, w in idf.items()
                    if t in document
                )
            )
        return out


def _min_max(values: Sequence[float]) -> list[float]:
    low, high = min(values, default=0.0), max(values, default=0.0)
    return [(v - low) / (high - low) if high > low else 0.0 for v in values]


def top_ids(candidates: Sequence[Candidate], scores: Sequence[float]) -> list[int]:
    order = sorted(zip(scores, (c.id for c in candidates), strict=True), reverse=True)
    return [block_id for _, block_id in order[:LIMIT]]


def _hours(candidate: Candidate) -> float:
    updated = candidate.updated_at
    if updated.tzinfo is None:  # SQLite gives naive UTC back
        updated = updated.replace(tzinfo=NOW.tzinfo)
    return max(0.0, (NOW - updated).total_seconds() / 3600)


Baseline = Callable[[Sequence[Candidate], list[float]], list[float]]
BASELINES: dict[str, Baseline] = {
    "recency only": lambda cs, _: [-_hours(c) for c in cs],
    "importance only": lambda cs, _: [c.importance + 1e-9 * -_hours(c) for c in cs],
    "BM25 only": lambda _, bm25: bm25,
    "Generative Agents": lambda cs, bm25: [
        0.5 * r + 3 * s + 2 * i
        for r, s, i in zip(
            _min_max([0.995 ** _hours(c) for c in cs]),
            _min_max(bm25),
            _min_max([c.importance for c in cs]),
            strict=True,
        )
    ],
    "CrewAI": lambda cs, bm25: [
        0.5 * (s / (max(bm25) or 1)) + 0.3 * 0.5 ** (_hours(c) / 24 / 30) + 0.2 * c.importance
        for c, s in zip(cs, bm25, strict=True)
    ],
}


@dataclass(frozen=True)
class Rankings:
    by_method: dict[str, list[list[int]]]  # method -> per task, the top 10 ids
    readable: dict[str, set[int]]  # agent -> readable active ids, as the database says
    budget_tokens: list[int]  # the product's tokens under the binding budget
    content: dict[int, str]


def rank_all(engine: Engine, tasks: Sequence[Task]) -> Rankings:
    """Every method's top 10 for every task, in one read-only unit of work per agent."""
    by_method: dict[str, list[list[int]]] = {PRODUCT: [], **{name: [] for name in BASELINES}}
    readable: dict[str, set[int]] = {}
    budget_tokens: list[int] = []
    content: dict[int, str] = {}
    with clock.frozen_at(NOW), UnitOfWork(engine, readonly=True) as uow:
        cache: dict[int, tuple[Agent, list[Candidate], BM25]] = {}
        for task in tasks:
            if task.agent_id not in cache:
                agent = uow.session.get(Agent, task.agent_id)
                assert agent is not None
                candidates = readable_blocks(uow.session, agent)
                cache[task.agent_id] = (agent, candidates, BM25([c.content for c in candidates]))
                readable[task.agent] = {c.id for c in candidates}
                content.update((c.id, c.content) for c in candidates)
            agent, candidates, bm25 = cache[task.agent_id]
            context = assemble_context(
                uow.session, agent, task.text, limit=LIMIT, token_budget=NO_BUDGET
            )
            by_method[PRODUCT].append([block.id for block in context.blocks])
            bound = assemble_context(
                uow.session, agent, task.text, limit=LIMIT, token_budget=BINDING_BUDGET
            )
            budget_tokens.append(sum(estimate_tokens(b.content) for b in bound.blocks))
            relevance = bm25.scores(task.text)
            for name, score in BASELINES.items():
                by_method[name].append(top_ids(candidates, score(candidates, relevance)))
    return Rankings(by_method, readable, budget_tokens, content)


# --- metrics -----------------------------------------------------------------------------------


def task_metrics(task: Task, ranking: Sequence[int]) -> dict[str, float]:
    """nDCG@10, recall@10 and success@10 of one ranking; a repeated group gains nothing."""
    seen: set[str] = set()
    dcg, found, success = 0.0, 0, 0.0
    for position, block_id in enumerate(ranking[:LIMIT]):
        group = task.group_of.get(block_id, f"unreadable:{block_id}")
        if group in seen:
            continue
        seen.add(group)
        grade = task.grades.get(group, 0)
        dcg += grade / math.log2(position + 2)
        found += grade >= 2
        success = max(success, 1.0 if grade == 3 else 0.0)
    ideal = sorted(task.grades.values(), reverse=True)[:LIMIT]
    idcg = sum(grade / math.log2(position + 2) for position, grade in enumerate(ideal))
    relevant = sum(1 for grade in task.grades.values() if grade >= 2)
    return {
        "ndcg@10": dcg / idcg if idcg else 0.0,
        "recall@10": found / min(LIMIT, relevant) if relevant else 0.0,
        "success@10": success,
    }


def ideal_ranking(task: Task) -> list[int]:
    """A best possible top 10: one block per group, highest grade first."""
    first: dict[str, int] = {}
    for block_id, group in task.group_of.items():
        first.setdefault(group, block_id)
    ordered = sorted(task.grades, key=lambda group: -task.grades[group])
    return [first[group] for group in ordered][:LIMIT]


def bootstrap(values: Sequence[float], seed: int) -> tuple[float, float, float]:
    """Mean and 95% percentile interval of the mean, resampling tasks."""
    rng = random.Random(seed)
    count = len(values)
    means = sorted(
        sum(values[rng.randrange(count)] for _ in range(count)) / count for _ in range(BOOTSTRAP)
    )
    return statistics.mean(values), means[int(0.025 * BOOTSTRAP)], means[int(0.975 * BOOTSTRAP) - 1]


@dataclass(frozen=True)
class Checks:
    outside_readable: int  # product blocks not among the agent's readable active blocks
    never_shown: Counter[str]  # the topic's never-readable blocks shown, by kind
    duplicates: dict[str, int]  # tasks whose top 10 holds two blocks of one group
    budget_over: int  # tasks over the binding budget
    budget_max: int


def check(memory: Memory, rankings: Rankings) -> Checks:
    outside = 0
    never: Counter[str] = Counter()
    for task, ranking in zip(memory.tasks, rankings.by_method[PRODUCT], strict=True):
        outside += sum(1 for i in ranking if i not in rankings.readable[task.agent])
        for block_id in set(ranking) & task.never:
            note = memory.written[block_id].note
            never[note.where.split(":")[0] if note else "?"] += 1
    duplicates = {
        method: sum(
            1
            for task, ranking in zip(memory.tasks, rankings_, strict=True)
            if len({task.group_of.get(i, str(i)) for i in ranking}) < len(ranking)
        )
        for method, rankings_ in rankings.by_method.items()
    }
    over = sum(1 for used in rankings.budget_tokens if used > BINDING_BUDGET)
    return Checks(outside, never, duplicates, over, max(rankings.budget_tokens, default=0))


def diagnostics(memory: Memory, rankings: Rankings) -> dict[str, dict[str, float]]:
    """Where each method's top 10 comes from and which hard cases it finds."""
    out: dict[str, dict[str, float]] = {}
    for method, ranked in rankings.by_method.items():
        slots = company = company_relevant = 0
        kinds: dict[str, list[float]] = {
            "old (>= 1 year) grade 3": [],
            "paraphrased grade 2-3": [],
            "named account's grade 2-3": [],
        }
        for task, ranking in zip(memory.tasks, ranked, strict=True):
            top = set(ranking)
            for block_id in ranking:
                slots += 1
                written = memory.written[block_id]
                if written.tier is Tier.COMPANY:
                    company += 1
                    company_relevant += task.grades.get(task.group_of[block_id], 0) > 0
            for block_id, group in task.group_of.items():
                written = memory.written[block_id]
                note = written.note
                if note is None or written.topic != task.topic:
                    continue
                grade = task.grades.get(group, 0)
                if grade == 3 and written.days >= 365:
                    kinds["old (>= 1 year) grade 3"].append(1.0 if block_id in top else 0.0)
                if grade >= 2 and note.paraphrase:
                    kinds["paraphrased grade 2-3"].append(1.0 if block_id in top else 0.0)
                if grade >= 2 and task.account is not None and note.account == task.account:
                    kinds["named account's grade 2-3"].append(1.0 if block_id in top else 0.0)
        out[method] = {
            "company share of top 10": company / max(1, slots),
            "relevant share of company slots": company_relevant / max(1, company),
            **{f"shown: {k}": statistics.mean(v) if v else 0.0 for k, v in kinds.items()},
        }
    return out


def evaluate(engine: Engine, memory: Memory, seed: int) -> dict[str, Any]:
    """Metrics with intervals, paired differences, checks and diagnostics, as one report."""
    rankings = rank_all(engine, memory.tasks)
    per_task = {
        method: [task_metrics(t, r) for t, r in zip(memory.tasks, ranked, strict=True)]
        for method, ranked in rankings.by_method.items()
    }
    metrics = ("ndcg@10", "recall@10", "success@10")
    summary = {
        method: {m: bootstrap([row[m] for row in rows], seed) for m in metrics}
        for method, rows in per_task.items()
    }
    paired = {
        method: {
            m: bootstrap([p[m] - b[m] for p, b in zip(per_task[PRODUCT], rows, strict=True)], seed)
            for m in metrics
        }
        for method, rows in per_task.items()
        if method != PRODUCT
    }
    checks = check(memory, rankings)
    return {
        "summary": summary,
        "paired": paired,
        "per_task": per_task,
        "checks": checks,
        "diagnostics": diagnostics(memory, rankings),
        "rankings": rankings,
    }


# --- the command ---------------------------------------------------------------------------------


def _interval(figure: tuple[float, float, float], signed: bool = False) -> str:
    mean, low, high = figure
    form = "+.3f" if signed else ".3f"
    return f"{mean:{form}} [{low:{form}}, {high:{form}}]"


def render(memory: Memory, report: dict[str, Any], dialect: str, seed: int) -> str:
    checks: Checks = report["checks"]
    agents = len({t.agent for t in memory.tasks})
    lines = [
        f"retrieval_eval on {dialect}: {memory.blocks:,} blocks, {len(memory.tasks)} tasks of "
        f"{agents} agents in {len(TEAMS)} teams, "
        f"{statistics.mean(memory.readable.values()):.0f} readable blocks per agent (seed {seed})",
        f"  {'method':18} {'nDCG@10 [95% CI]':24} {'recall@10':24} {'success@10':24}",
    ]
    for method, figures in report["summary"].items():
        lines.append(
            f"  {method:18} "
            + " ".join(
                f"{_interval(figures[m]):24}" for m in ("ndcg@10", "recall@10", "success@10")
            )
        )
    lines.append(f"  {PRODUCT} minus each baseline (paired, 95% CI):")
    for method, figures in report["paired"].items():
        lines.append(
            f"  {method:18} "
            + " ".join(
                f"{_interval(figures[m], signed=True):24}"
                for m in ("ndcg@10", "recall@10", "success@10")
            )
        )
    never = ", ".join(f"{k} {v}" for k, v in sorted(checks.never_shown.items())) or "none"
    lines += [
        f"  isolation: {checks.outside_readable} of the product's blocks outside the agent's "
        f"readable active blocks; never-readable blocks on the task's topic shown: {never}",
        "  tasks with two near-duplicates in the top 10: "
        + ", ".join(f"{m} {n}" for m, n in checks.duplicates.items()),
        f"  budget {BINDING_BUDGET} tokens: {checks.budget_over} tasks over it "
        f"(most used: {checks.budget_max})",
        f"  {'':32} " + " ".join(f"{SHORT.get(m, m):>12}" for m in report["diagnostics"]),
    ]
    keys = next(iter(report["diagnostics"].values())).keys()
    for key in keys:
        lines.append(
            f"  {key[:32]:32} "
            + " ".join(f"{d[key]:12.2f}" for d in report["diagnostics"].values())
        )
    lines.append(f"  load average: {' '.join(f'{v:.2f}' for v in os.getloadavg())}")
    return "\n".join(lines)


def as_json(memory: Memory, report: dict[str, Any], dialect: str, seed: int) -> dict[str, Any]:
    checks: Checks = report["checks"]
    return {
        "dialect": dialect,
        "seed": seed,
        "blocks": memory.blocks,
        "tasks": len(memory.tasks),
        "readable_per_agent": memory.readable,
        "methods": {
            method: {m: dict(zip(("mean", "low", "high"), f, strict=True)) for m, f in figs.items()}
            for method, figs in report["summary"].items()
        },
        "paired_difference": {
            method: {m: dict(zip(("mean", "low", "high"), f, strict=True)) for m, f in figs.items()}
            for method, figs in report["paired"].items()
        },
        "checks": {
            "outside_readable": checks.outside_readable,
            "never_shown": dict(checks.never_shown),
            "tasks_with_duplicates": checks.duplicates,
            "budget": {
                "tokens": BINDING_BUDGET,
                "over": checks.budget_over,
                "max_used": checks.budget_max,
            },
        },
        "diagnostics": report["diagnostics"],
        "per_task": [
            {
                "agent": t.agent,
                "topic": t.topic,
                "task": t.text,
                **{m: rows[i] for m, rows in report["per_task"].items()},
            }
            for i, t in enumerate(memory.tasks)
        ],
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--url", default=None, help="an empty database (default: a new SQLite file)"
    )
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    parser.add_argument("--topics", type=int, default=None, help=argparse.SUPPRESS)
    parser.add_argument("--scale", type=float, default=1.0, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    engine = empty_database(args.url, f"retrieval_eval_{args.seed}")
    memory = build(engine, args.seed, args.topics, args.scale)
    report = evaluate(engine, memory, args.seed)
    dialect = engine.dialect.name
    engine.dispose()
    if args.json:
        print(json.dumps(as_json(memory, report, dialect, args.seed), indent=2))
    else:
        print(render(memory, report, dialect, args.seed))


if __name__ == "__main__":
    main()
