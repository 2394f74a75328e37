"""The intake on both databases: a command acknowledged to chat is stored once, held by the
process that received it, claimed by exactly one other once that lease lapses, and given up
after failing too often."""

from __future__ import annotations

import contextvars
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.engine import Engine

from core import clock, use_cases
from core.db import UnitOfWork
from core.errors import InvalidInput
from core.intake import MAX_ATTEMPTS, Command, Received
from core.models import Intake

RECEIVED = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
LEASE = 30.0
COACH = {"coach": LEASE}


def _hold(engine: Engine, delivery: str, owner: str = "serve-a") -> int | None:
    command = Command("T0001", "coach", delivery, {"text": f"@sdr-emea note {delivery}"}, LEASE)
    [held] = use_cases.receive(UnitOfWork(engine), [command], owner=owner)
    return held


def _claim(engine: Engine, owner: str, limit: int = 100) -> list[Received]:
    return use_cases.claim_intake(UnitOfWork(engine), COACH, owner=owner, limit=limit)


def _at(seconds: float) -> Callable[[], datetime]:
    return lambda: RECEIVED + timedelta(seconds=seconds)


def test_a_command_delivered_twice_is_held_once(engine: Engine) -> None:
    with clock.running_on(_at(0)):
        first = _hold(engine, "command:t1")
        again = _hold(engine, "command:t1")
        other = _hold(engine, "command:t2")

    assert first is not None and other is not None and first != other
    assert again is None
    with UnitOfWork(engine, readonly=True) as uow:
        assert len(uow.session.scalars(select(Intake)).all()) == 2


def test_the_same_delivery_twice_in_one_batch_is_held_once(engine: Engine) -> None:
    commands = [Command("T0001", "coach", f"command:t{n}", {"n": n}, LEASE) for n in (1, 2, 1)]
    with clock.running_on(_at(0)):
        first, second, again = use_cases.receive(UnitOfWork(engine), commands, owner="serve-a")

    assert first is not None and second is not None and again is None


def test_a_held_command_is_claimed_by_nobody_until_its_lease_lapses_then_by_one(
    engine: Engine,
) -> None:
    with clock.running_on(_at(0)):
        held = _hold(engine, "command:t1")
    with clock.running_on(_at(LEASE - 1)):
        assert _claim(engine, "serve-b") == []
    with clock.running_on(_at(LEASE + 1)):
        [taken] = _claim(engine, "serve-b")
        assert _claim(engine, "serve-c") == []  # serve-b holds it now

    assert (taken.id, taken.attempts, taken.received_at) == (held, 2, RECEIVED)
    assert taken.payload == {"text": "@sdr-emea note command:t1"}


def test_a_command_marked_done_is_never_claimed_again(engine: Engine) -> None:
    with clock.running_on(_at(0)):
        held = _hold(engine, "command:t1")
        assert held is not None
        use_cases.intake_done(UnitOfWork(engine), [held])
    with clock.running_on(_at(LEASE * 10)):
        assert _claim(engine, "serve-b") == []


def test_a_command_two_holders_did_is_finished_by_the_first_and_never_claimed_again(
    engine: Engine,
) -> None:
    # Its first holder's lease lapsed while it still worked: a sweep took it over, and both
    # did the work. Only the one that finishes it first answers its person.
    with clock.running_on(_at(0)):
        held = _hold(engine, "command:t1")
    with clock.running_on(_at(LEASE + 1)):
        [taken] = _claim(engine, "serve-b")
    assert held is not None and taken.id == held

    with clock.running_on(_at(LEASE + 2)):
        first = use_cases.finish_intake(UnitOfWork(engine), taken.id)
        second = use_cases.finish_intake(UnitOfWork(engine), held)
    with clock.running_on(_at(3600)):
        assert _claim(engine, "serve-c") == []

    assert (first, second) == (True, False)


def test_a_released_command_is_claimed_by_the_next_sweep(engine: Engine) -> None:
    with clock.running_on(_at(0)):
        held = _hold(engine, "command:t1")
        assert held is not None
        use_cases.release_intake(UnitOfWork(engine), [held])
        assert [taken.id for taken in _claim(engine, "serve-b")] == [held]


def test_a_command_that_keeps_failing_is_given_up(engine: Engine) -> None:
    with clock.running_on(_at(0)):
        _hold(engine, "command:t1")
    claims = []
    for attempt in range(1, MAX_ATTEMPTS + 2):
        with clock.running_on(_at(attempt * (LEASE + 1))):
            claims.append(len(_claim(engine, f"serve-{attempt}")))

    # Held once by its receiver, claimed MAX_ATTEMPTS - 1 times, then given up (done).
    assert claims == [1] * (MAX_ATTEMPTS - 1) + [0, 0]
    with UnitOfWork(engine, readonly=True) as uow:
        [row] = uow.session.scalars(select(Intake)).all()
        assert row.done_at is not None and row.attempts == MAX_ATTEMPTS


def test_concurrent_sweeps_never_share_a_command(engine: Engine) -> None:
    with clock.running_on(_at(0)):
        held = {_hold(engine, f"command:t{n}") for n in range(60)}
    claimed: list[list[Received]] = [[] for _ in range(6)]
    barrier = threading.Barrier(6)

    def sweeper(slot: int) -> None:
        barrier.wait(timeout=10)
        for _ in range(10):
            claimed[slot] += _claim(engine, f"serve-{slot}", limit=3)

    with clock.running_on(_at(LEASE + 1)):
        # Each thread on the clock set here (a thread starts with an empty context).
        threads = [
            threading.Thread(target=contextvars.copy_context().run, args=(sweeper, slot))
            for slot in range(6)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)

    ids = [received.id for taken in claimed for received in taken]
    assert len(ids) == len(set(ids)) == 60 and set(ids) == held


def test_a_command_released_untried_is_not_counted_as_an_attempt(engine: Engine) -> None:
    # A sweep that claims a note when its queue is full gives it back: never given up for it.
    with clock.running_on(_at(0)):
        held = _hold(engine, "command:t1")
    for sweep in range(1, MAX_ATTEMPTS * 2):
        with clock.running_on(_at(sweep * (LEASE + 1))):
            [taken] = _claim(engine, f"serve-{sweep}")
            use_cases.release_intake(UnitOfWork(engine), [taken.id], untried=True)

    assert taken.id == held and taken.attempts == 2


def test_a_command_with_text_no_database_stores_is_its_senders_error_before_any_batch() -> None:
    with pytest.raises(InvalidInput, match="text: contains a NUL"):
        Command("T0001", "coach", "delivery-1", {"text": "Lead with\x00 compliance"}, 30.0)
    with pytest.raises(InvalidInput, match="words"):
        Command("T0001", "brain", "delivery-2", {"words": {"nested": ["\x00"]}}, 30.0)
