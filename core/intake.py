"""The intake: commands acknowledged to chat whose work follows the ack, stored inside it.

A /coach note or a cycle run now is acknowledged at once and done after the ack. It is
stored first, already held by the process that received it (a lease), so that nothing
acknowledged lives only in that process's memory: if it dies, its lease lapses and any
process claims the command and does it. A claim is one atomic statement, as agents' leases
are (core/heartbeat/leases.py): PostgreSQL skips the rows another claimant has locked
(`FOR UPDATE SKIP LOCKED`), SQLite's writers take turns. A lease that lapses while its
holder still works lets a second process do the same command: the work itself must be
idempotent (a coaching note's delivery id is unique in the note's own transaction).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache
from typing import Any, cast

from sqlalchemy import Insert, Table, and_, delete, func, select, update
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from core.dialect import database
from core.models import Intake
from core.storable import check_document

log = logging.getLogger(__name__)

INTAKE = cast(Table, Intake.__table__)
# A command that failed this many times (its process died each time, or the work raised) is
# given up: a poison command must not take a process down forever.
MAX_ATTEMPTS = 5
# How long done commands are kept (for an operator's questions); Slack retries within minutes.
DONE_MEMORY = timedelta(days=1)


@dataclass(frozen=True)
class Received:
    """A command in the intake, as the process that holds it does its work."""

    id: int
    team_id: str
    kind: str
    payload: dict[str, Any]
    received_at: datetime
    attempts: int


@dataclass(frozen=True)
class Command:
    """A command to store before its ack: its workspace's Slack team id, what it is, its
    delivery (a repeated delivery is stored once), the raw command, and how long the
    process that received it holds it."""

    team_id: str
    kind: str
    delivery: str
    payload: dict[str, Any]
    lease_seconds: float

    def __post_init__(self) -> None:
        # Checked here, before the command joins others in one transaction: text no database
        # stores (a NUL) is its sender's one-line error, never the failure of the batch.
        for name, value in self.payload.items():
            check_document(value, name)


@cache
def _receiving(dialect: str) -> Insert:
    """The statement storing commands, made once per database: it runs in every ack."""
    # A repeated delivery conflicts on (team_id, delivery) and returns no row.
    statement = database(dialect).insert_unless_stored(INTAKE, ("team_id", "delivery"))
    return statement.returning(INTAKE.c.id, INTAKE.c.team_id, INTAKE.c.delivery)


def receive(
    connection: Connection, commands: Sequence[Command], *, owner: str, now: datetime
) -> list[int | None]:
    """Store commands together, each held by `owner` for its lease: for each, its id, or
    None when this delivery of it was stored before (a repeated delivery). Core, on a
    connection: this runs inside every ack that promises work after it."""
    if not commands:
        return []
    rows = [
        {
            "team_id": command.team_id,
            "kind": command.kind,
            "delivery": command.delivery,
            "payload": command.payload,
            "received_at": now,
            "claimed_by": owner,
            "claimed_until": now + timedelta(seconds=command.lease_seconds),
            "attempts": 1,
        }
        for command in commands
    ]
    stored = {
        (team_id, delivery): id_
        for id_, team_id, delivery in connection.execute(_receiving(connection.dialect.name), rows)
    }
    # The same delivery twice in one batch: the first holds it, the second is a repeat.
    return [stored.pop((c.team_id, c.delivery), None) for c in commands]


# The columns a `Received` is made of, in its order.
_RECEIVED = [
    INTAKE.c[name] for name in ("id", "team_id", "kind", "payload", "received_at", "attempts")
]


def _lapsed(kind: str, now: datetime) -> Any:
    return and_(
        INTAKE.c.kind == kind,
        INTAKE.c.done_at.is_(None),
        INTAKE.c.claimed_until <= now,
        INTAKE.c.attempts < MAX_ATTEMPTS,
    )


def claim_lapsed(
    session: Session, kind: str, *, owner: str, now: datetime, lease_seconds: float, limit: int
) -> list[Received]:
    """Claim up to `limit` commands of `kind` whose holder's lease lapsed (oldest first)."""
    if limit <= 0:
        return []
    # A CTE, evaluated once (as for agents' leases: `IN (subquery LIMIT)` may be re-run).
    chosen = (
        select(INTAKE.c.id)
        .where(_lapsed(kind, now))
        .order_by(INTAKE.c.id)
        .limit(limit)
        .with_for_update(skip_locked=True)  # PostgreSQL; SQLite renders no locking clause
        .cte("chosen")
    )
    rows = session.execute(
        update(INTAKE)
        .where(INTAKE.c.id.in_(select(chosen.c.id)), _lapsed(kind, now))
        .values(
            claimed_by=owner,
            claimed_until=now + timedelta(seconds=lease_seconds),
            attempts=INTAKE.c.attempts + 1,
        )
        .returning(*_RECEIVED)
    ).all()
    return sorted((Received(*row) for row in rows), key=lambda received: received.id)


def mark_done(session: Session, ids: Sequence[int], now: datetime) -> None:
    """The work of these commands is done: nobody claims them again."""
    if ids:
        session.execute(
            update(INTAKE)
            .where(INTAKE.c.id.in_(list(ids)), INTAKE.c.done_at.is_(None))
            .values(done_at=now, claimed_until=None)
        )


def finish(session: Session, intake_id: int, now: datetime) -> bool:
    """Mark one command done unless it is already: True when this call did. Whoever finishes
    a command answers its person; a second holder of it (its first holder's lease lapsed
    while it still worked) finds it done and stays silent."""
    finished = session.execute(
        update(INTAKE)
        .where(INTAKE.c.id == intake_id, INTAKE.c.done_at.is_(None))
        .values(done_at=now, claimed_until=None)
        .returning(INTAKE.c.id)
    ).first()
    return finished is not None


def release(session: Session, ids: Sequence[int], now: datetime, *, untried: bool = False) -> None:
    """Their holder will not do these commands after all (it is stopping, or its queue is
    full): anyone may claim them. `untried`: the claim that took them does not count as an
    attempt (a command is given up after MAX_ATTEMPTS tries, not after as many full queues)."""
    if not ids:
        return
    values: dict[str, Any] = {"claimed_until": now}
    if untried:
        values["attempts"] = INTAKE.c.attempts - 1
    session.execute(
        update(INTAKE)
        .where(INTAKE.c.id.in_(list(ids)), INTAKE.c.done_at.is_(None))
        .values(**values)
    )


def tidy(session: Session, now: datetime) -> list[Received]:
    """Forget commands done long ago; give up those that failed MAX_ATTEMPTS times (each
    logged as an error), and return them."""
    session.execute(delete(INTAKE).where(INTAKE.c.done_at < now - DONE_MEMORY))
    given_up = session.execute(
        update(INTAKE)
        .where(
            INTAKE.c.done_at.is_(None),
            INTAKE.c.claimed_until < now,
            INTAKE.c.attempts >= MAX_ATTEMPTS,
        )
        .values(done_at=now, claimed_until=None)
        .returning(*_RECEIVED)
    ).all()
    for row in given_up:
        log.error(
            "gave up intake %d (%s of %s) after %d attempts",
            row.id,
            row.kind,
            row.team_id,
            row.attempts,
        )
    return [Received(*row) for row in given_up]


def pending(session: Session) -> int:
    """Commands acknowledged and not yet done (held or lapsed)."""
    return session.execute(
        select(func.count()).select_from(INTAKE).where(INTAKE.c.done_at.is_(None))
    ).scalar_one()
