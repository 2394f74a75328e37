"""Work a listener promised in its ack, done after it: a batcher and a few worker threads.

Neither knows what the work is. `Batcher` takes items (a /coach note) to handle together,
after the ack, and tells each person the outcome; `AfterAck` runs single pieces of slow work
(a cycle run now). Both drain on shutdown: what was taken is done before the process exits
(at most DRAIN_SECONDS).

Acks first: Python runs one thread at a time, so work done after an ack while other acks
wait takes their CPU (with 50 requests in flight, an ack waits for about 50 times the CPU
of everything the process does per request). Both wait their turn (`Traffic`): the work
starts when no request has been in flight for a moment (CALM_SECONDS), or once it has
waited DEFER_SECONDS (a bound on how long a person waits for a confirmation in a burst).
What they wait on is durable: each command is held in the intake before its ack
(bot/intake.py).
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
from dataclasses import dataclass
from typing import Generic, TypeVar

# How long shutting down waits for the work taken after acks.
DRAIN_SECONDS = 10.0
# Slow pieces of work (cycles run now) at once, after their acks.
LATER_WORKERS = 2
# How long work after an ack waits for a moment with no request in flight; then it is done
# however many acks wait (under a load that never pauses, it keeps up from that far behind).
DEFER_SECONDS = 5.0
# How long no request must have been in flight for work after acks to take its turn. Acks
# answered together (the intake's writer holds a batch of commands at once) can leave none
# in flight for an instant in the middle of a burst, before their senders' next requests
# arrive: a batch of notes stored in that instant held up the acks that came next (a p99
# twice the p50 in bench/slack_ack.py).
CALM_SECONDS = 0.02

T = TypeVar("T")
R = TypeVar("R")

log = logging.getLogger("salesbrain.slack")


class Traffic:
    """The requests in flight in this process (the HTTP server counts them), for work after
    an ack to wait its turn: `wait_turn` returns once none has been in flight for `calm`
    seconds, or at a deadline. Without a server counting (Socket Mode, tests), no request
    is ever in flight."""

    def __init__(self, defer: float = DEFER_SECONDS, calm: float = CALM_SECONDS) -> None:
        self.defer = defer
        self.calm = calm
        self._in_flight = 0
        self._last_left = float("-inf")
        self._quiet = threading.Condition()

    def arrived(self) -> None:
        """A request came in."""
        with self._quiet:
            self._in_flight += 1

    def left(self) -> None:
        """A request was answered (or failed)."""
        with self._quiet:
            self._in_flight -= 1
            self._last_left = time.monotonic()
            if not self._in_flight:
                self._quiet.notify_all()

    @property
    def in_flight(self) -> int:
        """Requests in flight now."""
        return self._in_flight

    def wait_turn(self, since: float) -> None:
        """Wait until no request has been in flight for `calm` seconds, or until `defer`
        seconds after `since` (a `time.monotonic()`: when the work was taken)."""
        with self._quiet:
            while True:
                now = time.monotonic()
                left = since + self.defer - now
                if left <= 0:
                    return
                if self._in_flight:
                    self._quiet.wait(left)
                    continue
                calm = self._last_left + self.calm - now
                if calm <= 0:
                    return
                self._quiet.wait(min(calm, left))


@dataclass(frozen=True)
class Handling(Generic[T, R]):
    """What a batcher does with its items: `handle` a batch (for each item what to tell its
    person, None for nothing), `tell` one person, and the reply to an unexpected `failure`."""

    handle: Callable[[Sequence[T]], list[R | None]]
    tell: Callable[[T, R], None]
    failure: Callable[[Exception], R]


@dataclass
class _Taken(Generic[T]):
    """An item in the queue, and when it was taken (a `time.monotonic()`)."""

    item: T
    at: float


class Batcher(Generic[T, R]):
    """Items waiting to be handled (one thread handles them, together) and replies waiting to
    be told (a few threads tell them), each in its turn (`traffic`: after the acks in flight).

    The queue is full when its oldest item has waited `lag` seconds for its reply (or
    `capacity` items wait): a bound on what a person waits for, however fast the handling
    and the telling go. What finds it full is the caller's to keep (the intake keeps it for
    a sweep, here or in another process)."""

    def __init__(
        self,
        handling: Handling[T, R],
        *,
        capacity: int,
        lag: float,
        batch: int,
        tellers: int,
        name: str = "batcher",
        traffic: Traffic | None = None,
    ) -> None:
        self.handling = handling
        self.traffic = traffic or Traffic()
        self.capacity = capacity
        self.lag = lag
        self._batch = batch
        self._tellers = tellers
        self._name = name
        self._changed = threading.Condition()
        # The items taken and not yet told, oldest first, by number.
        self._taken: OrderedDict[int, _Taken[T]] = OrderedDict()
        self._numbers = itertools.count()
        # Waiting to be handled, oldest first.
        self._waiting: deque[int] = deque()
        self._replies: queue.SimpleQueue[tuple[int, _Taken[T], R]] = queue.SimpleQueue()
        self._started = False
        self._closed = False
        # The items already taken are handled and told before the process exits.
        atexit.register(_close_if_alive, weakref.ref(self))

    def offer(self, item: T) -> bool:
        """Take the item to handle after the ack; False when the queue is full (or closed)."""
        with self._changed:
            if self._closed or not self._has_room():
                return False
            self._waiting.append(self._take(item))
        return True

    @property
    def has_room(self) -> bool:
        """Whether an item offered now would be taken."""
        with self._changed:
            return not self._closed and self._has_room()

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

    def _take(self, item: T) -> int:
        number = next(self._numbers)
        self._taken[number] = _Taken(item, time.monotonic())
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

    def _next_batch(self) -> list[tuple[int, _Taken[T]]]:
        with self._changed:
            self._changed.wait_for(lambda: self._waiting)
            oldest = self._taken[self._waiting[0]].at
        # Outside the lock: offers go on meanwhile, and are handled in this batch.
        self.traffic.wait_turn(since=oldest)
        with self._changed:
            numbers = []
            while self._waiting and len(numbers) < self._batch:
                numbers.append(self._waiting.popleft())
            return [(number, self._taken[number]) for number in numbers]

    def _handle_all(self) -> None:
        while True:
            # The items that came meanwhile are handled together: a transaction costs about
            # as much for one item as for fifty.
            batch = self._next_batch()
            replies = self._handle([taken.item for _, taken in batch])
            for (number, taken), reply in zip(batch, replies, strict=True):
                if reply is None:
                    self._done(number)  # nothing to tell
                else:
                    self._replies.put((number, taken, reply))

    def _tell_all(self) -> None:
        while True:
            number, taken, reply = self._replies.get()
            self.traffic.wait_turn(since=taken.at)
            try:
                self.handling.tell(taken.item, reply)
            except Exception:
                log.exception("%s: telling a reply failed", self._name)
            finally:
                self._done(number)


def _close_if_alive(reference: weakref.ref[Batcher[T, R]]) -> None:
    batcher = reference()
    if batcher is not None:
        batcher.close()


class AfterAck:
    """Work a listener promised in its ack (a cycle run now), done by a few threads after it,
    each piece in its turn (`traffic`: after the acks in flight, at most its deferral).

    Daemon threads: the interpreter joins a ThreadPoolExecutor's threads at exit however long
    they take, so a stuck Slack or model call would hold a stopping server; `close` waits for
    the work taken at most DRAIN_SECONDS."""

    def __init__(self, workers: int = LATER_WORKERS, traffic: Traffic | None = None) -> None:
        self._workers = workers
        self.traffic = traffic or Traffic()
        self._work: queue.SimpleQueue[tuple[float, Callable[[], None]]] = queue.SimpleQueue()
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
        self._work.put((time.monotonic(), work))
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
            taken, work = self._work.get()
            self.traffic.wait_turn(since=taken)
            try:
                work()
            except Exception:
                log.exception("work after an ack failed")
            finally:
                with self._changed:
                    self._waiting -= 1
                    self._changed.notify_all()
