"""The outbox: reports are stored with their cycle, then delivered by sinks with retries.

A report is queued in the cycle's own transaction, so a delivery outage delays it and loses
nothing. Deliverers claim due messages with a short lease (SKIP LOCKED on PostgreSQL), so
two processes never send the same message at once; a delivered message is never claimed
again. A failed delivery stays queued and is retried with exponential backoff; a sink that
knows the failure is permanent (the message itself is bad) marks it failed. One that only a
person can fix (the bot is not in the channel, the token was revoked) blocks the message's
destination instead (core/heartbeat/blocked.py): its reports wait, in order, and the people
who can fix it are told once.

A batch is claimed at once and sent by a few threads (`outbox_senders`), each taking one
destination's messages in order, so that a channel never gets two reports at once and a
slow or rate-limited channel holds up only itself. Claims are renewed once half of the
claim has passed, and a message is sent only while its claim is still this deliverer's: a
message whose claim lapsed while earlier ones were being sent, and that another deliverer
took meanwhile, is left to that deliverer. So two deliverers never send the same message,
however slow the sink. The batch's deliveries are recorded together, in one transaction. A
message tried before (a failure, or a claim that lapsed because its deliverer died) is
`resumed`: a sink that can look (Slack's channel history) checks whether it was sent before
sending it again.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextvars import copy_context
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Protocol, TextIO, cast

from sqlalchemy import ColumnElement, Table, and_, case, exists, func, insert, or_, select, update
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, aliased

from core import clock
from core.db import unit_of_work
from core.errors import InvalidInput, NotFound
from core.heartbeat import blocked
from core.heartbeat.config import HeartbeatSettings
from core.heartbeat.leases import lease_owner
from core.models import Agent, Cycle, OutboxMessage, OutboxStatus, Workspace

CONSOLE = "console"
log = logging.getLogger(__name__)
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
    text: str  # the console's report; empty for a Slack report (its cycle is the pointer)
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
    """A sink could not deliver; `permanent` when retrying cannot help; `blocking` (the
    destination's error code, e.g. not_in_channel) when only a person can fix it."""

    def __init__(
        self, message: str, *, permanent: bool = False, blocking: str | None = None
    ) -> None:
        super().__init__(message)
        self.message = message
        self.permanent = permanent
        self.blocking = blocking


class Sink(Protocol):
    """Delivers messages of one destination kind ("console", "slack")."""

    kind: str

    def deliver(self, envelope: Envelope) -> Delivery:
        """Send it, or raise DeliveryFailed."""
        ...

    def announce(self, notice: blocked.Notice) -> None:
        """Tell the people who can fix a blocked destination what to do (once per problem)."""
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

    def announce(self, notice: blocked.Notice) -> None:
        self.stream.write(f"reports to {notice.problem.destination} wait: {notice.problem.fix}\n")
        self.stream.flush()


@dataclass
class DeliveryRun:
    """What one pass over the outbox did."""

    delivered: int = 0
    retrying: int = 0
    failed: int = 0
    # Waiting for their destination to be fixed.
    blocked: int = 0
    # Claimed in the batch but taken by another deliverer before their turn came: not sent.
    lost: int = 0


def queue(session: Session, cycle: Cycle, channel: str | None, render: Callable[[], str]) -> int:
    """Store a cycle's report for delivery (in the cycle's own transaction); its id.

    The message holds either its final payload or a pointer to its cycle: the console's
    text is rendered now (`render`); a Slack report is the cycle id alone (`text` empty),
    which the Slack sink renders as Block Kit when it delivers, with the report's
    learnings as they are then."""
    message = {
        "workspace_id": cycle.workspace_id,
        "cycle_id": cycle.id,
        "destination": destination_for(channel),
        "text": "" if channel else render(),
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
    # A blocked message is due again only to probe its destination, and only the oldest of
    # it: nothing newer goes out to a blocked destination, so that reports arrive in order.
    older = aliased(OutboxMessage)
    held = exists().where(
        older.workspace_id == OutboxMessage.workspace_id,
        older.destination == OutboxMessage.destination,
        older.status == OutboxStatus.BLOCKED,
        older.id < OutboxMessage.id,
    )
    due = and_(
        OutboxMessage.status.in_((OutboxStatus.PENDING, OutboxStatus.BLOCKED)),
        OutboxMessage.next_attempt_at <= now,
        or_(OutboxMessage.claimed_until.is_(None), OutboxMessage.claimed_until < now),
        routed,
        ~held,
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
            status=OutboxStatus.PENDING,
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


def renew(
    session: Session, envelopes: Sequence[Envelope], *, now: datetime, claim_seconds: float
) -> set[int]:
    """Extend this deliverer's claims on messages (those sent and not yet recorded too); the
    ids still ours (not those whose claim lapsed and that another deliverer took)."""
    if not envelopes:
        return set()
    renewed = session.execute(
        update(OutboxMessage)
        .where(
            OutboxMessage.id.in_([envelope.id for envelope in envelopes]),
            OutboxMessage.claimed_by == envelopes[0].owner,
            OutboxMessage.status == OutboxStatus.PENDING,
        )
        .values(claimed_until=now + timedelta(seconds=claim_seconds))
        .returning(OutboxMessage.id),
        execution_options={"synchronize_session": False},
    ).all()
    return {row.id for row in renewed}


def release(session: Session, envelopes: Sequence[Envelope]) -> None:
    """Give up this deliverer's claims on messages it did not send (they are due again)."""
    if not envelopes:
        return
    session.execute(
        update(OutboxMessage)
        .where(
            OutboxMessage.id.in_([envelope.id for envelope in envelopes]),
            OutboxMessage.claimed_by == envelopes[0].owner,
            OutboxMessage.status == OutboxStatus.PENDING,
        )
        .values(claimed_by=None, claimed_until=None),
        execution_options={"synchronize_session": False},
    )


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
    if done is not None and envelope.resumed:
        # Tried before, perhaps blocked: the destination takes reports again, so whatever
        # waits for it goes out now, in order.
        blocked.release(session, envelope.workspace_id, envelope.destination)
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
    """Keep a failed message queued with backoff, mark it failed when it cannot succeed, or
    blocked (its destination's problem opened) when a person must fix the destination."""
    attempts = envelope.attempts + 1
    delay = min(
        settings.outbox_retry_base_seconds * 2 ** (attempts - 1), settings.outbox_retry_max_seconds
    )
    status = OutboxStatus.FAILED if failure.permanent else OutboxStatus.PENDING
    if failure.blocking is not None:
        status, delay = OutboxStatus.BLOCKED, settings.outbox_blocked_probe_seconds
        blocked.open_problem(
            session, envelope.workspace_id, envelope.destination, failure.blocking, failure.message
        )
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


# A pass claims batch after batch while they come back full, at most this many: a backlog
# drains at the senders' pace, and the notices delivered after the reports still get their
# turn.
BATCHES_PER_PASS = 10


def deliver_pending(
    engine: Engine, sinks: Sequence[Sink], settings: HeartbeatSettings, worker: str
) -> DeliveryRun:
    """Deliver what is due through the sinks: each claimed batch sent by a few threads, one
    destination's messages in order by one thread, and its deliveries recorded together."""
    run = DeliveryRun()
    by_kind = {sink.kind: sink for sink in sinks}
    if not by_kind:
        return run
    for _ in range(BATCHES_PER_PASS):
        claimed_at = clock.now()
        with unit_of_work(engine) as session:
            envelopes = claim(
                session,
                worker,
                list(by_kind),
                now=claimed_at,
                limit=settings.outbox_batch,
                claim_seconds=settings.outbox_claim_seconds,
            )
        if not envelopes:
            break
        _send_batch(engine, by_kind, settings, envelopes, claimed_at, run)
        if len(envelopes) < settings.outbox_batch:
            break
    return run


def _send_batch(
    engine: Engine,
    by_kind: dict[str, Sink],
    settings: HeartbeatSettings,
    envelopes: list[Envelope],
    claimed_at: datetime,
    run: DeliveryRun,
) -> None:
    """Send a claimed batch, a destination per thread, then record what was delivered in one
    transaction. A deliverer that dies before that transaction leaves its claims to lapse:
    the next deliverer resumes those messages, and the sink finds what Slack already has."""
    by_destination: dict[str, list[Envelope]] = {}
    for envelope in envelopes:
        by_destination.setdefault(envelope.destination, []).append(envelope)
    queues = list(by_destination.values())

    def send(queue: list[Envelope]) -> _Sent:
        return _send_in_order(engine, by_kind[queue[0].kind], settings, queue, claimed_at)

    senders = min(settings.outbox_senders, len(queues))
    if senders == 1:
        sent = [send(queue) for queue in queues]
    else:
        # Each sender runs on the caller's clock (a context variable: a simulated day).
        contexts = [copy_context() for _ in queues]
        with ThreadPoolExecutor(senders, thread_name_prefix="outbox-sender") as pool:
            sent = list(pool.map(lambda c, q: c.run(send, q), contexts, queues))
    delivered = [pair for one in sent for pair in one.delivered]
    if delivered:
        with unit_of_work(engine) as session:
            # Not ours any more (its claim lapsed during a long batch): the deliverer that
            # took it found it sent, and counts it.
            run.delivered += sum(record_delivery(session, *pair) for pair in delivered)
    for one in sent:
        run.retrying += one.retrying
        run.failed += one.failed
        run.blocked += one.blocked
        run.lost += one.lost


@dataclass
class _Sent:
    """What one sender did with one destination's messages."""

    delivered: list[tuple[Envelope, Delivery]] = field(default_factory=list)
    retrying: int = 0
    failed: int = 0
    blocked: int = 0
    lost: int = 0


def _send_in_order(
    engine: Engine,
    sink: Sink,
    settings: HeartbeatSettings,
    queue: list[Envelope],
    claimed_at: datetime,
) -> _Sent:
    """One destination's messages, oldest first. Their claims (of those sent too, which the
    batch records later) are renewed together once half of the claim has passed, and only
    messages still ours are sent: one whose claim lapsed and that another deliverer took is
    left to it. A destination found blocked takes nothing more: the rest of its messages
    wait behind the blocked one, in order."""
    sent = _Sent()
    half = timedelta(seconds=settings.outbox_claim_seconds / 2)
    fresh_until = claimed_at + half
    ours = {envelope.id for envelope in queue}
    for index, envelope in enumerate(queue):
        if clock.now() >= fresh_until:
            renewed_at = clock.now()
            with unit_of_work(engine) as session:
                # The ones sent too: they are recorded with the batch, after the last send.
                ours = renew(
                    session,
                    queue,
                    now=renewed_at,
                    claim_seconds=settings.outbox_claim_seconds,
                )
            fresh_until = renewed_at + half
        if envelope.id not in ours:
            sent.lost += 1
            continue
        try:
            delivery = _attempt(sink, envelope)
        except DeliveryFailed as failure:
            with unit_of_work(engine) as session:
                status = record_failure(session, envelope, failure, settings)
                notice = (
                    blocked.claim_notice(session, envelope.workspace_id, envelope.destination)
                    if status is OutboxStatus.BLOCKED
                    else None
                )
                if status is OutboxStatus.BLOCKED:
                    release(session, queue[index + 1 :])
            if notice is not None:
                _announce(sink, notice)
            if status is OutboxStatus.FAILED:
                sent.failed += 1
            elif status is OutboxStatus.BLOCKED:
                sent.blocked += 1
                break
            else:
                sent.retrying += 1
            continue
        sent.delivered.append((envelope, delivery))
    return sent


def _attempt(sink: Sink, envelope: Envelope) -> Delivery:
    try:
        return sink.deliver(envelope)
    except DeliveryFailed:
        raise
    except Exception as error:  # a sink's unexpected error is retried like any outage
        raise DeliveryFailed(f"{type(error).__name__}: {error}") from error


def _announce(sink: Sink, notice: blocked.Notice) -> None:
    try:
        sink.announce(notice)
    except Exception:  # the reports still wait; `salesbrain outbox list` shows the problem
        log.exception("telling about %s failed", notice.problem.destination)


def pending_count(session: Session, workspace_id: int | None = None) -> int:
    """Messages still waiting for delivery, or for their destination to be fixed (of one
    workspace, or of all)."""
    waiting = select(func.count()).where(
        OutboxMessage.status.in_((OutboxStatus.PENDING, OutboxStatus.BLOCKED))
    )
    if workspace_id is not None:
        waiting = waiting.where(OutboxMessage.workspace_id == workspace_id)
    return session.scalar(waiting) or 0


@dataclass(frozen=True)
class Listed:
    """One outbox message as the operator sees it."""

    id: int
    cycle_id: int
    agent: str
    destination: str
    status: str
    attempts: int
    last_error: str | None
    created_at: datetime
    next_attempt_at: datetime
    delivered_at: datetime | None


UNDELIVERED = (OutboxStatus.FAILED, OutboxStatus.BLOCKED)


def list_messages(
    session: Session, workspace: Workspace, *, failed: bool = False, limit: int = 50
) -> list[Listed]:
    """The workspace's latest reports in the outbox (only those that failed or wait for a
    fix: `failed`), newest first."""
    query = (
        select(OutboxMessage, Agent.handle)
        .join(Cycle, Cycle.id == OutboxMessage.cycle_id)
        .join(Agent, Agent.id == Cycle.agent_id)
        .where(OutboxMessage.workspace_id == workspace.id)
    )
    if failed:
        query = query.where(OutboxMessage.status.in_(UNDELIVERED))
    rows = session.execute(query.order_by(OutboxMessage.id.desc()).limit(limit))
    return [
        Listed(
            id=message.id,
            cycle_id=message.cycle_id,
            agent=handle,
            destination=message.destination,
            status=message.status.value,
            attempts=message.attempts,
            last_error=message.last_error,
            created_at=message.created_at,
            next_attempt_at=message.next_attempt_at,
            delivered_at=message.delivered_at,
        )
        for message, handle in rows
    ]


def retry(session: Session, workspace: Workspace, message_id: int | None) -> int:
    """Make a report that failed or waits for a fix due now (with every report waiting for
    the same destination, in order), or every such report of the workspace (None); how
    many are due now. One that still cannot go out waits again, without a second notice."""
    if message_id is None:
        released = blocked.release(session, workspace.id)
        return released + _due_now(session, workspace, OutboxMessage.status == OutboxStatus.FAILED)
    message = session.scalar(
        select(OutboxMessage).where(
            OutboxMessage.workspace_id == workspace.id, OutboxMessage.id == message_id
        )
    )
    if message is None:
        raise NotFound(f"outbox message {message_id} not found: see `salesbrain outbox list`")
    if message.status is OutboxStatus.DELIVERED:
        raise InvalidInput("id", f"outbox message {message_id} was delivered already")
    if message.status is OutboxStatus.BLOCKED:
        return blocked.release(session, workspace.id, message.destination)
    return _due_now(session, workspace, OutboxMessage.id == message_id)


def _due_now(session: Session, workspace: Workspace, which: ColumnElement[bool]) -> int:
    rows = session.execute(
        update(OutboxMessage)
        .where(
            OutboxMessage.workspace_id == workspace.id,
            OutboxMessage.status.in_((OutboxStatus.PENDING, OutboxStatus.FAILED)),
            which,
        )
        .values(status=OutboxStatus.PENDING, next_attempt_at=clock.now())
        .returning(OutboxMessage.id),
        execution_options={"synchronize_session": False},
    ).all()
    return len(rows)
