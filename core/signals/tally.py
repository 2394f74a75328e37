"""Counting: delivered sends and their outcomes per group, and replies per objection."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import CTE, ColumnElement, String, case, func, literal, select, union_all
from sqlalchemy.orm import Session

from core.models import Signal, SignalType, Workspace


@dataclass(frozen=True)
class Measure:
    """A rate analysis looks at, by one dimension: open rate by subject format, ..."""

    metric: str
    dimension: str


OPEN_BY_FORMAT = Measure("open_rate", "subject_format")
REPLY_BY_SEGMENT = Measure("reply_rate", "segment")
REPLY_BY_INDUSTRY = Measure("reply_rate", "industry")
MEETING_BY_TEMPLATE = Measure("meeting_rate", "template")
OBJECTIONS = Measure("objection_share", "objection")
MEASURES = (OPEN_BY_FORMAT, REPLY_BY_SEGMENT, REPLY_BY_INDUSTRY, MEETING_BY_TEMPLATE, OBJECTIONS)

# (metric, dimension, value); a scope's overall count of a metric is (metric, "", "").
Key = tuple[str, str, str]
REPLIES: Key = ("replies", "", "")


class Tally:
    """One scope's counts: [successes, observations] per metric overall and per group, and
    each group's first and last observation."""

    __slots__ = ("counts", "last_signal_id", "spans")

    def __init__(self) -> None:
        self.counts: dict[Key, list[int]] = {}
        self.spans: dict[Key, tuple[datetime, datetime]] = {}
        self.last_signal_id = 0

    def add(
        self,
        key: Key,
        successes: int,
        n: int,
        first: datetime | None = None,
        last: datetime | None = None,
    ) -> None:
        counts = self.counts.get(key)
        if counts is None:
            counts = self.counts[key] = [0, 0]
        counts[0] += successes
        counts[1] += n
        if first is not None and last is not None:
            known = self.spans.get(key)
            self.spans[key] = (first, last) if known is None else _widest(known, (first, last))

    def span_days(self, measure: Measure, value: str) -> float:
        """Days from the group's first observation to its last (0 when it has none)."""
        span = self.spans.get((measure.metric, measure.dimension, value))
        return (span[1] - span[0]).total_seconds() / 86_400 if span is not None else 0.0

    def observed(self, measure: Measure, value: str) -> tuple[int, int]:
        """(successes, observations) of one group; objection shares are over all replies."""
        successes, n = self.counts.get((measure.metric, measure.dimension, value), (0, 0))
        return (successes, self.overall(measure)[1]) if measure is OBJECTIONS else (successes, n)

    def overall(self, measure: Measure) -> tuple[int, int]:
        """(successes, observations) of the whole scope for the measure's metric."""
        successes, n = self.counts.get(
            REPLIES if measure is OBJECTIONS else (measure.metric, "", ""), (0, 0)
        )
        return successes, n

    def values(self, measure: Measure) -> list[str]:
        """The values seen in the measure's dimension."""
        return sorted(
            value
            for metric, dimension, value in self.counts
            if metric == measure.metric and dimension == measure.dimension
        )

    @classmethod
    def pooled(cls, tallies: Iterable[Tally]) -> Tally:
        """Several agents' counts as one (a team's)."""
        pool = cls()
        for tally in tallies:
            for key, (successes, n) in tally.counts.items():
                pool.add(key, successes, n, *tally.spans.get(key, (None, None)))
            pool.last_signal_id = max(pool.last_signal_id, tally.last_signal_id)
        return pool


def _widest(
    one: tuple[datetime, datetime], other: tuple[datetime, datetime]
) -> tuple[datetime, datetime]:
    return min(one[0], other[0]), max(one[1], other[1])


# The send attributes rates are grouped by, and what each rate counts as a success.
DIMENSIONS = ("subject_format", "segment", "industry", "template")
OUTCOMES = {"open_rate": "opened", "reply_rate": "replied", "meeting_rate": "booked"}
LAST = "last"


def tally_signals(
    session: Session, workspace: Workspace, agent_ids: list[int] | None
) -> dict[int, Tally]:
    """Counts per agent (of every agent when `agent_ids` is None), aggregated by the database.

    Signals are grouped by thread once (a materialised common table expression), then
    counted per agent and group value for each measure, with the group's first and last
    send (an objection's: its first and last reply): what reaches Python is a few rows per
    group, however many signals there are.
    """
    # Agent ids belong to one workspace: with them, the (agent_id, id) index is the way in.
    scope = (
        Signal.workspace_id == workspace.id if agent_ids is None else Signal.agent_id.in_(agent_ids)
    )
    threads = _threads(scope)
    delivered = threads.c.delivered == 1
    parts = [
        select(
            threads.c.agent_id,
            literal(measure.metric),
            literal(measure.dimension),
            threads.c[measure.dimension],
            func.sum(threads.c[OUTCOMES[measure.metric]]),
            func.count(),
            func.min(threads.c.sent_at),
            func.max(threads.c.sent_at),
        )
        .where(delivered)
        .group_by(threads.c.agent_id, threads.c[measure.dimension])
        for measure in MEASURES
        if measure is not OBJECTIONS
    ]
    parts.append(
        select(
            threads.c.agent_id,
            literal(LAST),
            literal(""),
            literal(None, String),
            func.max(threads.c.last_id),
            func.count(),
            literal(None),
            literal(None),
        ).group_by(threads.c.agent_id)
    )
    parts.append(
        select(
            Signal.agent_id,
            literal(OBJECTIONS.metric),
            literal(OBJECTIONS.dimension),
            Signal.objection,
            func.count(),
            func.count(),
            func.min(Signal.occurred_at),
            func.max(Signal.occurred_at),
        )
        .where(scope, Signal.type == SignalType.EMAIL_REPLIED)
        .group_by(Signal.agent_id, Signal.objection)
    )
    tallies: dict[int, Tally] = {}
    rows = session.execute(union_all(*parts))
    for agent_id, metric, dimension, value, successes, n, first, last in rows:
        tally = tallies.get(agent_id)
        if tally is None:
            tally = tallies[agent_id] = Tally()
        if metric == LAST:
            tally.last_signal_id = successes
            continue
        if metric == OBJECTIONS.metric:
            tally.add(REPLIES, n, n)
        elif dimension != REPLY_BY_INDUSTRY.dimension:  # the reply rate's total, once
            tally.add((metric, "", ""), successes, n)
        if value is not None:
            tally.add((metric, dimension, value), successes, n, first, last)
    return tallies


def _saw(*kinds: SignalType) -> ColumnElement[Any]:
    return func.max(case((Signal.type.in_(kinds), 1), else_=0))


def _threads(scope: ColumnElement[bool]) -> CTE:
    """One row per (agent, thread): whether it was delivered, what came of it, when it was
    sent (its first signal), and the send's attributes. A reply or a meeting means the
    email was opened."""
    thread = func.coalesce(Signal.thread, Signal.external_id)
    return (
        select(
            Signal.agent_id.label("agent_id"),
            func.max(Signal.id).label("last_id"),
            func.min(Signal.occurred_at).label("sent_at"),
            (_saw(SignalType.EMAIL_SENT) - _saw(SignalType.BOUNCED)).label("delivered"),
            _saw(
                SignalType.EMAIL_OPENED, SignalType.EMAIL_REPLIED, SignalType.MEETING_BOOKED
            ).label("opened"),
            _saw(SignalType.EMAIL_REPLIED).label("replied"),
            _saw(SignalType.MEETING_BOOKED).label("booked"),
            *(func.max(Signal.__table__.c[name]).label(name) for name in DIMENSIONS),
        )
        .where(scope)
        .group_by(Signal.agent_id, thread)
        # Read by every measure: grouped once (both databases would, but say so).
        .cte("threads")
        .prefix_with("MATERIALIZED")
    )


def timeline(
    session: Session, agent_ids: list[int], measure: Measure, value: str
) -> list[tuple[datetime, bool, bool]]:
    """(when, success, in the group) of every observation the measure counts, oldest first:
    for a rate, each delivered send (by thread, as the tally counts it); for an objection's
    share, each reply (a success when it raised the objection)."""
    if measure is OBJECTIONS:
        replies = session.execute(
            select(Signal.occurred_at, Signal.objection == value)
            .where(Signal.agent_id.in_(agent_ids), Signal.type == SignalType.EMAIL_REPLIED)
            .order_by(Signal.occurred_at)
        )
        return [(at, bool(raised), True) for at, raised in replies]
    threads = _threads(Signal.agent_id.in_(agent_ids))
    sends = session.execute(
        select(
            threads.c.sent_at,
            threads.c[OUTCOMES[measure.metric]],
            threads.c[measure.dimension] == value,
        )
        .where(threads.c.delivered == 1)
        .order_by(threads.c.sent_at)
    )
    return [(at, bool(success), bool(in_group)) for at, success, in_group in sends]
