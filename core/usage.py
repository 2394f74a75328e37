"""The token bill: what the cycles of a period used and cost, per agent or per team.

Each cycle stores its tokens and its cost (core/pricing.py, at the prices of its day); the
bill sums them. Cycles of the offline backend are counted and cost nothing; cycles on a model
the price table does not list are counted with their tokens and named as unpriced.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any, Literal

from sqlalchemy import Integer, case, func, select
from sqlalchemy.orm import Session

from core import clock
from core.errors import InvalidInput
from core.heartbeat.backends import OFFLINE
from core.models import Agent, Cycle, Team, Workspace
from core.pricing import cache_share

Grouping = Literal["agent", "team"]
GROUPINGS: tuple[Grouping, ...] = ("agent", "team")
_PERIOD = re.compile(r"^\s*(\d+)\s*([hdw])\s*$")
_UNIT_HOURS = {"h": 1, "d": 24, "w": 24 * 7}
MAX_PERIOD = timedelta(days=366)


@dataclass(frozen=True)
class BillLine:
    """One agent's or team's cycles over the period (or all of them: the total)."""

    name: str
    cycles: int = 0
    offline_cycles: int = 0
    input_tokens: int = 0  # the fresh part of the prompts, neither read from nor written to cache
    output_tokens: int = 0
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0
    cost_usd: float = 0.0
    # Cycles with tokens on a model the price table does not list: their cost is not known.
    unpriced_cycles: int = 0

    @property
    def prompt_tokens(self) -> int:
        return self.input_tokens + self.cache_read_tokens + self.cache_write_tokens

    @property
    def cache_share(self) -> float:
        """The share of the prompts' tokens read from the cache."""
        return cache_share(self.input_tokens, self.cache_read_tokens, self.cache_write_tokens)

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "cycles": self.cycles,
            "offline_cycles": self.offline_cycles,
            "tokens": {
                "input": self.input_tokens,
                "output": self.output_tokens,
                "cache_read": self.cache_read_tokens,
                "cache_write": self.cache_write_tokens,
                "cache_share": round(self.cache_share, 4),
            },
            "cost_usd": round(self.cost_usd, 6),
            "unpriced_cycles": self.unpriced_cycles,
        }


@dataclass(frozen=True)
class Bill:
    """The period's lines, most expensive first, and their total."""

    since: datetime
    by: Grouping
    lines: list[BillLine]
    total: BillLine

    def as_dict(self) -> dict[str, Any]:
        """The `usage --json` shape."""
        return {
            "since": self.since.isoformat(),
            "by": self.by,
            "lines": [line.as_dict() for line in self.lines],
            "total": self.total.as_dict(),
        }


def since_from(text: str, now: datetime) -> datetime:
    """The start of a period given as `7d`, `24h`, `2w` (back from now) or a date (UTC)."""
    found = _PERIOD.match(text)
    if found:
        period = timedelta(hours=int(found[1]) * _UNIT_HOURS[found[2]])
        if not timedelta(hours=1) <= period <= MAX_PERIOD:
            raise InvalidInput("since", f"{text.strip()} is outside 1h..366d")
        return now - period
    try:
        day = date.fromisoformat(text.strip())
    except ValueError:
        raise InvalidInput(
            "since", f"{text!r} is neither a period (7d, 24h, 2w) nor a date (2026-11-30)"
        ) from None
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


def grouping(text: str) -> Grouping:
    """`agent` or `team`."""
    if text not in GROUPINGS:
        raise InvalidInput("by", f"{text!r} is not one of {', '.join(GROUPINGS)}")
    return text


def week_start(now: datetime) -> datetime:
    """Monday 00:00 UTC of the week `now` is in."""
    day = now.astimezone(UTC).date() - timedelta(days=now.astimezone(UTC).weekday())
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


def bill(
    session: Session,
    workspace: Workspace,
    *,
    since: datetime,
    by: Grouping,
    team_ids: frozenset[int] | None = None,
) -> Bill:
    """The workspace's cycles started since then, summed per agent or per team (only these
    teams' agents when `team_ids` is given)."""
    name = Agent.handle if by == "agent" else Team.slug
    sums = (
        func.count(Cycle.id),
        func.sum(case((Cycle.backend == OFFLINE, 1), else_=0)),
        func.sum(Cycle.input_tokens),
        func.sum(Cycle.output_tokens),
        func.sum(Cycle.cache_read_tokens),
        func.sum(Cycle.cache_write_tokens),
        func.sum(func.coalesce(Cycle.cost_usd, 0.0)),
        func.sum(
            case(
                (
                    Cycle.cost_usd.is_(None)
                    & (Cycle.input_tokens + Cycle.cache_read_tokens + Cycle.cache_write_tokens > 0),
                    1,
                ),
                else_=0,
            ).cast(Integer)
        ),
    )
    query = (
        select(name, *sums)
        .join(Agent, Agent.id == Cycle.agent_id)
        .join(Team, Team.id == Agent.team_id)
        .where(Cycle.workspace_id == workspace.id, Cycle.started_at >= since)
        .group_by(name)
    )
    if team_ids is not None:
        query = query.where(Agent.team_id.in_(team_ids))
    lines = [_line(row[0], row[1:]) for row in session.execute(query)]
    lines.sort(key=lambda line: (-line.cost_usd, -line.prompt_tokens, line.name))
    return Bill(since, by, lines, _total(lines))


def _line(name: str, sums: Any) -> BillLine:
    cycles, offline, fresh, output, read, write, cost, unpriced = (value or 0 for value in sums)
    return BillLine(
        name,
        cycles=int(cycles),
        offline_cycles=int(offline),
        input_tokens=int(fresh),
        output_tokens=int(output),
        cache_read_tokens=int(read),
        cache_write_tokens=int(write),
        cost_usd=float(cost),
        unpriced_cycles=int(unpriced),
    )


def _total(lines: list[BillLine]) -> BillLine:
    return BillLine(
        "total",
        cycles=sum(line.cycles for line in lines),
        offline_cycles=sum(line.offline_cycles for line in lines),
        input_tokens=sum(line.input_tokens for line in lines),
        output_tokens=sum(line.output_tokens for line in lines),
        cache_read_tokens=sum(line.cache_read_tokens for line in lines),
        cache_write_tokens=sum(line.cache_write_tokens for line in lines),
        cost_usd=sum(line.cost_usd for line in lines),
        unpriced_cycles=sum(line.unpriced_cycles for line in lines),
    )


def week_bill(session: Session, workspace: Workspace, team_ids: frozenset[int] | None) -> Bill:
    """This week's spend (since Monday 00:00 UTC) per team: the given teams, or all."""
    return bill(session, workspace, since=week_start(clock.now()), by="team", team_ids=team_ids)
