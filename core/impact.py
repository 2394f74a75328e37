"""Coaching impact, measured per note: did the sends written with the note do better?

A send is tied to the heartbeat cycle that wrote it (a signal's optional `cycle`), and each
cycle records the blocks that were in its context. So for one coaching note on an agent:
- with: the agent's delivered sends whose cycle had the note in context;
- without: the agent's delivered sends over the same period (from the note on) whose cycle
  did not have it; sends tied to no cycle are left out, since nobody knows what wrote them;
- before: every delivered send of the agent before the note was written.
The outcome is the reply rate (a send counts once, by its thread, as analysis counts it).
Each rate comes with its n and its Wilson interval; a comparison says "better" or "worse"
only when Fisher's exact test (one-sided, at the workspace's confidence) says so, and "not
enough evidence yet" while either side has fewer sends than a finding needs (`min_group`).
A note is clearly negative when a comparison says worse and none says better.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from core import audit, notices
from core.heartbeat import outbox
from core.models import (
    Agent,
    BlockStatus,
    BlockType,
    Cycle,
    MemoryBlock,
    Signal,
    SignalType,
    Tier,
    Workspace,
)
from core.permissions import SLACK_USER_ID, Actor
from core.signals.stats import Stratum, Thresholds, fisher_above, one_sided, wilson, z_score

METRIC = "reply rate"


class Verdict(StrEnum):
    BETTER = "better"
    WORSE = "worse"
    NO_CLEAR_DIFFERENCE = "no clear difference yet"
    NOT_ENOUGH = "not enough evidence yet"


@dataclass(frozen=True)
class Rate:
    """A reply rate: replies among delivered sends, with its interval."""

    replies: int
    sends: int
    low: float
    high: float
    confidence: float = 0.95

    @property
    def rate(self) -> float:
        return self.replies / self.sends if self.sends else 0.0

    def describe(self) -> str:
        if not self.sends:
            return "no sends"
        return (
            f"{self.rate:.1%} reply (n={self.sends}, "
            f"{self.confidence:.0%} CI {self.low:.1%}-{self.high:.1%})"
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            "replies": self.replies,
            "sends": self.sends,
            "rate": round(self.rate, 4),
            "low": round(self.low, 4),
            "high": round(self.high, 4),
        }


@dataclass(frozen=True)
class Comparison:
    """The note's sends against one other set of the agent's sends."""

    against: str  # "without" or "before"
    verdict: Verdict
    p_value: float

    def as_dict(self) -> dict[str, Any]:
        return {
            "against": self.against,
            "verdict": self.verdict.value,
            "p_value": round(self.p_value, 6),
        }


@dataclass(frozen=True)
class NoteImpact:
    """One coaching note's measured impact on its agent's reply rate."""

    block_id: int
    agent: str
    author: str | None
    content: str
    status: BlockStatus
    since: datetime
    with_note: Rate
    without_note: Rate
    before_note: Rate
    comparisons: tuple[Comparison, ...]
    min_sends: int

    @property
    def negative(self) -> bool:
        """Clearly negative: worse than one comparison and better than none."""
        verdicts = {comparison.verdict for comparison in self.comparisons}
        return Verdict.WORSE in verdicts and Verdict.BETTER not in verdicts

    @property
    def moved(self) -> bool:
        """The note moved the metric, one way or the other."""
        return any(c.verdict in (Verdict.BETTER, Verdict.WORSE) for c in self.comparisons)

    def summary(self) -> str:
        """One plain sentence: the figures, and what they allow one to say."""
        figures = (
            f"sends written with coaching #{self.block_id}: {self.with_note.describe()}; "
            f"without it over the same period: {self.without_note.describe()}; "
            f"before it: {self.before_note.describe()}"
        )
        return f"{figures}. {self.conclusion()}"

    def headline(self) -> str:
        """The figures in one short line, for the App Home and the demo."""

        def short(rate: Rate) -> str:
            return f"{rate.rate:.1%} (n={rate.sends})" if rate.sends else "no sends"

        return (
            f"{METRIC} with it {short(self.with_note)} · without it "
            f"{short(self.without_note)} · before it {short(self.before_note)}. "
            f"{self.conclusion()}"
        )

    def conclusion(self) -> str:
        said = [
            f"{c.verdict.value} than {'without it' if c.against == 'without' else 'before it'}"
            for c in self.comparisons
            if c.verdict in (Verdict.BETTER, Verdict.WORSE)
        ]
        if said:
            return "With the note: " + " and ".join(said) + "."
        if all(c.verdict is Verdict.NOT_ENOUGH for c in self.comparisons):
            return (
                f"Not enough evidence yet: a comparison needs {self.min_sends} delivered "
                "sends on each side."
            )
        return "No clear difference yet."

    def as_dict(self) -> dict[str, Any]:
        return {
            "block_id": self.block_id,
            "agent": self.agent,
            "author": self.author,
            "content": self.content,
            "status": self.status.value,
            "since": self.since.isoformat(),
            "metric": METRIC,
            "with": self.with_note.as_dict(),
            "without": self.without_note.as_dict(),
            "before": self.before_note.as_dict(),
            "comparisons": [comparison.as_dict() for comparison in self.comparisons],
            "negative": self.negative,
            "conclusion": self.conclusion(),
            "summary": self.summary(),
        }


@dataclass(frozen=True)
class _Sends:
    """An agent's delivered sends: per cycle (replies, sends), and (sent_at, replied) of all."""

    by_cycle: dict[int, tuple[int, int]]
    timeline: list[tuple[datetime, int]]


def coaching_impact(
    session: Session, workspace: Workspace, agents: Iterable[Agent]
) -> list[NoteImpact]:
    """The impact of every coaching note on these agents' Personal Brains, oldest first."""
    thresholds = Thresholds.of(workspace)
    impacts: list[NoteImpact] = []
    for agent in agents:
        notes = list(
            session.scalars(
                select(MemoryBlock)
                .where(
                    MemoryBlock.workspace_id == workspace.id,
                    MemoryBlock.tier == Tier.PERSONAL,
                    MemoryBlock.agent_id == agent.id,
                    MemoryBlock.type == BlockType.COACHING,
                )
                .order_by(MemoryBlock.id)
            )
        )
        if not notes:
            continue
        sends = _sends(session, agent)
        contexts = _contexts(session, sends.by_cycle)
        impacts += [_impact(note, agent, sends, contexts, thresholds) for note in notes]
    return sorted(impacts, key=lambda impact: impact.block_id)


def note_impact(session: Session, workspace: Workspace, block: MemoryBlock) -> NoteImpact | None:
    """The impact of one block, when it is a coaching note on an agent's Personal Brain."""
    if block.type is not BlockType.COACHING or block.agent_id is None:
        return None
    agent = session.get_one(Agent, block.agent_id)
    return next(
        (i for i in coaching_impact(session, workspace, [agent]) if i.block_id == block.id),
        None,
    )


def _sends(session: Session, agent: Agent) -> _Sends:
    """The agent's delivered sends, one per thread, with the cycle that wrote each."""
    thread = func.coalesce(Signal.thread, Signal.external_id)

    def saw(kind: SignalType) -> Any:
        return func.max(case((Signal.type == kind, 1), else_=0))

    rows = session.execute(
        select(
            func.min(Signal.occurred_at),
            saw(SignalType.EMAIL_SENT) - saw(SignalType.BOUNCED),
            saw(SignalType.EMAIL_REPLIED),
            func.max(Signal.cycle_id),
        )
        .where(Signal.agent_id == agent.id)
        .group_by(thread)
    )
    by_cycle: dict[int, tuple[int, int]] = {}
    timeline: list[tuple[datetime, int]] = []
    for sent_at, delivered, replied, cycle_id in rows:
        if delivered != 1:
            continue
        timeline.append((sent_at, int(replied)))
        if cycle_id is not None:
            replies, n = by_cycle.get(cycle_id, (0, 0))
            by_cycle[cycle_id] = (replies + int(replied), n + 1)
    return _Sends(by_cycle, timeline)


def _contexts(
    session: Session, by_cycle: dict[int, tuple[int, int]]
) -> dict[int, tuple[datetime, set[int]]]:
    """When each of these cycles started, and the blocks that reached it (its context, new
    coaching, findings)."""
    contexts: dict[int, tuple[datetime, set[int]]] = {}
    ids = sorted(by_cycle)
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        for cycle_id, started_at, context in session.execute(
            select(Cycle.id, Cycle.started_at, Cycle.context).where(Cycle.id.in_(chunk))
        ):
            contexts[cycle_id] = (started_at, blocks_in(context or {}))
    return contexts


def blocks_in(context: dict[str, Any]) -> set[int]:
    """The ids of the blocks a cycle's recorded context put before the agent."""
    ids = {int(block["id"]) for block in context.get("blocks", [])}
    ids.update(int(i) for i in context.get("new_coaching", []))
    ids.update(int(i) for i in context.get("findings", []))
    return ids


def _impact(
    note: MemoryBlock,
    agent: Agent,
    sends: _Sends,
    contexts: dict[int, tuple[datetime, set[int]]],
    thresholds: Thresholds,
) -> NoteImpact:
    # The same period: from the note until it was archived or superseded (or now).
    until = note.updated_at if note.status is not BlockStatus.ACTIVE else None
    with_note, without, before = [0, 0], [0, 0], [0, 0]
    for cycle_id, (replies, n) in sends.by_cycle.items():
        started_at, seen = contexts.get(cycle_id, (None, set()))
        if note.id in seen:
            counts = with_note
        elif started_at is not None and _within(started_at, note.created_at, until):
            counts = without
        else:
            continue
        counts[0] += replies
        counts[1] += n
    for sent_at, replied in sends.timeline:
        if sent_at < note.created_at:
            before[0] += replied
            before[1] += 1
    rates = [_rate(counts, thresholds.confidence) for counts in (with_note, without, before)]
    comparisons = tuple(
        _compare(rates[0], other, against, thresholds)
        for other, against in ((rates[1], "without"), (rates[2], "before"))
    )
    return NoteImpact(
        block_id=note.id,
        agent=agent.handle,
        author=note.source_by,
        content=note.content,
        status=note.status,
        since=note.created_at,
        with_note=rates[0],
        without_note=rates[1],
        before_note=rates[2],
        comparisons=comparisons,
        min_sends=thresholds.min_group,
    )


def _within(moment: datetime, since: datetime, until: datetime | None) -> bool:
    return moment >= since and (until is None or moment < until)


def _rate(counts: list[int], confidence: float) -> Rate:
    replies, sends = counts
    low, high = wilson(replies, sends, z_score(confidence)) if sends else (0.0, 0.0)
    return Rate(replies, sends, low, high, confidence)


def _compare(note: Rate, other: Rate, against: str, thresholds: Thresholds) -> Comparison:
    """Fisher's exact test, one-sided each way, at the workspace's confidence."""
    if note.sends < thresholds.min_group or other.sends < thresholds.min_group:
        return Comparison(against, Verdict.NOT_ENOUGH, 1.0)
    replies, sends = note.replies + other.replies, note.sends + other.sends
    better = fisher_above(Stratum(note.replies, note.sends, replies, sends))
    worse = fisher_above(Stratum(other.replies, other.sends, replies, sends))
    level = one_sided(thresholds.confidence)
    if better <= level:
        return Comparison(against, Verdict.BETTER, better)
    if worse <= level:
        return Comparison(against, Verdict.WORSE, worse)
    return Comparison(against, Verdict.NO_CLEAR_DIFFERENCE, min(better, worse))


def flag_negative(session: Session, workspace: Workspace, agent: Agent) -> list[NoteImpact]:
    """Tell the author of each of the agent's active coaching notes that is clearly negative,
    once per note (a direct message to a person, the agent's channel for a director)."""
    flagged = []
    for impact in coaching_impact(session, workspace, [agent]):
        if not impact.negative or impact.status is not BlockStatus.ACTIVE:
            continue
        text = (
            f"Your coaching #{impact.block_id} to {impact.agent} looks like it hurts: "
            f"{impact.summary()} Consider rewording or archiving it "
            f"(salesbrain memory archive {impact.block_id})."
        )
        key = f"coaching-flag:block:{impact.block_id}"
        destination = _author_destination(session, workspace, impact)
        if notices.post_once(session, workspace, key, destination, text):
            audit.record(
                session,
                workspace,
                Actor.system("coaching-impact"),
                "coaching.flag",
                f"block:{impact.block_id}",
                impact.conclusion(),
            )
            flagged.append(impact)
    return flagged


def _author_destination(session: Session, workspace: Workspace, impact: NoteImpact) -> str:
    author = impact.author or ""
    if SLACK_USER_ID.fullmatch(author):
        return f"slack:{author}"  # a direct message: Slack opens the conversation
    channel = session.scalar(
        select(Agent.report_channel).where(
            Agent.workspace_id == workspace.id, Agent.handle == author
        )
    )
    return f"slack:{channel}" if channel else outbox.CONSOLE
