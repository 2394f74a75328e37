"""The weekly digest of a team: what its brain learned, which coaching moved a metric, what
was promoted or superseded, what went stale or never surfaced, and what still waits.

`salesbrain digest --team T` prints it; the scheduler posts it in the team's channel (its
director's report channel, else the first of its agents' that has one) at the weekday and
hour (UTC) the workspace sets, `settings["digest"]`. Posting goes through notices under the
key "digest:<team>:<date>", so a second tick or a second worker never posts it twice; in
Slack its charts follow in its thread (core/chart_notices.py).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import partial
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from core import audit, chart_notices, clock, impact, notices, proposals
from core.directory import get_team
from core.errors import InvalidInput
from core.heartbeat import outbox
from core.models import (
    Agent,
    AgentRole,
    BlockStatus,
    BlockType,
    MemoryBlock,
    Proposal,
    ProposalStatus,
    SourceKind,
    Team,
    Tier,
    Workspace,
)
from core.permissions import Actor, check_admin, principal_for
from core.signals import stale_copies

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
WEEK = timedelta(days=7)
# A block older than this that no cycle ever saw "never surfaced": younger ones had no chance.
UNSEEN_AFTER = timedelta(days=7)
LISTED = 8  # items per section; the rest are counted


class Schedule(BaseModel):
    """When a workspace's digests are posted: a weekday and an hour, UTC."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    day: str = Field(default="mon", pattern="^(mon|tue|wed|thu|fri|sat|sun)$")
    hour: int = Field(default=9, ge=0, le=23)

    @classmethod
    def of(cls, workspace: Workspace) -> Schedule:
        return cls.model_validate((workspace.settings or {}).get("digest") or {})

    def last_slot(self, now: datetime) -> datetime:
        """The latest moment at or before `now` on this weekday and hour."""
        slot = now.replace(minute=0, second=0, microsecond=0, hour=self.hour)
        slot -= timedelta(days=(now.weekday() - DAYS.index(self.day)) % 7)
        return slot if slot <= now else slot - WEEK


def set_schedule(
    session: Session, workspace: Workspace, *, day: str | None, hour: int | None, by: Actor
) -> Schedule:
    """Change when the digests are posted (admins only); what is not given keeps its value."""
    check_admin(
        principal_for(session, workspace, by),
        "change when the digest is posted",
        action="settings.digest",
        target="workspace",
    )
    current = Schedule.of(workspace).model_dump()
    if day is not None:
        current["day"] = day.strip().lower()[:3]
    if hour is not None:
        current["hour"] = hour
    try:
        schedule = Schedule.model_validate(current)
    except ValidationError as error:
        problem = error.errors()[0]
        name = ".".join(str(part) for part in problem["loc"])
        hint = f"one of {', '.join(DAYS)}" if name == "day" else "a whole hour from 0 to 23"
        raise InvalidInput(f"digest-{name}", f"{current[name]!r} is not {hint}") from None
    workspace.settings = {**(workspace.settings or {}), "digest": schedule.model_dump()}
    session.flush()
    audit.record(
        session, workspace, by, "settings.digest", "workspace", f"{schedule.day} {schedule.hour}h"
    )
    return schedule


@dataclass
class Digest:
    """One team's week."""

    team: str
    team_name: str
    since: datetime
    until: datetime
    learned: list[str] = field(default_factory=list)
    coaching: list[impact.NoteImpact] = field(default_factory=list)
    promoted: list[str] = field(default_factory=list)
    superseded: list[str] = field(default_factory=list)
    stale: list[str] = field(default_factory=list)
    never_surfaced: list[str] = field(default_factory=list)
    proposals: list[str] = field(default_factory=list)

    def text(self) -> str:
        """The digest as one message (Slack mrkdwn reads it as plain text too)."""
        lines = [
            f"Weekly digest of {self.team_name} ({self.team}), "
            f"{self.since:%d %b} to {self.until:%d %b %Y}"
        ]
        sections: list[tuple[str, list[str]]] = [
            ("What the team's brain learned", self.learned),
            ("Coaching that moved a metric", [_moved(note) for note in self.coaching]),
            ("Promoted to the Team Brain", self.promoted),
            ("Findings superseded", self.superseded),
            ("Stale Team Brain copies", self.stale),
            ("Blocks that never surfaced", self.never_surfaced),
            ("Proposals still waiting", self.proposals),
        ]
        for title, items in sections:
            lines.append(f"\n{title}:")
            lines += [f"  - {item}" for item in items[:LISTED]] or ["  (none)"]
            if len(items) > LISTED:
                lines.append(f"  ... and {len(items) - LISTED} more")
        return "\n".join(lines)

    def as_dict(self) -> dict[str, Any]:
        return {
            "team": self.team,
            "since": self.since.isoformat(),
            "until": self.until.isoformat(),
            "learned": self.learned,
            "coaching": [note.as_dict() for note in self.coaching],
            "promoted": self.promoted,
            "superseded": self.superseded,
            "stale": self.stale,
            "never_surfaced": self.never_surfaced,
            "proposals": self.proposals,
        }


def _moved(note: impact.NoteImpact) -> str:
    return f"#{note.block_id} to {note.agent}: {note.summary()}"


def weekly_digest(
    session: Session, workspace: Workspace, team: Team | str, *, until: datetime | None = None
) -> Digest:
    """The team's digest of the seven days up to `until` (now by default)."""
    if isinstance(team, str):
        team = get_team(session, workspace, team)
    until = until or clock.now()
    since = until - WEEK
    agents = list(
        session.scalars(select(Agent).where(Agent.team_id == team.id).order_by(Agent.handle))
    )
    handles = {agent.id: agent.handle for agent in agents}
    blocks = list(
        session.scalars(
            select(MemoryBlock)
            .where(
                MemoryBlock.workspace_id == workspace.id,
                (MemoryBlock.agent_id.in_(list(handles)))
                | ((MemoryBlock.tier == Tier.TEAM) & (MemoryBlock.team_id == team.id)),
            )
            .order_by(MemoryBlock.id)
        )
    )

    def owner(block: MemoryBlock) -> str:
        return handles.get(block.agent_id or 0) or "the team"

    def this_week(moment: datetime) -> bool:
        return since <= moment < until

    digest = Digest(team.slug, team.name, since, until)
    for block in blocks:
        said = f"#{block.id} {owner(block)}: {block.content}"
        learnt = block.type is not BlockType.COACHING and block.source_kind in (
            SourceKind.AGENT_CYCLE,
            SourceKind.SIGNAL_ANALYSIS,
        )
        if learnt and block.status is BlockStatus.ACTIVE and this_week(block.created_at):
            digest.learned.append(said)
        if block.tier is Tier.TEAM and block.promoted_from_id and this_week(block.created_at):
            digest.promoted.append(
                f"{said} (from #{block.promoted_from_id} by {block.promoted_by})"
            )
        if block.status is BlockStatus.SUPERSEDED and this_week(block.updated_at):
            digest.superseded.append(said)
        if (
            block.status is BlockStatus.ACTIVE
            and block.times_surfaced == 0
            and block.created_at < until - UNSEEN_AFTER
        ):
            digest.never_surfaced.append(said)
    digest.coaching = [
        note
        for note in impact.coaching_impact(session, workspace, agents)
        if note.moved and note.status is BlockStatus.ACTIVE
    ]
    digest.stale = [
        f"#{copy.block_id}: {copy.reason} ({copy.action} it)"
        for copy in stale_copies(session, workspace, team)
    ]
    digest.proposals = proposals_waiting(session, workspace, team)
    return digest


def proposals_waiting(session: Session, workspace: Workspace, team: Team) -> list[str]:
    """The team's director proposals still waiting for a manager, oldest first."""
    waiting = session.scalars(
        select(Proposal)
        .where(
            Proposal.workspace_id == workspace.id,
            Proposal.team_id == team.id,
            Proposal.status == ProposalStatus.PENDING,
        )
        .order_by(Proposal.id)
    )
    return [
        f"proposal {found.id} ({found.created_at:%d %b}): {found.summary}"
        for found in map(partial(proposals.view, session), waiting)
    ]


def team_channel(session: Session, team: Team) -> str:
    """Where the team's digest goes: its director's report channel, else the first of its
    agents' (by handle), else the console of the runner."""
    agents = session.execute(
        select(Agent.role, Agent.report_channel)
        .where(Agent.team_id == team.id, Agent.report_channel.is_not(None))
        .order_by(Agent.handle)
    ).all()
    directors = [channel for role, channel in agents if role is AgentRole.DIRECTOR]
    channel = (directors or [channel for _, channel in agents] or [None])[0]
    return outbox.destination_for(channel)


def queue_due(session: Session, workspace: Workspace, now: datetime) -> list[str]:
    """Queue each team's digest when this week's slot has come (within a day of it), once
    per team and slot; the keys of the digests queued now."""
    slot = Schedule.of(workspace).last_slot(now)
    if now - slot >= timedelta(days=1):
        return []  # a runner that was down at the slot posts it that day, not days later
    queued = []
    for team in session.scalars(
        select(Team).where(Team.workspace_id == workspace.id).order_by(Team.slug)
    ):
        key = f"digest:{team.slug}:{slot:%Y-%m-%d}"
        digest = weekly_digest(session, workspace, team, until=slot)
        destination = team_channel(session, team)
        if notices.post_once(session, workspace, key, destination, digest.text()):
            queued.append(key)
            if destination.startswith("slack:"):  # charts go into its thread in Slack
                coaching = [note.block_id for note in digest.coaching]
                chart_notices.queue_for_digest(session, workspace, key, team, coaching)
    return queued


def queue_all_due(session: Session, now: datetime, workspace_id: int | None = None) -> list[str]:
    """`queue_due` in every workspace (or in one): the scheduler's job."""
    query = select(Workspace).order_by(Workspace.id)
    if workspace_id is not None:
        query = query.where(Workspace.id == workspace_id)
    return [key for ws in session.scalars(query) for key in queue_due(session, ws, now)]
