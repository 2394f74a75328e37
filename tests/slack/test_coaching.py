"""The queue of /coach notes stored after the ack: stored together, each delivery once, and
every note taken confirmed before the queue closes."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable

from sqlalchemy.engine import Engine

from bot.after_ack import Traffic
from bot.listeners.commands.coach import CoachCommand as Note
from bot.listeners.commands.coach import coaching_queue, store_many
from core import memory
from core.coaching import Coaching, coach
from core.db import UnitOfWork, make_engine
from tests.conftest import EMEA_MANAGER, World
from tests.fakes.slack_api import FakeSlack


def _note(n: int, slack: FakeSlack) -> Note:
    url = slack.response_url(f"n{n}")
    return Note("T0001", EMEA_MANAGER, "C1", f"@sdr-emea Note {n}", f"t{n}", url)


def _contents(uow: Callable[..., UnitOfWork], world: World) -> list[str]:
    with uow(readonly=True) as u:
        return sorted(b.content for b in memory.list_blocks(u.session, world.workspace))


def test_notes_taken_are_stored_and_confirmed_when_the_queue_closes(
    engine: Engine, slack: FakeSlack, uow: Callable[..., UnitOfWork], world: World
) -> None:
    coaching = coaching_queue(engine)
    notes = [_note(n, slack) for n in range(20)]
    assert all(coaching.offer(note) for note in notes)
    coaching.close()

    assert not coaching.offer(_note(99, slack))
    assert _contents(uow, world) == sorted(f"Note {n}" for n in range(20))
    assert all(len(slack.responses(f"n{n}")) == 1 for n in range(20))


def test_a_delivery_stored_meanwhile_by_another_process_is_not_stored_again(
    engine: Engine, slack: FakeSlack, uow: Callable[..., UnitOfWork], world: World
) -> None:
    note = _note(1, slack)
    other = make_engine(engine.url.render_as_string(hide_password=False))  # another process's
    answers: list[object] = []
    with UnitOfWork(other) as u:
        workspace = u.session.merge(world.workspace)
        [first] = coach(u.session, workspace, [note.note()])
        assert isinstance(first, Coaching)
        # This process stores the same delivery while the other has not committed it yet:
        # it waits for the other's write, then finds the delivery stored (PostgreSQL: its
        # batch fails on the delivery's key, and the note is stored on its own).
        storing = threading.Thread(target=lambda: answers.extend(store_many(engine, [note])))
        storing.start()
        time.sleep(0.3)
    storing.join(timeout=30)
    other.dispose()

    assert answers == [None]
    assert _contents(uow, world) == ["Note 1"]


def test_when_the_oldest_note_has_waited_too_long_the_queue_takes_no_more_until_it_is_told(
    engine: Engine, slack: FakeSlack, uow: Callable[..., UnitOfWork], world: World
) -> None:
    coaching = coaching_queue(engine, lag=0.2)
    with socket.socket() as silent:  # a Slack that takes the confirmation and never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        url = f"http://127.0.0.1:{silent.getsockname()[1]}/"
        assert coaching.offer(Note("T0001", EMEA_MANAGER, "C1", "@sdr-emea Stuck", "t0", url))
        time.sleep(0.3)

        assert not coaching.has_room
        assert not coaching.offer(_note(1, slack))  # the caller keeps it (in the intake)

    # Slack went away: the stuck confirmation failed (and was logged); there is room again.
    assert coaching.join()
    assert coaching.offer(_note(2, slack))
    coaching.close()
    assert len(slack.responses("n2")) == 1
    assert slack.responses("n1") == []
    assert _contents(uow, world) == ["Note 2", "Stuck"]


def test_notes_wait_while_requests_are_in_flight_then_are_stored_and_told_once(
    engine: Engine, slack: FakeSlack, uow: Callable[..., UnitOfWork], world: World
) -> None:
    traffic = Traffic(defer=3600)
    coaching = coaching_queue(engine, traffic=traffic)
    traffic.arrived()
    assert all(coaching.offer(_note(n, slack)) for n in range(3))

    assert not coaching.join(timeout=0.3)  # an ack is in flight: its CPU comes first
    assert _contents(uow, world) == []
    traffic.left()
    assert coaching.join()
    coaching.close()

    assert _contents(uow, world) == ["Note 0", "Note 1", "Note 2"]
    assert all(len(slack.responses(f"n{n}")) == 1 for n in range(3))


def test_notes_deferred_by_traffic_that_never_pauses_are_done_after_the_deferral(
    engine: Engine, slack: FakeSlack, uow: Callable[..., UnitOfWork], world: World
) -> None:
    traffic = Traffic(defer=0.2)
    coaching = coaching_queue(engine, traffic=traffic)
    traffic.arrived()  # and never leaves
    assert coaching.offer(_note(1, slack))

    assert coaching.join()
    coaching.close()
    assert _contents(uow, world) == ["Note 1"]
    assert len(slack.responses("n1")) == 1


def test_closing_again_does_not_wait_again_for_a_stuck_confirmation(
    engine: Engine, slack: FakeSlack, uow: Callable[..., UnitOfWork], world: World
) -> None:
    coaching = coaching_queue(engine)
    with socket.socket() as silent:  # a Slack that takes the confirmation and never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        url = f"http://127.0.0.1:{silent.getsockname()[1]}/"
        assert coaching.offer(Note("T0001", EMEA_MANAGER, "C1", "@sdr-emea Stuck", "t0", url))

        started = time.monotonic()
        coaching.close(timeout=1.0)
        first = time.monotonic() - started
        coaching.close(timeout=1.0)  # as `serve --http` does: on shutdown, then on exit
        second = time.monotonic() - started - first

    assert first >= 1.0 and second < 0.5
    assert _contents(uow, world) == ["Stuck"]
