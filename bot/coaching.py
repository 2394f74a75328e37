"""/coach notes stored after the ack.

Slack is answered at once; the note waits on a bounded queue for the thread that stores it,
and the person is then told, in one ephemeral line through the command's response URL,
which block now holds it and whom it reaches, or what is wrong with it. With 50 commands in
flight a process answers each in about 50 times the CPU time of one, so an ack that waited
for the unit of work could not be fast; the ack alone costs a fraction of a millisecond.

The queue is full when its oldest note has waited two seconds for its confirmation: a note
then goes into the next batch, ahead of those already acknowledged, and its ack waits for it
and carries the confirmation (or the error), as before the queue: slower, never dropped. The
notes that wait are stored together, one transaction for all. A command delivered twice (a
retry) stores its note once: its trigger id is recorded as a delivery in the note's own
transaction.
"""

from __future__ import annotations

import atexit
import contextlib
import itertools
import logging
import queue
import threading
import time
import weakref
from collections import OrderedDict, deque
from collections.abc import Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any

from slack_bolt import BoltContext
from slack_sdk.errors import SlackRequestError
from slack_sdk.http_retry.builtin_handlers import (
    ConnectionErrorRetryHandler,
    RateLimitErrorRetryHandler,
    ServerErrorRetryHandler,
)
from slack_sdk.webhook import WebhookClient
from sqlalchemy.engine import Engine

from bot import blocks
from bot.workspace import DRAIN_SECONDS, ORIGIN, workspace_of
from core import chat
from core.db import UnitOfWork
from core.errors import DomainError, Refusal
from core.memory import Coaching
from core.permissions import Actor

# When the oldest note taken has waited this long for its confirmation, a new note is stored
# before its ack (ahead of the others): a person waits about as long as Slack waits for an ack.
LAG_SECONDS = 2.0
# Notes taken at most, whatever their age: a bound on memory (each holds up to 4,000
# characters).
CAPACITY = 10_000
# Notes stored in one transaction at most.
BATCH = 100
# Posts to response URLs at once: each waits a round trip to Slack (~0.1 s from afar).
TELLERS = 8

log = logging.getLogger("salesbrain.slack")


@dataclass(frozen=True)
class Note:
    """A `/coach @agent <note>` command, as it waits to be stored."""

    team_id: str
    user_id: str
    channel_id: str
    text: str
    trigger_id: str
    response_url: str

    def in_chat(self) -> chat.ChatNote:
        return chat.ChatNote(
            self.text,
            Actor.member(self.user_id, origin=ORIGIN),
            source_ref=f"slack:/coach {self.channel_id}".strip(),
            delivery=f"command:{self.trigger_id}" if self.trigger_id else None,
        )

    @classmethod
    def from_command(cls, command: dict[str, Any], context: BoltContext) -> Note:
        return cls(
            team_id=str(context.team_id),
            user_id=str(context.user_id),
            channel_id=str(command.get("channel_id") or ""),
            text=str(command.get("text") or ""),
            trigger_id=str(command.get("trigger_id") or ""),
            response_url=str(command.get("response_url") or ""),
        )


def store(engine: Engine, note: Note) -> blocks.Message | None:
    """Store one note now, in a unit of work of its own: the confirmation, or None when this
    delivery of the command was stored before. Its error is raised (a refusal is audited)."""
    with UnitOfWork(engine) as uow:
        workspace = workspace_of(uow.session, note.team_id)
        [outcome] = chat.coach_many(uow.session, workspace, [note.in_chat()])
        if isinstance(outcome, DomainError):
            raise outcome
        return _confirmation(outcome)


def store_many(engine: Engine, notes: Sequence[Note]) -> list[blocks.Message | None]:
    """Store notes together, one unit of work per workspace: what to tell each person (the
    confirmation or the error), or None for a delivery stored before."""
    replies: list[blocks.Message | None] = [None] * len(notes)
    by_team: dict[str, list[int]] = {}
    for index, note in enumerate(notes):
        by_team.setdefault(note.team_id, []).append(index)
    for team_id, indexes in by_team.items():
        group = [notes[i] for i in indexes]
        try:
            told = _store_together(engine, team_id, group)
        except Exception as error:
            # The notes could not be written together (a delivery stored meanwhile by another
            # process, a database error): each on its own, so that one cannot fail the rest.
            log.warning("storing %d notes together failed (%s)", len(group), type(error).__name__)
            told = [_store_alone(engine, note) for note in group]
        for i, reply in zip(indexes, told, strict=True):
            replies[i] = reply
    return replies


def _store_together(engine: Engine, team_id: str, notes: list[Note]) -> list[blocks.Message | None]:
    try:
        with UnitOfWork(engine) as uow:
            workspace = workspace_of(uow.session, team_id)
            outcomes = chat.coach_many(uow.session, workspace, [n.in_chat() for n in notes])
            replies = [_reply(outcome) for outcome in outcomes]
    except DomainError as error:  # the workspace is not set up
        return [blocks.line(blocks.error_text(error))] * len(notes)
    for refusal in (outcome for outcome in outcomes if isinstance(outcome, Refusal)):
        # Raised in a unit of work of its own, which records it in the audit log.
        with contextlib.suppress(Refusal), UnitOfWork(engine):
            raise refusal
    return replies


def _store_alone(engine: Engine, note: Note) -> blocks.Message | None:
    try:
        return store(engine, note)
    except Exception as error:
        return _reply(error)


def _reply(outcome: Coaching | Exception | None) -> blocks.Message | None:
    if outcome is None or isinstance(outcome, Coaching):
        return _confirmation(outcome)
    if not isinstance(outcome, DomainError):
        log.error("storing a note failed", exc_info=outcome)
    return blocks.line(blocks.error_text(outcome))


def _confirmation(coaching: Coaching | None) -> blocks.Message | None:
    return None if coaching is None else blocks.coached(coaching)


@dataclass
class _Taken:
    """A note in the queue: when it was taken, and the ack waiting for it, if one does."""

    note: Note
    at: float
    answer: Future[blocks.Message | None] | None = None


class CoachingQueue:
    """Notes waiting to be stored (one thread stores them, together) and confirmations
    waiting to be posted (a few threads post them).

    The queue is full when its oldest note has waited `lag` seconds for its confirmation (or
    `capacity` notes wait): a bound on what a person waits for, however fast this machine
    stores and Slack takes the confirmations."""

    def __init__(
        self,
        engine: Engine,
        capacity: int = CAPACITY,
        lag: float = LAG_SECONDS,
        tellers: int = TELLERS,
    ):
        self.engine = engine
        self.capacity = capacity
        self.lag = lag
        self._tellers = tellers
        self._changed = threading.Condition()
        # The notes taken and not yet confirmed, oldest first, by number.
        self._taken: OrderedDict[int, _Taken] = OrderedDict()
        self._numbers = itertools.count()
        # Waiting to be stored: notes whose ack waits go first.
        self._first: deque[int] = deque()
        self._then: deque[int] = deque()
        self._replies: queue.SimpleQueue[tuple[int, Note, blocks.Message]] = queue.SimpleQueue()
        self._started = False
        self._closed = False
        # The notes already taken are stored and confirmed before the process exits.
        atexit.register(_close_if_alive, weakref.ref(self))

    def offer(self, note: Note) -> bool:
        """Take the note to store after the ack; False when the queue is full (or closed)."""
        with self._changed:
            if self._closed or not self._has_room():
                return False
            self._then.append(self._take(note))
        return True

    def store_now(self, note: Note, timeout: float) -> blocks.Message | None:
        """For a full queue: store the note in the next batch, ahead of the notes already
        acknowledged, and return what to tell the person in the ack (None for a delivery
        stored before). Past `timeout`, it stays queued and is told through its response
        URL (None then too)."""
        answer: Future[blocks.Message | None] = Future()
        with self._changed:
            if self._closed:
                return _store_alone(self.engine, note)
            self._first.append(self._take(note, answer))
        try:
            return answer.result(timeout)
        except TimeoutError:
            if answer.cancel():
                return None
            return answer.result()  # the storer had just taken it

    @property
    def waiting(self) -> int:
        """Notes taken and not yet confirmed."""
        with self._changed:
            return len(self._taken)

    def join(self, timeout: float = DRAIN_SECONDS) -> bool:
        """Wait until every note taken is stored and confirmed; False if `timeout` passed."""
        with self._changed:
            return self._changed.wait_for(lambda: not self._taken, timeout)

    def close(self, timeout: float = DRAIN_SECONDS) -> None:
        """Take no more notes; store and confirm those taken (waiting at most `timeout`)."""
        with self._changed:
            if self._closed:
                return  # `serve --http` closes on shutting down the app and again on exit
            self._closed = True
        if not self.join(timeout):
            log.warning("%d coaching notes were not confirmed before shutting down", self.waiting)

    def _has_room(self) -> bool:
        if len(self._taken) >= self.capacity:
            return False
        oldest = next(iter(self._taken.values()), None)
        return oldest is None or time.monotonic() - oldest.at < self.lag

    def _take(self, note: Note, answer: Future[blocks.Message | None] | None = None) -> int:
        number = next(self._numbers)
        self._taken[number] = _Taken(note, time.monotonic(), answer)
        if not self._started:
            self._start()
        self._changed.notify_all()
        return number

    def _start(self) -> None:
        # Daemon threads, so that an idle queue never holds the process up; `close` (at
        # exit) waits for the notes taken.
        workers = [("coach-storer", self._store_all)]
        workers += [(f"coach-teller-{n}", self._tell_all) for n in range(self._tellers)]
        for name, target in workers:
            threading.Thread(target=target, name=name, daemon=True).start()
        self._started = True

    def _done(self, number: int) -> None:
        with self._changed:
            del self._taken[number]
            if not self._taken:
                self._changed.notify_all()

    def _next_batch(self) -> list[tuple[int, _Taken]]:
        with self._changed:
            self._changed.wait_for(lambda: self._first or self._then)
            numbers = []
            for waiting in (self._first, self._then):
                while waiting and len(numbers) < BATCH:
                    numbers.append(waiting.popleft())
            return [(number, self._taken[number]) for number in numbers]

    def _store_all(self) -> None:
        while True:
            # The notes that came meanwhile are stored together, in one transaction: a unit
            # of work costs about as much for one note as for fifty.
            batch = self._next_batch()
            notes = [taken.note for _, taken in batch]
            try:
                replies = store_many(self.engine, notes)
            except Exception as error:  # not even one by one: tell them all
                log.error("storing notes failed", exc_info=error)
                replies = [blocks.line(blocks.error_text(error))] * len(notes)
            for (number, taken), reply in zip(batch, replies, strict=True):
                if taken.answer is not None and taken.answer.set_running_or_notify_cancel():
                    taken.answer.set_result(reply)  # its ack tells the person
                    self._done(number)
                elif reply is None:
                    self._done(number)  # a repeated delivery: the first one is confirmed
                else:
                    self._replies.put((number, taken.note, reply))

    def _tell_all(self) -> None:
        while True:
            number, note, reply = self._replies.get()
            try:
                _tell(note, reply)
            finally:
                self._done(number)


def _tell(note: Note, reply: blocks.Message) -> None:
    """Post the reply to the person, ephemerally, through the command's response URL."""
    try:
        response = _webhook(note.response_url).send(
            response_type="ephemeral", replace_original=False, **reply
        )
    except (SlackRequestError, OSError) as error:
        log.warning("could not answer %s: %s", note.user_id, type(error).__name__)
        return
    if response.status_code != 200:
        log.warning("could not answer %s: %s %s", note.user_id, response.status_code, response.body)


def _webhook(response_url: str) -> WebhookClient:
    return WebhookClient(
        response_url,
        timeout=10,
        retry_handlers=[
            ConnectionErrorRetryHandler(max_retry_count=2),
            RateLimitErrorRetryHandler(max_retry_count=3),
            ServerErrorRetryHandler(max_retry_count=2),
        ],
    )


def _close_if_alive(reference: weakref.ref[CoachingQueue]) -> None:
    coaching = reference()
    if coaching is not None:
        coaching.close()
