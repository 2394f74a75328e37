"""Due agents and leases: which worker runs which agent, so that no agent runs twice at once.

A claim is one atomic statement. PostgreSQL: `UPDATE agents ... WHERE id IN (SELECT ... FOR
UPDATE SKIP LOCKED) RETURNING`, so concurrent workers skip each other's rows instead of
waiting. SQLite: the same compare-and-set `UPDATE ... RETURNING` (SQLite has no row locks;
the unit of work's BEGIN IMMEDIATE makes writers take turns).

A finished cycle releases its lease only if it still holds it: a worker whose lease ran
out (it was too slow, or presumed dead) finds the agent taken and writes nothing.
"""

from __future__ import annotations

import os
import secrets
import socket
import zlib
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, and_, or_, select, update
from sqlalchemy.orm import Session

from core.errors import InvalidInput
from core.heartbeat.models import CycleTrigger
from core.models import Agent, AgentStatus


@dataclass(frozen=True)
class Claim:
    """An agent leased to one worker until `expires_at`."""

    agent_id: int
    workspace_id: int
    owner: str
    expires_at: datetime
    scheduled_for: datetime | None
    trigger: CycleTrigger = CycleTrigger.SCHEDULE


def worker_name() -> str:
    """This process, as it appears in leases and cycle records."""
    return f"{socket.gethostname()}:{os.getpid()}"


def lease_owner(worker: str) -> str:
    """A fresh owner token per claim, so a lease that lapsed and was re-taken never matches."""
    return f"{worker}/{secrets.token_hex(4)}"[:100]


def _claimable(now: datetime) -> ColumnElement[bool]:
    return or_(Agent.lease_expires_at.is_(None), Agent.lease_expires_at < now)


def _due(now: datetime) -> ColumnElement[bool]:
    return and_(Agent.status == AgentStatus.ACTIVE, Agent.next_run_at <= now, _claimable(now))


def due_workspaces(session: Session, now: datetime, workspace_id: int | None = None) -> list[int]:
    """Workspaces with at least one agent due and free to claim."""
    query = select(Agent.workspace_id).where(_due(now)).distinct()
    if workspace_id is not None:
        query = query.where(Agent.workspace_id == workspace_id)
    return list(session.scalars(query))


def claim_due(
    session: Session,
    worker: str,
    *,
    now: datetime,
    limit: int,
    lease_seconds: float,
    workspace_id: int | None = None,
) -> list[Claim]:
    """Lease up to `limit` due agents (longest overdue first) to this worker, in one statement:
    `WITH chosen AS (SELECT ... FOR UPDATE SKIP LOCKED) UPDATE ... RETURNING`."""
    if limit <= 0:
        return []
    owner = lease_owner(worker)
    expires = now + timedelta(seconds=lease_seconds)
    candidates = select(Agent.id).where(_due(now))
    if workspace_id is not None:
        candidates = candidates.where(Agent.workspace_id == workspace_id)
    # A CTE, evaluated once: `IN (subquery ... LIMIT)` may be re-run per row by PostgreSQL's
    # planner and then claim more than `limit`.
    chosen = (
        candidates.order_by(Agent.next_run_at, Agent.id)
        .limit(limit)
        .with_for_update(skip_locked=True)  # PostgreSQL; SQLite renders no locking clause
        .cte("chosen")
    )
    rows = session.execute(
        update(Agent)
        .where(Agent.id.in_(select(chosen.c.id)), _due(now))
        .values(lease_owner=owner, lease_expires_at=expires)
        .returning(Agent.id, Agent.workspace_id, Agent.next_run_at),
        execution_options={"synchronize_session": False},
    ).all()
    claims = [Claim(id_, ws, owner, expires, due) for id_, ws, due in rows]
    return sorted(claims, key=lambda claim: (claim.scheduled_for or now, claim.agent_id))


def claim_agent(
    session: Session, agent: Agent, worker: str, *, now: datetime, lease_seconds: float
) -> Claim:
    """Lease one agent now, due or not (`heartbeat --agent`); refused while another runs it."""
    owner = lease_owner(worker)
    expires = now + timedelta(seconds=lease_seconds)
    row = session.execute(
        update(Agent)
        .where(Agent.id == agent.id, _claimable(now))
        .values(lease_owner=owner, lease_expires_at=expires)
        .returning(Agent.id),
        execution_options={"synchronize_session": False},
    ).first()
    if row is None:
        raise InvalidInput(
            "agent",
            f"{agent.handle} is in a cycle on {agent.lease_owner} until "
            f"{agent.lease_expires_at:%H:%M:%S} UTC; try again after it",
        )
    return Claim(agent.id, agent.workspace_id, owner, expires, now, CycleTrigger.MANUAL)


def finish(
    session: Session, claim: Claim, *, last_cycle_at: datetime, next_run_at: datetime
) -> bool:
    """Release the lease and schedule the next run, if the lease is still ours.

    `last_cycle_at` is when the cycle assembled its brain: coaching written after that is
    new to the next cycle."""
    row = session.execute(
        update(Agent)
        .where(Agent.id == claim.agent_id, Agent.lease_owner == claim.owner)
        .values(
            lease_owner=None,
            lease_expires_at=None,
            last_cycle_at=last_cycle_at,
            next_run_at=next_run_at,
        )
        .returning(Agent.id),
        execution_options={"synchronize_session": False},
    ).first()
    return row is not None


def next_run(
    agent_id: int,
    interval_minutes: int,
    finished_at: datetime,
    *,
    jitter_share: float,
    max_jitter_seconds: float,
) -> datetime:
    """The next due time: one interval after this cycle, plus a little deterministic jitter."""
    interval = timedelta(minutes=interval_minutes)
    spread = min(interval.total_seconds() * jitter_share, max_jitter_seconds)
    # Deterministic per agent and cycle, so the demo replays identically.
    fraction = zlib.crc32(f"{agent_id}:{finished_at.isoformat()}".encode()) / 0xFFFFFFFF
    return finished_at + interval + timedelta(seconds=spread * fraction)
