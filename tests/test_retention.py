"""Retention: delivered reports and old delivery ids are forgotten; nothing still waiting,
and no cycle, is."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

from sqlalchemy import select, update
from sqlalchemy.engine import Engine

from core import clock, deliveries, retention, use_cases
from core.db import UnitOfWork, unit_of_work
from core.models import Cycle, EventDelivery, OutboxMessage, OutboxStatus
from tests.conftest import World
from tests.test_cli import Run, run
from tests.test_heartbeat_outbox import T0, _queue

__all__ = ["run"]  # the command line's fixture, used here too


def _age(engine: Engine, message_id: int, status: OutboxStatus, days: float) -> None:
    at = T0 - timedelta(days=days)
    with unit_of_work(engine) as session:
        session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.id == message_id)
            .values(
                status=status,
                created_at=at,
                delivered_at=at if status is OutboxStatus.DELIVERED else None,
            )
        )


def test_reports_delivered_before_the_retention_are_forgotten_and_their_cycles_kept(
    engine: Engine, world: World
) -> None:
    with clock.frozen_at(T0):
        old, recent, waiting, failed, blocked = _queue(engine, world, count=5, channel="C0001")
    _age(engine, old, OutboxStatus.DELIVERED, 8)
    _age(engine, recent, OutboxStatus.DELIVERED, 6)
    _age(engine, waiting, OutboxStatus.PENDING, 30)
    _age(engine, failed, OutboxStatus.FAILED, 30)
    _age(engine, blocked, OutboxStatus.BLOCKED, 30)

    pruned = retention.prune(engine, now=T0, outbox_days=7)

    assert pruned.reports == 1
    with unit_of_work(engine, readonly=True) as session:
        left = set(session.scalars(select(OutboxMessage.id)))
        assert left == {recent, waiting, failed, blocked}
        assert len(session.scalars(select(Cycle)).all()) == 5
    assert retention.prune(engine, now=T0, outbox_days=7).reports == 0


def test_a_large_backlog_is_forgotten_in_several_batches(engine: Engine, world: World) -> None:
    with clock.frozen_at(T0):
        ids = _queue(engine, world, count=7, channel="C0001")
    for message_id in ids:
        _age(engine, message_id, OutboxStatus.DELIVERED, 10)
    small = retention.BATCH
    retention.BATCH = 3
    try:
        assert retention.prune(engine, now=T0, outbox_days=7).reports == 7
    finally:
        retention.BATCH = small


def test_delivery_ids_too_old_to_be_retried_are_forgotten_in_every_workspace(
    engine: Engine, uow: Callable[..., UnitOfWork], world: World
) -> None:
    with unit_of_work(engine) as session:
        for workspace in (world.workspace, world.other_workspace):
            # (The newer first: recording one forgets its workspace's ids a day older.)
            with clock.frozen_at(T0 - timedelta(hours=1)):
                deliveries.first_delivery(session, session.merge(workspace), "EvNEW")
            with clock.frozen_at(T0 - timedelta(days=2)):
                deliveries.first_delivery(session, session.merge(workspace), "EvOLD")

    with clock.frozen_at(T0):
        pruned = use_cases.prune(uow(), outbox_days=7)

    assert pruned.deliveries == 2
    with unit_of_work(engine, readonly=True) as session:
        assert sorted(session.scalars(select(EventDelivery.event_id))) == ["EvNEW", "EvNEW"]


def test_db_prune_says_what_it_forgot(run: Run) -> None:
    result = run("db", "prune")
    assert result.code == 0, result.err
    assert result.out == (
        "forgot 0 report(s) delivered more than 7 days ago and 0 old Slack delivery id(s)\n"
    )
