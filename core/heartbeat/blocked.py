"""Destinations that take no reports until a person fixes them, and who is told how.

Slack refuses some posts for reasons no retry can cure: the bot is not in the channel, the
channel is gone or archived, the token was revoked. Such a report is not marked failed: it
waits in the outbox as `blocked`, its destination gets an open problem (one row per
destination), and the managers of the agents that report there are told once, with the
fix ("invite @salesbrain to #sdr-emea"), however many reports pile up meanwhile. The
problem closes, and the waiting reports go out in the order they were written, when the
destination is fixed: the bot joins the channel (Slack's member_joined_channel event), an
operator retries (`salesbrain outbox retry`), or the slow probe of the oldest waiting
report gets through.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from core import clock
from core.models import (
    Agent,
    DeliveryProblem,
    Member,
    MemberRole,
    MemberTeam,
    OutboxMessage,
    OutboxStatus,
    Workspace,
)

# What a person does about each refusal. The token ones stop every channel at once.
_TOKEN_FIX = (
    "salesbrain's Slack token no longer works ({error}): reinstall the app in this "
    "workspace, or set a new SLACK_BOT_TOKEN and restart salesbrain"
)
FIXES = {
    "not_in_channel": "invite @salesbrain to {channel} (type `/invite @salesbrain` there)",
    "channel_not_found": (
        "{channel} is gone, or private without salesbrain in it: invite @salesbrain to it, "
        "or give {agents} another channel (`salesbrain agent set HANDLE --channel ID`)"
    ),
    "is_archived": (
        "{channel} is archived: unarchive it and invite @salesbrain, or give {agents} another "
        "channel (`salesbrain agent set HANDLE --channel ID`)"
    ),
    "invalid_auth": _TOKEN_FIX,
    "account_inactive": _TOKEN_FIX,
    "token_revoked": _TOKEN_FIX,
    "not_installed": _TOKEN_FIX,
}
BLOCKING = frozenset(FIXES)


@dataclass(frozen=True)
class Problem:
    """An open delivery problem as people see it: where, why, since when, and the fix."""

    destination: str
    channel: str | None
    error: str
    fix: str
    agents: list[str]
    waiting: int
    since: datetime
    notified_at: datetime | None


@dataclass(frozen=True)
class Notice:
    """The one message that tells the people who can fix a destination what to do."""

    workspace_id: int
    problem: Problem
    recipients: list[str]


def channel_of(destination: str) -> str | None:
    """The Slack channel of a `slack:<channel>` destination."""
    kind, _, address = destination.partition(":")
    return address if kind == "slack" and address else None


def fix_for(error: str, destination: str, agents: list[str]) -> str:
    """What a person does so that `destination` takes reports again."""
    channel = channel_of(destination)
    where = f"<#{channel}>" if channel else destination
    named = ", ".join(agents) or "its agents"
    template = FIXES.get(error, "Slack refused the report ({error}): see `salesbrain outbox list`")
    return template.format(channel=where, agents=named, error=error)


def open_problem(
    session: Session, workspace_id: int, destination: str, error: str, detail: str
) -> None:
    """Record that `destination` refuses reports (again); a problem fixed before reopens
    and is told about again."""
    now = clock.now()
    key = (DeliveryProblem.workspace_id == workspace_id) & (
        DeliveryProblem.destination == destination
    )
    values = {"error": error, "detail": detail[:2000], "last_failed_at": now}
    reopened = session.execute(
        update(DeliveryProblem)
        .where(key, DeliveryProblem.resolved_at.is_not(None))
        .values(**values, opened_at=now, notified_at=None, resolved_at=None)
        .returning(DeliveryProblem.id),
        execution_options={"synchronize_session": False},
    ).first()
    if reopened is not None:
        return
    try:
        # A savepoint: another deliverer may open the same problem at the same moment.
        with session.begin_nested():
            session.add(
                DeliveryProblem(
                    workspace_id=workspace_id, destination=destination, opened_at=now, **values
                )
            )
    except IntegrityError:
        session.execute(
            update(DeliveryProblem).where(key).values(**values),
            execution_options={"synchronize_session": False},
        )


def claim_notice(session: Session, workspace_id: int, destination: str) -> Notice | None:
    """The notice of a problem nobody was told about yet, claimed so that exactly one
    deliverer sends it; None once told."""
    claimed = session.execute(
        update(DeliveryProblem)
        .where(
            DeliveryProblem.workspace_id == workspace_id,
            DeliveryProblem.destination == destination,
            DeliveryProblem.notified_at.is_(None),
            DeliveryProblem.resolved_at.is_(None),
        )
        .values(notified_at=clock.now())
        .returning(DeliveryProblem.id),
        execution_options={"synchronize_session": False},
    ).first()
    if claimed is None:
        return None
    problem = session.get(DeliveryProblem, claimed[0])
    assert problem is not None
    session.refresh(problem)
    agents = _agents_reporting_to(session, workspace_id, destination)
    return Notice(
        workspace_id=workspace_id,
        problem=_problem(session, problem, [agent.handle for agent in agents]),
        recipients=_fixers(session, workspace_id, {agent.team_id for agent in agents}),
    )


def release(session: Session, workspace_id: int, destination: str | None = None) -> int:
    """Make every waiting report of a destination (of every destination: None) due now and
    close its problem; how many reports now wait to go out. All become due at the same
    moment, so they go out in the order they were written."""
    now = clock.now()
    waiting = [OutboxMessage.workspace_id == workspace_id]
    if destination is not None:
        waiting.append(OutboxMessage.destination == destination)
    blocked_destinations = select(OutboxMessage.destination).where(
        *waiting, OutboxMessage.status == OutboxStatus.BLOCKED
    )
    released = session.execute(
        update(OutboxMessage)
        .where(
            *waiting,
            OutboxMessage.destination.in_(blocked_destinations),
            OutboxMessage.status.in_((OutboxStatus.PENDING, OutboxStatus.BLOCKED)),
            OutboxMessage.claimed_by.is_(None),
        )
        .values(status=OutboxStatus.PENDING, next_attempt_at=now)
        .returning(OutboxMessage.id),
        execution_options={"synchronize_session": False},
    ).all()
    resolve(session, workspace_id, destination)
    return len(released)


def resolve(session: Session, workspace_id: int, destination: str | None = None) -> None:
    """Close the open problem of a destination (every one of the workspace: None)."""
    where = [DeliveryProblem.workspace_id == workspace_id, DeliveryProblem.resolved_at.is_(None)]
    if destination is not None:
        where.append(DeliveryProblem.destination == destination)
    session.execute(
        update(DeliveryProblem).where(*where).values(resolved_at=clock.now()),
        execution_options={"synchronize_session": False},
    )


def open_problems(session: Session, workspace: Workspace) -> list[Problem]:
    """The workspace's destinations that take no reports now, oldest problem first."""
    rows = session.scalars(
        select(DeliveryProblem)
        .where(DeliveryProblem.workspace_id == workspace.id, DeliveryProblem.resolved_at.is_(None))
        .order_by(DeliveryProblem.opened_at, DeliveryProblem.id)
    )
    return [
        _problem(
            session,
            problem,
            [a.handle for a in _agents_reporting_to(session, workspace.id, problem.destination)],
        )
        for problem in rows
    ]


def _problem(session: Session, problem: DeliveryProblem, agents: list[str]) -> Problem:
    waiting = session.scalar(
        select(func.count()).where(
            OutboxMessage.workspace_id == problem.workspace_id,
            OutboxMessage.destination == problem.destination,
            OutboxMessage.status.in_((OutboxStatus.BLOCKED, OutboxStatus.PENDING)),
        )
    )
    return Problem(
        destination=problem.destination,
        channel=channel_of(problem.destination),
        error=problem.error,
        fix=fix_for(problem.error, problem.destination, agents),
        agents=agents,
        waiting=waiting or 0,
        since=problem.opened_at,
        notified_at=problem.notified_at,
    )


def _agents_reporting_to(session: Session, workspace_id: int, destination: str) -> list[Agent]:
    channel = channel_of(destination)
    if channel is None:
        return []
    return list(
        session.scalars(
            select(Agent)
            .where(Agent.workspace_id == workspace_id, Agent.report_channel == channel)
            .order_by(Agent.handle)
        )
    )


def _fixers(session: Session, workspace_id: int, team_ids: set[int]) -> list[str]:
    """The managers of these teams; the workspace's admins when the teams have none."""
    managers = session.scalars(
        select(Member.slack_user_id)
        .join(MemberTeam, MemberTeam.member_id == Member.id)
        .where(
            Member.workspace_id == workspace_id,
            Member.role == MemberRole.MANAGER,
            MemberTeam.team_id.in_(team_ids),
        )
        .distinct()
        .order_by(Member.slack_user_id)
    )
    found = list(managers)
    if found:
        return found
    return list(
        session.scalars(
            select(Member.slack_user_id)
            .where(Member.workspace_id == workspace_id, Member.role == MemberRole.ADMIN)
            .order_by(Member.slack_user_id)
        )
    )
