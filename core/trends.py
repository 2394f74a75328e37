"""What the charts draw: figures over time, read from salesbrain's own records.

- `finding_trend`: a finding's rate week by week, cumulative (each week counts everything
  up to its end, as analysis does), with its Wilson interval and the scope's baseline; the
  band narrows as evidence accumulates.
- `note_trend`: a coaching note's measured impact (core.impact): with, without, before.
- `team_weeks`: a team's cycles, learnings and promotions per week (as the digest counts
  learnings and promotions).
Nothing to draw is said, not drawn: each raises `NothingToChart` (not found, exit 4).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from core import clock, impact, memory, rules
from core.directory import get_team
from core.errors import NotFound
from core.models import (
    Agent,
    BlockType,
    Cycle,
    Finding,
    MemoryBlock,
    SourceKind,
    Team,
    Tier,
    Workspace,
)
from core.signals.stats import Thresholds, wilson, z_score
from core.signals.tally import MEASURES, OBJECTIONS, timeline

WEEK = timedelta(days=7)
TEAM_WEEKS = 12  # how many weeks a team's chart shows, the current one last


class NothingToChart(NotFound):
    """The records hold nothing to draw: a chart would be empty."""


@dataclass(frozen=True)
class Point:
    """A group's cumulative rate at the end of one week, with its interval and baseline."""

    week: datetime  # the Monday the week starts (UTC)
    successes: int
    n: int
    low: float
    high: float
    baseline: float

    @property
    def rate(self) -> float:
        return self.successes / self.n if self.n else 0.0


@dataclass(frozen=True)
class FindingTrend:
    block_id: int
    metric: str  # "reply rate", "objection share", ...
    group: str  # "segment = hospital"
    scope: str  # "sdr-emea" or "team emea"
    confidence: float
    points: tuple[Point, ...]


@dataclass(frozen=True)
class TeamWeek:
    week: datetime
    cycles: int
    learnings: int
    promotions: int


@dataclass(frozen=True)
class TeamWeeks:
    team: str
    weeks: tuple[TeamWeek, ...]


def week_of(moment: datetime) -> datetime:
    """The Monday 00:00 that starts the moment's week."""
    day = moment.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    return day - timedelta(days=day.weekday())


def finding_trend(session: Session, workspace: Workspace, block_id: int | str) -> FindingTrend:
    """A finding's rate week by week, by the id of the block it wrote."""
    number = rules.record_id(block_id, "finding")
    finding = session.scalar(
        select(Finding).where(Finding.workspace_id == workspace.id, Finding.block_id == number)
    )
    if finding is None:
        raise NotFound(f"no finding wrote block {number} (give a learning's or pattern's id)")
    measure = next(
        m for m in MEASURES if (m.metric, m.dimension) == (finding.metric, finding.dimension)
    )
    if finding.team_id is not None:
        team = session.get_one(Team, finding.team_id)
        scope = f"team {team.slug}"
        agent_ids = list(session.scalars(select(Agent.id).where(Agent.team_id == team.id)))
    else:
        agent = session.get_one(Agent, finding.agent_id)
        scope, agent_ids = agent.handle, [agent.id]
    thresholds = Thresholds.of(workspace)
    z = z_score(thresholds.confidence)
    points: list[Point] = []
    successes = n = all_successes = 0
    observations = timeline(session, agent_ids, measure, finding.value)
    for index, (at, success, in_group) in enumerate(observations):
        all_successes += success
        if in_group:
            successes += success
            n += 1
        week = week_of(at)
        week_ends = index + 1 == len(observations) or week_of(observations[index + 1][0]) != week
        if week_ends and n:
            baseline = (
                thresholds.objection_share if measure is OBJECTIONS else all_successes / (index + 1)
            )
            points.append(Point(week, successes, n, *wilson(successes, n, z), baseline))
    if not points:
        raise NothingToChart(f"finding {number} has no observations yet: nothing to chart")
    return FindingTrend(
        number,
        measure.metric.replace("_", " "),
        f"{finding.dimension.replace('_', ' ')} = {finding.value}",
        scope,
        thresholds.confidence,
        tuple(points),
    )


def note_trend(session: Session, workspace: Workspace, block_id: int | str) -> impact.NoteImpact:
    """A coaching note's reply rates with, without and before it."""
    block = memory.get_block(session, workspace, block_id)
    measured = impact.note_impact(session, workspace, block)
    if measured is None:
        raise NotFound(f"block {block.id} is not a coaching note on an agent")
    if not (measured.with_note.sends or measured.without_note.sends or measured.before_note.sends):
        raise NothingToChart(f"coaching note {block.id}: its agent has no sends yet")
    return measured


def team_weeks(session: Session, workspace: Workspace, slug: str) -> TeamWeeks:
    """A team's cycles, learnings and promotions in each of the last `TEAM_WEEKS` weeks."""
    team = get_team(session, workspace, slug)
    first = week_of(clock.now()) - (TEAM_WEEKS - 1) * WEEK
    agent_ids = select(Agent.id).where(Agent.team_id == team.id).scalar_subquery()
    cycles = session.scalars(
        select(Cycle.started_at).where(Cycle.agent_id.in_(agent_ids), Cycle.started_at >= first)
    )
    learnings = session.scalars(
        select(MemoryBlock.created_at).where(
            MemoryBlock.agent_id.in_(agent_ids),
            MemoryBlock.type != BlockType.COACHING,
            MemoryBlock.source_kind.in_((SourceKind.AGENT_CYCLE, SourceKind.SIGNAL_ANALYSIS)),
            MemoryBlock.created_at >= first,
        )
    )
    promotions = session.scalars(
        select(MemoryBlock.created_at).where(
            MemoryBlock.workspace_id == workspace.id,
            MemoryBlock.tier == Tier.TEAM,
            MemoryBlock.team_id == team.id,
            MemoryBlock.promoted_from_id.is_not(None),
            MemoryBlock.created_at >= first,
        )
    )
    counts = {first + i * WEEK: [0, 0, 0] for i in range(TEAM_WEEKS)}
    for column, moments in enumerate((cycles, learnings, promotions)):
        for moment in moments:
            week = counts.get(week_of(moment))
            if week is not None:
                week[column] += 1
    if not any(any(week) for week in counts.values()):
        raise NothingToChart(
            f"team {team.slug}: no cycles, learnings or promotions in the last "
            f"{TEAM_WEEKS} weeks: nothing to chart"
        )
    return TeamWeeks(
        team.slug, tuple(TeamWeek(week, *numbers) for week, numbers in sorted(counts.items()))
    )
