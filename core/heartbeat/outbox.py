"""The outbox: reports are stored with their cycle, then delivered by sinks with retries.

A report is queued in the cycle's own transaction, so a delivery outage delays it and loses
nothing. Deliverers claim due messages with a short lease (SKIP LOCKED on PostgreSQL), so
two processes never send the same message at once; a delivered message is never claimed
again. A failed delivery stays queued and is retried with exponential backoff; a sink that
knows the failure is permanent (the channel is gone) marks it failed.

A batch is claimed at once, but each message's claim is renewed just before it is sent, and
only while the claim is still this deliverer's: a message whose claim lapsed while earlier
ones were being sent, and that another deliverer took meanwhile, is left to that deliverer.
So two deliverers never send the same message, however slow the sink. A message tried before
(a failure, or a claim that lapsed because its deliverer died) is `resumed`: a sink that can
look (Slack's channel history) checks whether it was sent before sending it again.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol, TextIO, cast

from sqlalchemy import Table, and_, case, func, insert, or_, select, update
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from core import clock
from core.db import unit_of_work
from core.heartbeat.config import HeartbeatSettings
from core.heartbeat.leases import lease_owner
from core.models import Cycle, OutboxMessage, OutboxStatus

CONSOLE = "console"
OUTBOX = cast(Table, OutboxMessage.__table__)
# Built once (it runs in every cycle's write transaction): see core/heartbeat/leases.py.
_QUEUE = insert(OUTBOX).returning(OUTBOX.c.id)


def destination_for(channel: str | None) -> str:
    """Where an agent's reports go: its Slack channel, else the console of the runner."""
    return f"slack:{channel}" if channel else CONSOLE


class Addressed:
    """A message's destination read as its kind ("slack", "console") and address (C0001)."""

    destination: str

    @property
    def kind(self) -> str:
        return self.destination.split(":", 1)[0]

    @property
    def address(self) -> str:
        return self.destination.split(":", 1)[1] if ":" in self.destination else ""


@dataclass(frozen=True)
class Envelope(Addressed):
    """A claimed message, detached from the session, as a sink receives it."""

    id: int
    workspace_id: int
    cycle_id: int
    destination: str
    text: str
    attempts: int
    owner: str

    @property
    def resumed(self) -> bool:
        """Tried before (a failure, or a claim that lapsed): it may have been sent already."""
        return self.attempts > 0


@dataclass(frozen=True)
class Delivery:
    """Where a message landed: for Slack, the channel and the message ts."""

    channel: str | None = None
    ts: str | None = None


class DeliveryFailed(Exception):
    """A sink could not deliver; `permanent` when retrying cannot help."""

    def __init__(self, message: str, *, permanent: bool = False) -> None:
        super().__init__(message)
        self.message = message
        self.permanent = permanent


class Sink(Protocol):
    """Delivers messages of one destination kind ("console", "slack")."""

    kind: str

    def deliver(self, envelope: Envelope) -> Delivery:
        """Send it, or raise DeliveryFailed."""
        ...


class ConsoleSink:
    """Prints reports meant for the console (agents without a report channel)."""

    kind = CONSOLE

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream

    def deliver(self, envelope: Envelope) -> Delivery:
        self.stream.write(envelope.text.rstrip() + "\n\n")
        self.stream.flush()
        return Delivery()


@dataclass
class DeliveryRun:
    """What one pass over the outbox did."""

    delivered: int = 0
    retrying: int = 0
    failed: int = 0
    # Claimed in the batch but taken by another deliverer before their turn came: not sent.
    lost: int = 0


def queue(session: Session, cycle: Cycle, text: str, channel: str | None) -> int:
    """Store a cycle's report for delivery (in the cycle's own transaction); its id."""
    message = {
        "workspace_id": cycle.workspace_id,
        "cycle_id": cycle.id,
        "destination": destination_for(channel),
        "text": text,
        "status": OutboxStatus.PENDING,
        "attempts": 0,
        "next_attempt_at": clock.now(),
    }
    # A Core statement: cheaper than the ORM's unit of work, in the cycle's write transaction
    # (SQLite's one writer waits for it).
    inserted = session.execute(_QUEUE, message)
    return int(inserted.scalar_one())


def claim(
    session: Session,
    worker: str,
    kinds: Sequence[str],
    *,
    now: datetime,
    limit: int,
    claim_seconds: float,
) -> list[Envelope]:
    """Lease due messages of the given destination kinds to this worker."""
    owner = lease_owner(worker)
    routed = or_(
        *(
            OutboxMessage.destination == kind
            if kind == CONSOLE
            else OutboxMessage.destination.startswith(f"{kind}:")
            for kind in kinds
        )
    )
    due = and_(
        OutboxMessage.status == OutboxStatus.PENDING,
        OutboxMessage.next_attempt_at <= now,
        or_(OutboxMessage.claimed_until.is_(None), OutboxMessage.claimed_until < now),
        routed,
    )
    chosen = (
        select(OutboxMessage.id)
        .where(due)
        .order_by(OutboxMessage.next_attempt_at, OutboxMessage.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
        .cte("chosen")
    )
    rows = session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.id.in_(select(chosen.c.id)), due)
        .values(
            claimed_by=owner,
            claimed_until=now + timedelta(seconds=claim_seconds),
            # A claim that lapsed (its deliverer died or stalled) counts as an attempt: the
            # message may have been sent, and the sink looks before it sends it again.
            attempts=case(
                (OutboxMessage.claimed_by.is_not(None), OutboxMessage.attempts + 1),
                else_=OutboxMessage.attempts,
            ),
        )
        .returning(
            OutboxMessage.id,
            OutboxMessage.workspace_id,
            OutboxMessage.cycle_id,
            OutboxMessage.destination,
            OutboxMessage.text,
            OutboxMessage.attempts,
        ),
        execution_options={"synchronize_session": False},
    ).all()
    return sorted((Envelope(*row, owner=owner) for row in rows), key=lambda envelope: envelope.id)


def renew(session: Session, envelope: Envelope, *, now: datetime, claim_seconds: float) -> bool:
    """Extend this deliverer's claim on one message before sending it; False when the claim
    is no longer ours (it lapsed and another deliverer took the message, or it was sent)."""
    renewed = session.execute(
        update(OutboxMessage)
        .where(
            OutboxMessage.id == envelope.id,
            OutboxMessage.claimed_by == envelope.owner,
            OutboxMessage.status == OutboxStatus.PENDING,
        )
        .values(claimed_until=now + timedelta(seconds=claim_seconds))
        .returning(OutboxMessage.id),
        execution_options={"synchronize_session": False},
    ).first()
    return renewed is not None


def record_delivery(session: Session, envelope: Envelope, delivery: Delivery) -> bool:
    """Mark a message delivered (once: only by the claim that sent it)."""
    now = clock.now()
    done = session.execute(
        update(OutboxMessage)
        .where(
            OutboxMessage.id == envelope.id,
            OutboxMessage.claimed_by == envelope.owner,
            OutboxMessage.status == OutboxStatus.PENDING,
        )
        .values(
            status=OutboxStatus.DELIVERED,
            attempts=OutboxMessage.attempts + 1,
            delivered_at=now,
            delivered_ref=f"{delivery.channel}:{delivery.ts}" if delivery.ts else None,
            claimed_by=None,
            claimed_until=None,
            last_error=None,
        )
        .returning(OutboxMessage.id),
        execution_options={"synchronize_session": False},
    ).first()
    if done is not None and delivery.ts:
        session.execute(
            update(Cycle)
            .where(Cycle.id == envelope.cycle_id)
            .values(slack_channel=delivery.channel, slack_ts=delivery.ts),
            execution_options={"synchronize_session": False},
        )
    return done is not None


def record_failure(
    session: Session, envelope: Envelope, failure: DeliveryFailed, settings: HeartbeatSettings
) -> OutboxStatus:
    """Keep a failed message queued with backoff, or mark it failed when it cannot succeed."""
    attempts = envelope.attempts + 1
    delay = min(
        settings.outbox_retry_base_seconds * 2 ** (attempts - 1), settings.outbox_retry_max_seconds
    )
    status = OutboxStatus.FAILED if failure.permanent else OutboxStatus.PENDING
    session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.id == envelope.id, OutboxMessage.claimed_by == envelope.owner)
        .values(
            status=status,
            attempts=attempts,
            next_attempt_at=clock.now() + timedelta(seconds=delay),
            claimed_by=None,
            claimed_until=None,
            last_error=failure.message[:2000],
        ),
        execution_options={"synchronize_session": False},
    )
    return status


def deliver_pending(
    engine: Engine, sinks: Sequence[Sink], settings: HeartbeatSettings, worker: str
) -> DeliveryRun:
    """Deliver what is due through the sinks; each message in its own small transactions."""
    run = DeliveryRun()
    by_kind = {sink.kind: sink for sink in sinks}
    if not by_kind:
        return run
    with unit_of_work(engine) as session:
        envelopes = claim(
            session,
            worker,
            list(by_kind),
            now=clock.now(),
            limit=settings.outbox_batch,
            claim_seconds=settings.outbox_claim_seconds,
        )
    for envelope in envelopes:
        with unit_of_work(engine) as session:
            ours = renew(
                session, envelope, now=clock.now(), claim_seconds=settings.outbox_claim_seconds
            )
        if not ours:
            run.lost += 1
            continue
        try:
            delivery = _attempt(by_kind[envelope.kind], envelope)
        except DeliveryFailed as failure:
            with unit_of_work(engine) as session:
                status = record_failure(session, envelope, failure, settings)
            if status is OutboxStatus.FAILED:
                run.failed += 1
            else:
                run.retrying += 1
            continue
        with unit_of_work(engine) as session:
            record_delivery(session, envelope, delivery)
        run.delivered += 1
    return run


def _attempt(sink: Sink, envelope: Envelope) -> Delivery:
    try:
        return sink.deliver(envelope)
    except DeliveryFailed:
        raise
    except Exception as error:  # a sink's unexpected error is retried like any outage
        raise DeliveryFailed(f"{type(error).__name__}: {error}") from error


def pending_count(session: Session, workspace_id: int | None = None) -> int:
    """Messages still waiting for delivery (of one workspace, or of all)."""
    waiting = select(func.count()).where(OutboxMessage.status == OutboxStatus.PENDING)
    if workspace_id is not None:
        waiting = waiting.where(OutboxMessage.workspace_id == workspace_id)
    return session.scalar(waiting) or 0
