"""Chat deliveries handled once: a Slack retry or duplicate of an event or command is
recognised by its id and acknowledged, not applied again."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from core import clock
from core.models import EventDelivery, Workspace

# Slack retries an event for up to about an hour; a day of ids is plenty to recognise one.
DELIVERY_MEMORY = timedelta(days=1)


def first_delivery(session: Session, workspace: Workspace, event_id: str) -> bool:
    """Record that an event is being handled; False when it was handled before."""
    now = _forget_old_deliveries(session, workspace)
    try:
        # A savepoint, so that a duplicate leaves the rest of the unit of work usable.
        with session.begin_nested():
            session.add(
                EventDelivery(workspace_id=workspace.id, event_id=event_id, received_at=now)
            )
    except IntegrityError:
        return False
    return True


def _forget_old_deliveries(session: Session, workspace: Workspace) -> datetime:
    """Forget deliveries too old to be retried; the time now."""
    now = clock.now()
    session.execute(
        delete(EventDelivery).where(
            EventDelivery.workspace_id == workspace.id,
            EventDelivery.received_at < now - DELIVERY_MEMORY,
        )
    )
    return now


def delivered(session: Session, workspace: Workspace, deliveries: list[str]) -> set[str]:
    """Which of these deliveries were handled before."""
    if not deliveries:
        return set()
    return set(
        session.scalars(
            select(EventDelivery.event_id).where(
                EventDelivery.workspace_id == workspace.id,
                EventDelivery.event_id.in_(deliveries),
            )
        )
    )


def remember_deliveries(session: Session, workspace: Workspace, deliveries: Sequence[str]) -> None:
    """Record deliveries handled in this unit of work (checked with `delivered` first)."""
    if not deliveries:
        return  # (nothing to forget either: notes from the command line and forms)
    now = _forget_old_deliveries(session, workspace)
    session.add_all(
        EventDelivery(workspace_id=workspace.id, event_id=event_id, received_at=now)
        for event_id in deliveries
    )
    session.flush()
