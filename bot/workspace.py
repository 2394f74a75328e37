"""The workspace and the person behind a Slack request, as every listener uses them.

`attach(app, engine, coaching, later)` adds three global middlewares, run after Bolt has verified
the signature and authorised the request:
- the engine goes into the request context, so a listener opens its unit of work with
  `use_case(context)`; so do the queue of /coach notes stored after the ack, and the few
  threads doing slower work after the ack (a cycle run now);
- a Slack user seen for the first time becomes a member (Slack's admins and owners admins,
  asked through `users.info`);
- an event id already handled (a Slack retry, a duplicate delivery) is acknowledged and
  not handled again.
"""

from __future__ import annotations

import logging
import queue
from collections import OrderedDict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from threading import Condition, Lock, Thread
from typing import TYPE_CHECKING, Any

from slack_bolt import App, BoltContext, BoltRequest, BoltResponse
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackRequestError
from sqlalchemy import select
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from bot.runner import HeartbeatRunner
from core import chat, directory, people
from core.db import UnitOfWork
from core.errors import NotFound
from core.models import Workspace
from core.permissions import Actor

ENGINE = "salesbrain_engine"
RUNNER = "salesbrain_runner"
COACHING = "salesbrain_coaching"
LATER = "salesbrain_later"
# What became of the request, for the request log, when it was not done: refused, invalid,
# not_found or failed (set by the error handler).
OUTCOME = "salesbrain_outcome"
# Cycles run now (`/brain run`) at once, after their acks.
LATER_WORKERS = 2
# How long shutting down waits for the work taken after acks (/coach notes, cycles run now).
DRAIN_SECONDS = 10.0
ORIGIN = "slack"

if TYPE_CHECKING:
    from bot.coaching import CoachingQueue

log = logging.getLogger("salesbrain.slack")


@contextmanager
def use_case(
    context: BoltContext, *, readonly: bool = False
) -> Iterator[tuple[Session, Workspace]]:
    """One unit of work in the workspace the request came from."""
    with UnitOfWork(context[ENGINE], readonly=readonly) as uow:
        yield uow.session, workspace_of(uow.session, context.team_id)


def workspace_of(session: Session, team_id: str | None) -> Workspace:
    workspace = session.scalar(select(Workspace).where(Workspace.slack_team_id == team_id))
    if workspace is None:
        raise NotFound(
            f"salesbrain is not set up for this Slack workspace ({team_id}): install the app, "
            f"or run `salesbrain workspace create {team_id}`"
        )
    return workspace


def actor(context: BoltContext) -> Actor:
    """The Slack user who asked."""
    return Actor.member(str(context.user_id), origin=ORIGIN)


class KnownPeople:
    """Slack users already enrolled as members, so that `users.info` is asked once per person."""

    def __init__(self, size: int = 10_000) -> None:
        self._seen: OrderedDict[tuple[str, str], None] = OrderedDict()
        self._size = size
        self._lock = Lock()

    def __contains__(self, key: tuple[str, str]) -> bool:
        with self._lock:
            return key in self._seen

    def add(self, key: tuple[str, str]) -> None:
        with self._lock:
            self._seen[key] = None
            while len(self._seen) > self._size:
                self._seen.popitem(last=False)


class AfterAck:
    """Work a listener promised in its ack (a cycle run now), done by a few threads after it.

    Daemon threads: the interpreter joins a ThreadPoolExecutor's threads at exit however long
    they take, so a stuck Slack or model call would hold a stopping server; `close` waits for
    the work taken at most DRAIN_SECONDS."""

    def __init__(self, workers: int = LATER_WORKERS) -> None:
        self._workers = workers
        self._work: queue.SimpleQueue[Callable[[], None]] = queue.SimpleQueue()
        self._changed = Condition()
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
                    Thread(target=self._do_all, name=f"after-ack-{n}", daemon=True).start()
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


def attach(
    app: App,
    engine: Engine,
    coaching: CoachingQueue,
    later: AfterAck,
    runner: HeartbeatRunner | None = None,
) -> None:
    """Give every listener the database, the queue of notes stored after the ack, the threads
    for other work after the ack (and the heartbeat runner, which runs a cycle on request),
    the person, and events handled once."""
    known = KnownPeople()

    @app.middleware
    def provide_engine(context: BoltContext, next: Callable[[], None]) -> None:
        context[ENGINE] = engine
        context[RUNNER] = runner
        context[COACHING] = coaching
        context[LATER] = later
        next()

    @app.middleware
    def enrol_person(context: BoltContext, client: WebClient, next: Callable[[], None]) -> None:
        key = (str(context.team_id), str(context.user_id))
        new = context.team_id and context.user_id and key not in known
        if new and _enrol(engine, client, str(context.team_id), str(context.user_id)):
            known.add(key)
        next()

    @app.middleware
    def once_per_event(
        body: dict[str, Any], context: BoltContext, request: BoltRequest, next: Callable[[], None]
    ) -> BoltResponse | None:
        event_id = body.get("event_id") if body.get("type") == "event_callback" else None
        if event_id and context.team_id and not _first_delivery(engine, context.team_id, event_id):
            retry = (request.headers.get("x-slack-retry-num") or ["-"])[0]
            log.info("event %s already handled (delivery retry %s)", event_id, retry)
            return BoltResponse(status=200, body="")
        next()
        return None


def _enrol(engine: Engine, client: WebClient, team_id: str, user_id: str) -> bool:
    """Make sure the user is a member; True once they are."""
    try:
        return _enrol_once(engine, client, team_id, user_id)
    except IntegrityError:
        return True  # a concurrent request of the same person enrolled them first


def _enrol_once(engine: Engine, client: WebClient, team_id: str, user_id: str) -> bool:
    with UnitOfWork(engine) as uow:
        workspace = uow.session.scalar(select(Workspace).where(Workspace.slack_team_id == team_id))
        if workspace is None:
            return False
        if directory.get_member(uow.session, workspace, user_id) is not None:
            return True
        # Asked before the ack: a client that does not wait out rate limits or retry, so that
        # a slow Slack never delays the answer; the person is asked about again next time.
        quick = WebClient(token=client.token, base_url=client.base_url, timeout=2)
        try:
            user = quick.users_info(user=user_id)["user"] or {}
        except (SlackApiError, SlackRequestError) as error:
            # Not known to be an admin: they stay an unenrolled member and we ask again later.
            log.warning("users.info for %s failed: %s", user_id, type(error).__name__)
            return False
        people.enrol_slack_user(
            uow.session,
            workspace,
            user_id,
            workspace_admin=bool(user.get("is_admin") or user.get("is_owner")),
            display_name=user.get("real_name") or user.get("name"),
        )
    return True


def _first_delivery(engine: Engine, team_id: str, event_id: str) -> bool:
    with UnitOfWork(engine) as uow:
        workspace = uow.session.scalar(select(Workspace).where(Workspace.slack_team_id == team_id))
        return workspace is None or chat.first_delivery(uow.session, workspace, event_id)
