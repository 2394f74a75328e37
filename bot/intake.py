"""Commands acknowledged to Slack whose work follows the ack, kept in the intake until done.

A listener that promises work after its ack (/coach, `/brain run`) first `hold`s the raw
command: it is stored, held by this process for a lease, before the ack leaves (one
thread stores the commands that arrive meanwhile together, so that 50 acks in flight cost
one transaction, not 50; a /coach acknowledged before Bolt's dispatch awaits its hold on
the server's event loop, `hold_on_loop`); then the work is queued in this process
(bot/after_ack.py) and marks the command done when finished.
If the process dies meanwhile, nothing is lost: every `serve` sweeps the intake every few
seconds, claims the commands whose holder's lease lapsed (another replica's, or its own
before a restart) and hands each to the queue that does its kind (`route`). The work is
idempotent, so a command done twice (a lease that lapsed while its holder still worked)
has its effect once.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, NamedTuple

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackRequestError
from slack_sdk.http_retry.builtin_handlers import (
    ConnectionErrorRetryHandler,
    RateLimitErrorRetryHandler,
    ServerErrorRetryHandler,
)
from slack_sdk.webhook import WebhookClient
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import DBAPIError

from core import clock, use_cases
from core.db import UnitOfWork
from core.heartbeat.leases import worker_name
from core.intake import Command, Received

log = logging.getLogger("salesbrain.slack")

# Commands claimed in one sweep at most, of each kind.
SWEEP_LIMIT = 200
# Commands stored in one transaction at most.
HOLD_BATCH = 200
# How long an ack waits for its command to be stored (Slack waits 3 s for the ack).
HOLD_SECONDS = 2.5
# How long the intake's writer keeps its connection with no command to store. Not "until
# none waits": acks answered before Bolt's dispatch are resolved a batch at once, and their
# senders' next commands arrive a moment later, so that the writer found none waiting after
# a third of its batches (bench/slack_ack.py, PostgreSQL) and checked a connection out of
# the pool again for the next, a ping first: 0.1-0.2 ms of CPU per /coach.
KEEP_SECONDS = 1.0
# How long Slack honours a command's response URL (for five posts at most).
RESPONSE_URL_LIFETIME = timedelta(minutes=30)


@dataclass(frozen=True)
class Route:
    """What to do with a command of one kind claimed from the intake: `take` it (False when
    it cannot now: it is claimed again once its lease lapses), holding it `lease_seconds`."""

    take: Callable[[Received], bool]
    lease_seconds: float
    # How many this process can take now (its queue's room).
    room: Callable[[], int] = lambda: SWEEP_LIMIT


@dataclass(frozen=True)
class FollowUp:
    """How an answer that follows a command's ack reaches its person: through the command's
    response URL while Slack honours it; once it has expired or is used up (a command taken
    over from the intake long after its ack), in one direct message from salesbrain, with
    the bot's client in the person's Slack team (`clients`; without it, only logged)."""

    clients: Callable[[str], WebClient] | None = None

    def send(
        self,
        team_id: str,
        user_id: str,
        response_url: str,
        received_at: datetime,
        message: dict[str, Any],
    ) -> None:
        """Tell the person who sent a command received at `received_at` its answer, once."""
        fresh = clock.now() - received_at < RESPONSE_URL_LIFETIME
        if fresh and response_url and _post(response_url, user_id, message):
            return
        if self.clients is None:
            log.warning("could not answer %s: its response URL is spent", user_id)
            return
        direct = {
            k: v for k, v in message.items() if k not in ("response_type", "replace_original")
        }
        try:
            # A user id as the channel: the app's direct messages with that person.
            self.clients(team_id).chat_postMessage(channel=user_id, **direct)
        except (SlackApiError, SlackRequestError, OSError, LookupError) as error:
            log.warning("could not answer %s directly: %s", user_id, type(error).__name__)


def _post(response_url: str, user_id: str, message: dict[str, Any]) -> bool:
    """Post to a response URL: False when Slack refused it (expired, used up)."""
    try:
        response = webhook(response_url).send_dict({"replace_original": False, **message})
    except (SlackRequestError, OSError) as error:
        log.warning("could not answer %s: %s", user_id, type(error).__name__)
        return False
    if response.status_code != 200:
        log.warning("could not answer %s: %s %s", user_id, response.status_code, response.body)
        return False
    return True


def webhook(response_url: str) -> WebhookClient:
    """A client for a command's response URL that waits out rate limits and retries 5xx."""
    return WebhookClient(
        response_url,
        timeout=10,
        retry_handlers=[
            ConnectionErrorRetryHandler(max_retry_count=2),
            RateLimitErrorRetryHandler(max_retry_count=3),
            ServerErrorRetryHandler(max_retry_count=2),
        ],
    )


class _OnLoop(NamedTuple):
    """A hold awaited by a coroutine: the writer resolves its future on its event loop."""

    loop: asyncio.AbstractEventLoop
    future: asyncio.Future[int | None]


# Where the writer answers a hold: a thread waiting on a Future, or a coroutine on a loop.
_Answer = Future[int | None] | _OnLoop
# What became of a held command: its id, None (held before), or why it could not be.
_Outcome = int | None | Exception


def _settle(answers: Sequence[_Answer], outcomes: Sequence[_Outcome]) -> None:
    """Give each hold its outcome: a waiting thread at once; the coroutines of a loop in one
    call for the whole batch (each call wakes the loop: one write to its self-pipe)."""
    on_loops: dict[asyncio.AbstractEventLoop, list[tuple[asyncio.Future[int | None], _Outcome]]]
    on_loops = {}
    for answer, outcome in zip(answers, outcomes, strict=True):
        if isinstance(answer, _OnLoop):
            on_loops.setdefault(answer.loop, []).append((answer.future, outcome))
        elif isinstance(outcome, Exception):
            answer.set_exception(outcome)
        else:
            answer.set_result(outcome)
    for loop, settled in on_loops.items():
        try:
            loop.call_soon_threadsafe(_settle_on_loop, settled)
        except RuntimeError:  # the loop is closed (the server stopped): nobody waits
            log.warning("%d holds answered after their server stopped", len(settled))


def _settle_on_loop(settled: list[tuple[asyncio.Future[int | None], _Outcome]]) -> None:
    for future, outcome in settled:
        if future.done():  # it timed out meanwhile (its ack said so)
            continue
        if isinstance(outcome, Exception):
            future.set_exception(outcome)
        else:
            future.set_result(outcome)


def _time_out(future: asyncio.Future[int | None]) -> None:
    if not future.done():
        future.set_exception(TimeoutError())


def _closed(connection: Connection | None) -> None:
    if connection is not None:
        try:
            connection.close()
        except Exception as error:  # already broken: the pool discards it
            log.warning("closing a broken connection failed (%s)", type(error).__name__)


class CommandIntake:
    """The intake as the Slack edge uses it: hold a command before its ack, mark it done
    after its work, and (once started) sweep up the commands whose holder died."""

    def __init__(self, engine: Engine, lease_seconds: float, sweep_seconds: float) -> None:
        self.engine = engine
        self.lease_seconds = lease_seconds
        self.sweep_seconds = sweep_seconds
        self.owner = worker_name()
        self._routes: dict[str, Route] = {}
        self._holds: queue.SimpleQueue[tuple[Command, _Answer]] = queue.SimpleQueue()
        self._writer: threading.Thread | None = None
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._sweeper: threading.Thread | None = None

    def route(self, kind: str, route: Route) -> None:
        """Commands of `kind` found by the sweep go to `route`."""
        self._routes[kind] = route

    def hold(self, command: Command) -> int | None:
        """Store a command before its ack, held by this process for its lease (0: free for
        the next sweep at once): its id, or None when this delivery of it was stored before
        (Slack delivered the command twice). Raises when it could not be stored: the ack
        then says it failed, and nothing is promised."""
        answer: Future[int | None] = Future()
        self._put(command, answer)
        return answer.result(timeout=HOLD_SECONDS)

    async def hold_on_loop(self, command: Command) -> int | None:
        """`hold`, awaited on an event loop: no thread waits for the writer, which resolves
        the hold on the loop, and the loop serves other requests meanwhile."""
        loop = asyncio.get_running_loop()
        answer: asyncio.Future[int | None] = loop.create_future()
        self._put(command, _OnLoop(loop, answer))
        timer = loop.call_later(HOLD_SECONDS, _time_out, answer)
        try:
            return await answer
        finally:
            timer.cancel()

    def command(
        self,
        team_id: str,
        kind: str,
        delivery: str,
        payload: dict[str, Any],
        lease_seconds: float | None = None,
    ) -> Command:
        """A command to hold, for this intake's lease unless `lease_seconds` says otherwise."""
        lease = self.lease_seconds if lease_seconds is None else lease_seconds
        return Command(team_id, kind, delivery, payload, lease)

    def _put(self, command: Command, answer: _Answer) -> None:
        if self._writer is None:
            with self._lock:
                if self._writer is None:
                    self._writer = threading.Thread(
                        target=self._write_all, name="intake-writer", daemon=True
                    )
                    self._writer.start()
        self._holds.put((command, answer))

    def _write_all(self) -> None:
        """Store the commands held meanwhile together, one transaction for all: under load a
        transaction costs about as much for fifty commands as for one. The writer keeps its
        connection while commands keep coming (until none came for KEEP_SECONDS): checking
        one out of the pool first pings the server, a round trip that took a third of the
        writer's time under load (profiled)."""
        connection: Connection | None = None
        while True:
            try:
                first = self._holds.get(timeout=KEEP_SECONDS if connection else None)
            except queue.Empty:  # idle: back to the pool (the engine may be disposed)
                _closed(connection)
                connection = None
                continue
            batch = [first]
            while len(batch) < HOLD_BATCH:
                try:
                    batch.append(self._holds.get_nowait())
                except queue.Empty:
                    break
            commands = [command for command, _ in batch]
            answers = [answer for _, answer in batch]
            try:
                connection, held = self._receive(connection, commands)
            except Exception as error:
                log.error("could not hold %d commands in the intake", len(batch), exc_info=error)
                _settle(answers, [error] * len(batch))
                _closed(connection)
                connection = None  # the next batch checks out a fresh one
                continue
            _settle(answers, held)

    def _receive(
        self, connection: Connection | None, commands: list[Command]
    ) -> tuple[Connection, list[int | None]]:
        """Store the commands on the writer's connection; once more on a fresh (pinged) one
        when the server dropped it (a restart). Commands stored just before it dropped come
        back as stored before: their lease lapses and the sweep does them."""
        if connection is not None:
            try:
                return connection, self._store(connection, commands)
            except DBAPIError as error:
                if not error.connection_invalidated:
                    raise
                _closed(connection)
        fresh = self.engine.connect()
        try:
            return fresh, self._store(fresh, commands)
        except Exception:
            _closed(fresh)
            raise

    def _store(self, connection: Connection, commands: list[Command]) -> list[int | None]:
        return use_cases.receive(UnitOfWork(connection), commands, owner=self.owner)

    def done(self, ids: Sequence[int]) -> None:
        """The work of these commands is done."""
        use_cases.intake_done(UnitOfWork(self.engine), ids)

    def finish(self, intake_id: int) -> bool:
        """Mark a command done before its answer leaves: True when this process did (it
        answers), False when another holder did (and answered)."""
        return use_cases.finish_intake(UnitOfWork(self.engine), intake_id)

    def release(self, intake_id: int) -> None:
        """This process will not do the command after all (it is stopping): the next sweep,
        here or in another process, takes it."""
        use_cases.release_intake(UnitOfWork(self.engine), [intake_id])

    def sweep(self) -> int:
        """Claim the commands whose holder's lease lapsed and hand each to its route: how
        many were handed over."""
        routes = {kind: route for kind, route in self._routes.items() if route.room() > 0}
        if not routes:
            return 0
        leases = {kind: route.lease_seconds for kind, route in routes.items()}
        limit = min(SWEEP_LIMIT, *(route.room() for route in routes.values()))
        claimed = use_cases.claim_intake(
            UnitOfWork(self.engine), leases, owner=self.owner, limit=limit
        )
        untaken = [r.id for r in claimed if not routes[r.kind].take(r)]
        # Its queue filled meanwhile: back to the intake, not counted as a try.
        use_cases.release_intake(UnitOfWork(self.engine), untaken, untried=True)
        if claimed:
            log.info(
                "took over %d acknowledged commands from the intake", len(claimed) - len(untaken)
            )
        return len(claimed) - len(untaken)

    def start(self) -> None:
        """Sweep every `sweep_seconds` in a thread, from now until `close`."""
        self._sweeper = threading.Thread(target=self._sweep_all, name="intake-sweeper", daemon=True)
        self._sweeper.start()

    def close(self) -> None:
        """Stop sweeping (the queues the sweep fed drain on their own)."""
        self._stop.set()
        if self._sweeper is not None:
            self._sweeper.join(timeout=self.sweep_seconds + 5)

    def _sweep_all(self) -> None:
        while not self._stop.is_set():
            try:
                self.sweep()
            except Exception:
                log.exception("sweeping the intake failed")
            self._stop.wait(self.sweep_seconds)
