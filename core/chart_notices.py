"""Charts that go with a message in Slack, each uploaded once into the message's thread.

- A cycle report about a finding (its analysis wrote or moved the finding, or the cycle
  confirmed it, learned from it or promoted it) gets that finding's rate week by week.
- A team's weekly digest gets the team's weekly cycles, learnings and promotions, and the
  before and after of each coaching note it says moved a metric (the first few).

Each chart is a notice (core/notices.py) under a key stored once ("chart:cycle:12",
"digest:emea:2026-11-30:chart:team"): a report delivered again, a retry or a second
deliverer never queues it twice, and the notices' claim lets one deliverer post it. Its
destination names the message whose thread it goes to ("chart:cycle:12",
"chart:notice:40"); its text says what to draw ("finding 31", "team emea", "coaching 7"),
drawn from the records as they are when it is posted.

A chart with nothing to draw is not queued, and not uploaded should its data be gone when
its turn comes: the report or digest already says what there is, and a "no data yet" line
under every quiet team's digest would be noise that notifies people.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from core import notices, trends
from core.errors import DomainError
from core.impact import NoteImpact
from core.models import Cycle, Finding, MemoryBlock, Notice, OutboxStatus, Team, Workspace
from core.notices import Pending, PostFailed

KIND = "chart"  # the destination kind of a chart's notice, e.g. "chart:cycle:12"
# Coaching charts under one digest: the notes it lists first (a thread of eight charts
# would bury the digest).
DIGEST_COACHING_CHARTS = 3

Drawn = trends.FindingTrend | NoteImpact | trends.TeamWeeks


@dataclass(frozen=True)
class ChartPost:
    """A chart due in a message's thread: where, under which name, and what to draw."""

    channel: str
    thread_ts: str
    filename: str  # unique in its thread: a deliverer that died after uploading finds it
    title: str
    alt_text: str
    drawn: Drawn


def report_finding(session: Session, workspace: Workspace, cycle: Cycle) -> int | None:
    """The block id of the finding a cycle's report is about, if any: one the cycle
    confirmed, learned from or promoted, else one its analysis wrote or moved (the
    strongest first, as the brain listed them)."""
    confirmed = [
        call["confirmed_block_id"]
        for call in cycle.tool_calls or []
        if isinstance(call, dict) and call.get("confirmed_block_id")
    ]
    new_blocks = (
        list(
            session.scalars(
                select(MemoryBlock).where(
                    MemoryBlock.workspace_id == workspace.id,
                    MemoryBlock.id.in_([int(i) for i in cycle.new_block_ids]),
                )
            )
        )
        if cycle.new_block_ids
        else []
    )
    followed = [
        block.promoted_from_id or (block.evidence or {}).get("derived_from") or block.id
        for block in new_blocks
    ]
    analysed = list((cycle.context or {}).get("findings") or [])
    candidates = [int(i) for i in (*confirmed, *followed, *analysed) if isinstance(i, int)]
    if not candidates:
        return None
    findings = set(
        session.scalars(
            select(Finding.block_id).where(
                Finding.workspace_id == workspace.id, Finding.block_id.in_(candidates)
            )
        )
    )
    return next((block_id for block_id in candidates if block_id in findings), None)


def queue_for_report(session: Session, workspace: Workspace, cycle_id: int, finding: int) -> bool:
    """Queue the finding's chart for the thread of a cycle's report, once: whether it is new."""
    key = f"{KIND}:cycle:{cycle_id}"
    return notices.post_once(session, workspace, key, key, f"finding {finding}")


def queue_for_digest(
    session: Session, workspace: Workspace, digest_key: str, team: Team, coaching: list[int]
) -> list[str]:
    """Queue the charts of a digest just queued under `digest_key` (the team's weeks, and
    the first coaching notes it lists) for its thread; the keys of those queued now."""
    parent = session.scalar(
        select(Notice.id).where(Notice.workspace_id == workspace.id, Notice.key == digest_key)
    )
    if parent is None:
        return []
    wanted = [f"coaching {block_id}" for block_id in coaching[:DIGEST_COACHING_CHARTS]]
    try:
        trends.team_weeks(session, workspace, team.slug)
        wanted.insert(0, f"team {team.slug}")
    except trends.NothingToChart:
        pass
    queued = []
    for what in wanted:
        key = f"{digest_key}:{KIND}:{what.replace(' ', ':')}"
        if notices.post_once(session, workspace, key, f"{KIND}:notice:{parent}", what):
            queued.append(key)
    return queued


def chart_post(session: Session, workspace: Workspace, pending: Pending) -> ChartPost | None:
    """What a chart's notice uploads, and where; None when there is nothing to draw.
    Raises PostFailed while its message is not posted (permanent once that failed)."""
    channel, thread_ts = _thread(session, workspace, pending.address)
    kind, _, ident = pending.text.partition(" ")
    try:
        if kind == "finding":
            trend = trends.finding_trend(session, workspace, ident)
            last = trend.points[-1]
            return ChartPost(
                channel,
                thread_ts,
                f"finding-{trend.block_id}.png",
                f"Finding #{trend.block_id}: {trend.metric} of {trend.group} ({trend.scope}), "
                "week by week",
                f"{trend.metric} of {trend.group}: {last.rate:.0%} (n={last.n}) against "
                f"{last.baseline:.0%} by the week of {last.week:%d %b %Y}",
                trend,
            )
        if kind == "coaching":
            note = trends.note_trend(session, workspace, ident)
            return ChartPost(
                channel,
                thread_ts,
                f"coaching-{note.block_id}.png",
                f"Coaching #{note.block_id} to {note.agent}: reply rate before, with and "
                "without it",
                note.headline(),
                note,
            )
        if kind == "team":
            weeks = trends.team_weeks(session, workspace, ident)
            return ChartPost(
                channel,
                thread_ts,
                f"team-{weeks.team}-weeks.png",
                f"Team {weeks.team}: cycles, learnings and promotions per week",
                f"team {weeks.team}: "
                + ", ".join(
                    f"{week.week:%d %b} {week.cycles} cycles, {week.learnings} learnings, "
                    f"{week.promotions} promotions"
                    for week in weeks.weeks[-2:]
                ),
                weeks,
            )
    except trends.NothingToChart:
        return None
    except DomainError as error:  # what it was to draw is gone (archived, deleted)
        raise PostFailed(f"{pending.text}: {error.message}", permanent=True) from error
    raise PostFailed(f"{pending.text!r} is not a chart", permanent=True)


def _thread(session: Session, workspace: Workspace, parent: str) -> tuple[str, str]:
    """The channel and ts of the message a chart goes with: a cycle's report or a notice."""
    kind, _, ident = parent.partition(":")
    if kind == "cycle":
        cycle = session.scalar(
            select(Cycle).where(Cycle.workspace_id == workspace.id, Cycle.id == int(ident))
        )
        if cycle is None:
            raise PostFailed(f"cycle {ident} is gone", permanent=True)
        if cycle.slack_channel and cycle.slack_ts:
            return cycle.slack_channel, cycle.slack_ts
        raise PostFailed(f"the report of cycle {ident} is not posted yet")
    notice = (
        session.scalar(
            select(Notice).where(Notice.workspace_id == workspace.id, Notice.id == int(ident))
        )
        if kind == "notice" and ident.isdigit()
        else None
    )
    if notice is None or notice.status is OutboxStatus.FAILED:
        raise PostFailed(f"{parent} will not be posted", permanent=True)
    channel, _, ts = (notice.delivered_ref or "").partition(":")
    if notice.status is not OutboxStatus.DELIVERED or not ts:
        raise PostFailed(f"{parent} is not posted yet")
    return channel, ts
