"""Retention: what salesbrain forgets once nothing reads it any more.

A cycle's history is most of what the database grows by (SCALING.md, "Database size").
Two parts of it serve only delivery, and are forgotten here:
- a report delivered from the outbox: its cycle keeps where it landed (`slack_channel`,
  `slack_ts`), which is all that reactions, threads and `salesbrain cycles` read;
- an event or command id recorded to recognise Slack's retries, once it is too old to be
  retried (core/deliveries.py DELIVERY_MEMORY).
Reports not yet delivered (pending, blocked, failed) are kept whatever their age, and so are
cycles themselves: usage, coaching impact and `confirmed_by` read them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import CursorResult, Result, delete, select
from sqlalchemy.engine import Engine

from core.db import unit_of_work
from core.deliveries import DELIVERY_MEMORY
from core.models import EventDelivery, OutboxMessage, OutboxStatus

# Rows deleted per transaction: a first prune of a large table holds no long lock.
BATCH = 5000


@dataclass(frozen=True)
class Pruned:
    """What one prune forgot."""

    reports: int
    deliveries: int


def prune(engine: Engine, *, now: datetime, outbox_days: float) -> Pruned:
    """Forget reports delivered more than `outbox_days` ago (in batches, each its own
    transaction) and deliveries too old to be retried."""
    delivered_long_ago = (OutboxMessage.status == OutboxStatus.DELIVERED) & (
        OutboxMessage.delivered_at < now - timedelta(days=outbox_days)
    )
    reports = 0
    while True:
        with unit_of_work(engine) as session:
            batch = select(OutboxMessage.id).where(delivered_long_ago).limit(BATCH)
            count = _deleted(
                session.execute(delete(OutboxMessage).where(OutboxMessage.id.in_(batch)))
            )
        reports += count
        if count < BATCH:
            break
    with unit_of_work(engine) as session:
        # Each workspace forgets its own as its events arrive; this reaches the quiet ones.
        deliveries = _deleted(
            session.execute(
                delete(EventDelivery).where(EventDelivery.received_at < now - DELIVERY_MEMORY)
            )
        )
    return Pruned(reports=reports, deliveries=deliveries)


def _deleted(result: Result[Any]) -> int:
    return int(cast(CursorResult[Any], result).rowcount)
