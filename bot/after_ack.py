"""Work a listener promised in its ack, done after it: a batcher and a few worker threads.

Neither knows what the work is. `Batcher` takes items (a /coach note) to handle together,
after the ack, and tells each person the outcome; `AfterAck` runs single pieces of slow work
(a cycle run now). Both drain on shutdown: what was taken is done before the process exits
(at most DRAIN_SECONDS).
"""

from __future__ import annotations

import atexit
import itertools
import logging
import queue
import threading
import time
import weakref
from collections import OrderedDict, deque
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Generic, TypeVar

# How long shutting down waits for the work taken after acks.
DRAIN_SECONDS = 10.0
# Slow pieces of work (cycles run now) at once, after their acks.
LATER_WORKERS = 2

T = TypeVar("T")
R = TypeVar("R")

log = logging.getLogger("salesbrain.slack")


@dataclass(frozen=True)
class Handling(Generic[T, R]):
    """What a batcher does with its items: `handle` a batch (for each item what to tell its
    person, None for nothing), `tell` one person, and the reply to an unexpected `failure`."""

    handle: Callable[[Sequence[T]], list[R | None]]
    tell: Callable[[T, R], None]
    failure: Callable[[Exception], R]


@dataclass
class _Taken(Generic[T, R]):
    """An item in the queue: when it was taken, and the ack waiting for it, if one does."""

    item: T
    at: float
    answer: Future[R | None] | None = None


class Batcher(Generic[T, R]):
    """Items waiting to be handled (one thread handles them, together) and replies waiting to
    be told (a few threads tell them).

    The queue is full when its oldest item has waited `lag` seconds for its reply (or
    `capacity` items wait): a bound on what a person waits for, however fast the handling
    and the telling go. An item that finds it full is handled in the next batch, ahead of
    the others, and its ack waits for it (`handle_now`)."""

    def __init__(
        self,
        handling: Handling[T, R],
        *,
        capacity: int,
        lag: float,
        batch: int,
        tellers: int,
        name: str = "batcher",
    ) -> None:
        self.handling = handling
        self.capacity = capacity
        self.lag = lag
        self._batch = batch
        self._tellers = tellers
        self._name = name
        self._changed = threading.Condition()
        # The items taken and not yet told, oldest first, by number.
        self._taken: OrderedDict[int, _Taken[T, R]] = OrderedDict()
        self._numbers = itertools.count()
        # Waiting to be handled: items whose ack waits go first.
        self._first: deque[int] = deque()
        self._then: deque[int] = deque()
        self._replies: queue.SimpleQueue[tuple[int, T, R]] = queue.SimpleQueue()
        self._started = False
        self._closed = False
        # The items already taken are handled and told before the process exits.
        atexit.register(_close_if_alive, weakref.ref(self))

    def offer(self, item: T) -> bool:
        """Take the item to handle after the ack; False when the queue is full (or closed)."""
        with self._changed:
            if self._closed or not self._has_room():
                return False
            self._then.append(self._take(item))
        return True

    def handle_now(self, item: T, timeout: float) -> R | None:
        """For a full queue: handle the item in the next batch, ahead of the items already
        acknowledged, and return what to tell the person in the ack. Past `timeout`, it
        stays queued and is told later (None then)."""
        answer: Future[R | None] = Future()
        with self._changed:
            if self._closed:
                return self._handle([item])[0]
            self._first.append(self._take(item, answer))
        try:
            return answer.result(timeout)
        except TimeoutError:
            if answer.cancel():
                return None
            return answer.result()  # the handler had just taken it

    @property
    def waiting(self) -> int:
        """Items taken and not yet told."""
        with self._changed:
            return len(self._taken)

    def join(self, timeout: float = DRAIN_SECONDS) -> bool:
        """Wait until every item taken is handled and told; False if `timeout` passed."""
        with self._changed:
            return self._changed.wait_for(lambda: not self._taken, timeout)

    def close(self, timeout: float = DRAIN_SECONDS) -> None:
        """Take no more items; handle and tell those taken (waiting at most `timeout`)."""
        with self._changed:
            if self._closed:
                return  # `serve --http` closes on shutting down the app and again on exit
            self._closed = True
        if not self.join(timeout):
            log.warning("%d %s items were not done before shutting down", self.waiting, self._name)

    def _handle(self, items: Sequence[T]) -> list[R | None]:
        try:
            return self.handling.handle(items)
        except Exception as error:  # tell them all
            log.error("%s: handling %d items failed", self._name, len(items), exc_info=error)
            return [self.handling.failure(error)] * len(items)

    def _has_room(self) -> bool:
        if len(self._taken) >= self.capacity:
            return False
        oldest = next(iter(self._taken.values()), None)
        return oldest is None or time.monotonic() - oldest.at < self.lag

    def _take(self, item: T, answer: Future[R | None] | None = None) -> int:
        number = next(self._numbers)
        self._taken[number] = _Taken(item, time.monotonic(), answer)
        if not self._started:
            self._start()
        self._changed.notify_all()
        return number

    def _start(self) -> None:
        # Daemon threads, so that an idle queue never holds the process up; `close` (at
        # exit) waits for the items taken.
        workers = [(f"{self._name}-handler", self._handle_all)]
        workers += [(f"{self._name}-teller-{n}", self._tell_all) for n in range(self._tellers)]
        for name, target in workers:
            threading.Thread(target=target, name=name, daemon=True).start()
        self._started = True

    def _done(self, number: int) -> None:
        with self._changed:
            del self._taken[number]
            if not self._taken:
                self._changed.notify_all()

    def _next_batch(self) -> list[tuple[int, _Taken[T, R]]]:
        with self._changed:
            self._changed.wait_for(lambda: self._first or self._then)
            numbers = []
            for waiting in (self._first, self._then):
                while waiting and len(numbers) < self._batch:
                    numbers.append(waiting.popleft())
            return [(number, self._taken[number]) for number in numbers]

    def _handle_all(self) -> None:
        while True:
            # The items that came meanwhile are handled together: a transaction costs about
            # as much for one item as for fifty.
            batch = self._next_batch()
            replies = self._handle([taken.item for _, taken in batch])
            for (number, taken), reply in zip(batch, replies, strict=True):
                if taken.answer is not None and taken.answer.set_running_or_notify_cancel():
                    taken.answer.set_result(reply)  # its ack tells the person
                    self._done(number)
                elif reply is None:
                    self._done(number)  # nothing to tell
                else:
                    self._replies.put((number, taken.item, reply))

    def _tell_all(self) -> None:
        while True:
            number, item, reply = self._replies.get()
            try:
                self.handling.tell(item, reply)
            except Exception:
                log.exception("%s: telling a reply failed", self._name)
            finally:
                self._done(number)


def _close_if_alive(reference: weakref.ref[Batcher[T, R]]) -> None:
    batcher = reference()
    if batcher is not None:
        batcher.close()


class AfterAck:
    """Work a listener promised in its ack (a cycle run now), done by a few threads after it.

    Daemon threads: the interpreter joins a ThreadPoolExecutor's threads at exit however long
    they take, so a stuck Slack or model call would hold a stopping server; `close` waits for
    the work taken at most DRAIN_SECONDS."""

    def __init__(self, workers: int = LATER_WORKERS) -> None:
        self._workers = workers
        self._work: queue.SimpleQueue[Callable[[], None]] = queue.SimpleQueue()
        self._changed = threading.Condition()
        self._waiting = 0  # taken and not yet done
        self._started = False
        self._closed = False

    def offer(self, work: Callable[[], None]) -> bool:
        """Take `work` to do after the ack; False once closed (the server is stopping)."""
        with self._changed:
            if self._closed:
                return False
            if not self._started:
                for n in range(self._workers):
                    name = f"after-ack-{n}"
                    threading.Thread(target=self._do_all, name=name, daemon=True).start()
                self._started = True
            self._waiting += 1
        self._work.put(work)
        return True

    def close(self, timeout: float = DRAIN_SECONDS) -> None:
        """Take no more work; wait for the work taken (at most `timeout`)."""
        with self._changed:
            if self._closed:
                return  # `serve --http` closes on shutting down the app and again on exit
            self._closed = True
            if not self._changed.wait_for(lambda: not self._waiting, timeout):
                log.warning("shutting down with answers promised in acks unsent: %d", self._waiting)

    def _do_all(self) -> None:
        while True:
            work = self._work.get()
            try:
                work()
            except Exception:
                log.exception("work after an ack failed")
            finally:
                with self._changed:
                    self._waiting -= 1
                    self._changed.notify_all()
