"""Notices: what salesbrain posts on its own (a team's weekly digest, a coaching note flagged
to its author), stored before they are posted, each under a key stored once.

The key is what makes a notice happen once: two scheduler ticks, or two workers, that both
decide this week's digest is due both try to store "digest:emea:2026-11-30"; the second
finds it stored and posts nothing. Delivery claims one notice at a time with a short lease
(an UPDATE that only one deliverer wins), so a notice is posted by one deliverer; a failed
post stays pending and is tried again later, with backoff.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import TextIO

from sqlalchemy import and_, or_, select, update
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from core import clock
from core.db import unit_of_work
from core.heartbeat.leases import lease_owner
from core.heartbeat.outbox import Addressed
from core.models import Notice, OutboxStatus, Workspace

CLAIM_SECONDS = 120.0
RETRY_BASE_SECONDS = 30.0
RETRY_MAX_SECONDS = 3600.0
BATCH = 20
# Posts a claimed notice (or raises PostFailed); returns where it landed, if known.
Post = Callable[["Pending"], str | None]


class PostFailed(Exception):
    """A post that failed; `permanent` when retrying cannot help."""

    def __init__(self, message: str, *, permanent: bool = False) -> None:
        super().__init__(message)
        self.message = message
        self.permanent = permanent


@dataclass(frozen=True)
class Pending(Addressed):
    """A claimed notice, as a poster receives it."""

    id: int
    workspace_id: int
    key: str
    destination: str
    text: str


class ConsolePoster:
    """Prints the notices meant for the console (a team with no channel)."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream

    def __call__(self, pending: Pending) -> str | None:
        self.stream.write(pending.text.rstrip() + "\n\n")
        self.stream.flush()
        return None


def post_once(
    session: Session, workspace: Workspace, key: str, destination: str, text: str
) -> bool:
    """Store a notice for delivery unless one with `key` is stored already: whether it is new."""
    if session.scalar(
        select(Notice.id).where(Notice.workspace_id == workspace.id, Notice.key == key)
    ):
        return False
    try:
        with session.begin_nested():
            session.add(
                Notice(
                    workspace_id=workspace.id,
                    key=key,
                    destination=destination,
                    text=text,
                    status=OutboxStatus.PENDING,
                    attempts=0,
                    next_attempt_at=clock.now(),
                )
            )
    except IntegrityError:
        return False  # another worker stored it first
    return True


def deliver_notices(engine: Engine, posts: dict[str, Post], worker: str) -> int:
    """Post the due notices whose destination kind has a poster; how many were posted."""
    owner, posted = lease_owner(worker), 0
    for _ in range(BATCH):
        with unit_of_work(engine) as session:
            pending = _claim(session, owner, list(posts))
        if pending is None:
            return posted
        try:
            ref = posts[pending.kind](pending)
        except PostFailed as failure:
            with unit_of_work(engine) as session:
                _failed(session, pending, owner, failure)
            continue
        with unit_of_work(engine) as session:
            session.execute(
                update(Notice)
                .where(Notice.id == pending.id, Notice.claimed_by == owner)
                .values(
                    status=OutboxStatus.DELIVERED,
                    attempts=Notice.attempts + 1,
                    delivered_at=clock.now(),
                    delivered_ref=ref,
                    claimed_by=None,
                    claimed_until=None,
                    last_error=None,
                )
            )
        posted += 1
    return posted


def _claim(session: Session, owner: str, kinds: list[str]) -> Pending | None:
    now = clock.now()
    routed = or_(
        *(Notice.destination == kind for kind in kinds),
        *(Notice.destination.startswith(f"{kind}:") for kind in kinds),
    )
    due = and_(
        Notice.status == OutboxStatus.PENDING,
        Notice.next_attempt_at <= now,
        or_(Notice.claimed_until.is_(None), Notice.claimed_until < now),
        routed,
    )
    for notice_id in session.scalars(select(Notice.id).where(due).order_by(Notice.id).limit(5)):
        won = session.execute(
            update(Notice)
            .where(Notice.id == notice_id, due)
            .values(claimed_by=owner, claimed_until=now + timedelta(seconds=CLAIM_SECONDS))
            .returning(Notice.id, Notice.workspace_id, Notice.key, Notice.destination, Notice.text),
            execution_options={"synchronize_session": False},
        ).first()
        if won is not None:
            return Pending(*won)
    return None


def _failed(session: Session, pending: Pending, owner: str, failure: PostFailed) -> None:
    attempts = session.scalar(select(Notice.attempts).where(Notice.id == pending.id)) or 0
    delay = min(RETRY_BASE_SECONDS * 2**attempts, RETRY_MAX_SECONDS)
    session.execute(
        update(Notice)
        .where(Notice.id == pending.id, Notice.claimed_by == owner)
        .values(
            status=OutboxStatus.FAILED if failure.permanent else OutboxStatus.PENDING,
            attempts=attempts + 1,
            next_attempt_at=clock.now() + timedelta(seconds=delay),
            claimed_by=None,
            claimed_until=None,
            last_error=failure.message[:2000],
        )
    )
