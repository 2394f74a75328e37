"""The outbox: stored before delivery, retried with backoff, never delivered twice."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.engine import Engine

from core import clock
from core.db import unit_of_work
from core.heartbeat import outbox
from core.heartbeat.config import HeartbeatSettings
from core.heartbeat.outbox import Delivery, DeliveryFailed, Envelope
from core.models import (
    Cycle,
    CycleStatus,
    CycleTrigger,
    OutboxMessage,
    OutboxStatus,
)
from tests.conftest import World

T0 = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
SETTINGS = HeartbeatSettings(outbox_retry_base_seconds=30, outbox_retry_max_seconds=120)


class RecordingSink:
    """Delivers to a list; fails the first `failures` attempts."""

    def __init__(self, kind: str = "console", failures: int = 0, permanent: bool = False) -> None:
        self.kind = kind
        self.failures = failures
        self.permanent = permanent
        self.delivered: list[Envelope] = []
        self._lock = threading.Lock()

    def deliver(self, envelope: Envelope) -> Delivery:
        with self._lock:
            if self.failures:
                self.failures -= 1
                raise DeliveryFailed("channel unreachable", permanent=self.permanent)
            self.delivered.append(envelope)
        if self.kind == "slack":
            return Delivery(channel=envelope.address, ts=f"1700000000.{envelope.id:06d}")
        return Delivery()


def _queue(engine: Engine, world: World, count: int = 1, channel: str | None = None) -> list[int]:
    ids = []
    with unit_of_work(engine) as session:
        for number in range(count):
            cycle = Cycle(
                workspace_id=world.workspace.id,
                agent_id=world.sdr.id,
                status=CycleStatus.SUCCEEDED,
                trigger=CycleTrigger.SCHEDULE,
                task=f"task {number}",
                backend="offline",
                model="claude-sonnet-5-5",
                started_at=clock.now(),
            )
            session.add(cycle)
            session.flush()
            text = f"report {number}"
            ids.append(outbox.queue(session, cycle, channel, lambda text=text: text))
    return ids


def _messages(engine: Engine) -> dict[int, OutboxMessage]:
    with unit_of_work(engine, readonly=True) as session:
        return {m.id: m for m in session.scalars(select(OutboxMessage))}


def test_a_queued_report_is_delivered_once(engine: Engine, world: World) -> None:
    sink = RecordingSink()
    with clock.frozen_at(T0):
        [message_id] = _queue(engine, world)
        first = outbox.deliver_pending(engine, [sink], SETTINGS, "w1")
        second = outbox.deliver_pending(engine, [sink], SETTINGS, "w1")
    assert (first.delivered, second.delivered) == (1, 0)
    assert [e.text for e in sink.delivered] == ["report 0"]
    message = _messages(engine)[message_id]
    assert (message.status, message.attempts, message.delivered_at) == (
        OutboxStatus.DELIVERED,
        1,
        T0,
    )


def test_a_failed_delivery_stays_queued_and_is_retried_with_backoff(
    engine: Engine, world: World
) -> None:
    sink = RecordingSink(failures=2)
    with clock.frozen_at(T0):
        [message_id] = _queue(engine, world)
        assert outbox.deliver_pending(engine, [sink], SETTINGS, "w1").retrying == 1
    message = _messages(engine)[message_id]
    assert message.status is OutboxStatus.PENDING
    assert message.last_error == "channel unreachable"
    assert message.next_attempt_at == T0 + timedelta(seconds=30)

    with clock.frozen_at(T0 + timedelta(seconds=29)):  # not yet due
        assert outbox.deliver_pending(engine, [sink], SETTINGS, "w1").retrying == 0
    with clock.frozen_at(T0 + timedelta(seconds=30)):
        assert outbox.deliver_pending(engine, [sink], SETTINGS, "w1").retrying == 1
    assert _messages(engine)[message_id].next_attempt_at == T0 + timedelta(seconds=90)
    with clock.frozen_at(T0 + timedelta(seconds=90)):
        assert outbox.deliver_pending(engine, [sink], SETTINGS, "w1").delivered == 1
    with clock.frozen_at(T0 + timedelta(hours=1)):
        assert outbox.deliver_pending(engine, [sink], SETTINGS, "w1").delivered == 0
    assert len(sink.delivered) == 1
    assert _messages(engine)[message_id].attempts == 3


def test_a_permanent_failure_is_marked_failed_and_not_retried(engine: Engine, world: World) -> None:
    sink = RecordingSink(failures=1, permanent=True)
    with clock.frozen_at(T0):
        [message_id] = _queue(engine, world)
        assert outbox.deliver_pending(engine, [sink], SETTINGS, "w1").failed == 1
    with clock.frozen_at(T0 + timedelta(days=1)):
        assert outbox.deliver_pending(engine, [sink], SETTINGS, "w1").delivered == 0
    assert _messages(engine)[message_id].status is OutboxStatus.FAILED


def test_reports_for_a_slack_channel_wait_for_a_slack_sink(engine: Engine, world: World) -> None:
    console, slack = RecordingSink("console"), RecordingSink("slack")
    with clock.frozen_at(T0):
        [for_slack] = _queue(engine, world, channel="C0001")
        assert outbox.deliver_pending(engine, [console], SETTINGS, "w1").delivered == 0
        assert outbox.deliver_pending(engine, [slack], SETTINGS, "w1").delivered == 1
    assert slack.delivered[0].destination == "slack:C0001"
    with unit_of_work(engine, readonly=True) as session:
        cycle = session.scalars(select(Cycle)).one()
        assert (cycle.slack_channel, cycle.slack_ts) == ("C0001", f"1700000000.{for_slack:06d}")


def test_concurrent_deliverers_send_each_report_exactly_once(engine: Engine, world: World) -> None:
    sink = RecordingSink()
    with clock.frozen_at(T0):
        queued = _queue(engine, world, count=40)
    small = SETTINGS.model_copy(update={"outbox_batch": 3})
    barrier = threading.Barrier(4)

    def deliverer(name: str) -> None:
        barrier.wait(timeout=10)
        with clock.frozen_at(T0):
            for _ in range(30):
                outbox.deliver_pending(engine, [sink], small, name)

    threads = [threading.Thread(target=deliverer, args=(f"w{n}",)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert sorted(e.id for e in sink.delivered) == sorted(queued)
    assert {m.status for m in _messages(engine).values()} == {OutboxStatus.DELIVERED}


class MeetingSink(RecordingSink):
    """A Slack sink whose posts wait (bounded) until `expected` channels are being posted to
    at once; it notes any channel that got two posts at once."""

    def __init__(self, expected: int) -> None:
        super().__init__("slack")
        self.meeting = threading.Barrier(expected)
        self.met = 0
        self.sending: set[str] = set()
        self.overlapped: list[str] = []

    def deliver(self, envelope: Envelope) -> Delivery:
        with self._lock:
            if envelope.address in self.sending:
                self.overlapped.append(envelope.address)
            self.sending.add(envelope.address)
        try:
            self.meeting.wait(timeout=10)
            with self._lock:
                self.met += 1
        except threading.BrokenBarrierError:
            pass  # not all channels at once: `met` stays short of the posts
        finally:
            with self._lock:
                self.sending.discard(envelope.address)
        return super().deliver(envelope)


def test_a_batch_is_sent_to_several_channels_at_once_and_to_each_channel_in_order(
    engine: Engine, world: World
) -> None:
    channels = ["C0001", "C0002", "C0003"]
    sink = MeetingSink(expected=len(channels))
    with clock.frozen_at(T0):
        queued = {channel: _queue(engine, world, count=2, channel=channel) for channel in channels}
        run = outbox.deliver_pending(
            engine, [sink], SETTINGS.model_copy(update={"outbox_senders": 3}), "w1"
        )
    assert run.delivered == 6
    # Every post met the other channels' posts: the three channels were sent to at once.
    assert sink.met == 6 and not sink.overlapped
    for channel, ids in queued.items():
        assert [e.id for e in sink.delivered if e.address == channel] == ids
    assert {m.status for m in _messages(engine).values()} == {OutboxStatus.DELIVERED}


def test_a_pass_claims_batches_until_the_backlog_is_delivered(engine: Engine, world: World) -> None:
    sink = RecordingSink("slack")
    with clock.frozen_at(T0):
        queued = _queue(engine, world, count=7, channel="C0001")
        run = outbox.deliver_pending(
            engine, [sink], SETTINGS.model_copy(update={"outbox_batch": 3}), "w1"
        )
    assert run.delivered == 7
    assert [e.id for e in sink.delivered] == queued
