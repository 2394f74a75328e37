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
from typing import cast

from sqlalchemy import ColumnElement, Table, Update, and_, bindparam, or_, select, update
from sqlalchemy.orm import Session

from core.errors import InvalidInput
from core.models import Agent, AgentStatus, CycleTrigger


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


# The statements of every cycle are built once, with bind parameters: SQLAlchemy spends
# more building and keying a statement than SQLite spends running it. Core statements on
# the table, for the same reason (the ORM's bulk UPDATE path costs more than the UPDATE).
AGENTS = cast(Table, Agent.__table__)


def _claimable(now: datetime | ColumnElement[datetime]) -> ColumnElement[bool]:
    return or_(AGENTS.c.lease_expires_at.is_(None), AGENTS.c.lease_expires_at < now)


def _due(now: ColumnElement[datetime]) -> ColumnElement[bool]:
    return and_(AGENTS.c.status == AgentStatus.ACTIVE, AGENTS.c.next_run_at <= now, _claimable(now))


_NOW = bindparam("now", type_=AGENTS.c.next_run_at.type)
_DUE_WORKSPACES = select(AGENTS.c.workspace_id).where(_due(_NOW)).distinct()


def _claim_statement(*, one_workspace: bool) -> Update:
    """`WITH chosen AS (SELECT ... FOR UPDATE SKIP LOCKED) UPDATE ... RETURNING`."""
    candidates = select(AGENTS.c.id).where(_due(_NOW))
    if one_workspace:
        candidates = candidates.where(AGENTS.c.workspace_id == bindparam("in_workspace"))
    # A CTE, evaluated once: `IN (subquery ... LIMIT)` may be re-run per row by PostgreSQL's
    # planner and then claim more than `limit`.
    chosen = (
        candidates.order_by(AGENTS.c.next_run_at, AGENTS.c.id)
        .limit(bindparam("limit"))
        .with_for_update(skip_locked=True)  # PostgreSQL; SQLite renders no locking clause
        .cte("chosen")
    )
    return (
        update(AGENTS)
        .where(AGENTS.c.id.in_(select(chosen.c.id)), _due(_NOW))
        .values(lease_owner=bindparam("owner"), lease_expires_at=bindparam("expires"))
        .returning(AGENTS.c.id, AGENTS.c.workspace_id, AGENTS.c.next_run_at)
    )


_CLAIM = {one: _claim_statement(one_workspace=one) for one in (False, True)}


def due_workspaces(session: Session, now: datetime, workspace_id: int | None = None) -> list[int]:
    """Workspaces with at least one agent due and free to claim."""
    found = session.scalars(_DUE_WORKSPACES, {"now": now})
    return [id_ for id_ in found if workspace_id is None or id_ == workspace_id]


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
    # No parameter is named like a column: an UPDATE would SET a column so named.
    parameters = {"now": now, "limit": limit, "owner": owner, "expires": expires}
    if workspace_id is not None:
        parameters["in_workspace"] = workspace_id
    rows = session.execute(_CLAIM[workspace_id is not None], parameters).all()
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
        # The agent was read before another worker's claim: who and until when may be unknown.
        on = f" on {agent.lease_owner}" if agent.lease_owner else ""
        until = f" until {agent.lease_expires_at:%H:%M:%S} UTC" if agent.lease_expires_at else ""
        raise InvalidInput("agent", f"{agent.handle} is in a cycle{on}{until}; try again after it")
    return Claim(agent.id, agent.workspace_id, owner, expires, now, CycleTrigger.MANUAL)


_FINISH = (
    update(AGENTS)
    .where(AGENTS.c.id == bindparam("agent_id"), AGENTS.c.lease_owner == bindparam("owner"))
    .values(
        lease_owner=None,
        lease_expires_at=None,
        last_cycle_at=bindparam("cycle_at"),
        next_run_at=bindparam("next_at"),
    )
    .returning(AGENTS.c.id)
)


def finish(
    session: Session, claim: Claim, *, last_cycle_at: datetime, next_run_at: datetime
) -> bool:
    """Release the lease and schedule the next run, if the lease is still ours.

    `last_cycle_at` is when the cycle assembled its brain: coaching written after that is
    new to the next cycle."""
    parameters = {
        "agent_id": claim.agent_id,
        "owner": claim.owner,
        "cycle_at": last_cycle_at,
        "next_at": next_run_at,
    }
    return session.execute(_FINISH, parameters).first() is not None


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
