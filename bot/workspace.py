"""The workspace and the person behind a Slack request, as every listener uses them.

`attach(app, engine, intake, coaching, later)` adds three global middlewares, run after Bolt
has verified the signature and authorised the request:
- the engine goes into the request context, so a listener opens a unit of work for its use
  case with `writer(context)` or `reader(context)`; so do the intake (where a command whose
  work follows the ack is stored before it), the batcher of /coach notes stored after the
  ack, and the few threads doing slower work after it (a cycle run now);
- a Slack user seen for the first time becomes a member (Slack's admins and owners of this
  workspace admins, asked through `users.info`);
- an event id already handled (a Slack retry, a duplicate delivery) is acknowledged and
  not handled again. An event whose listener writes (RECORDED_WITH_WRITES) has its id
  recorded by its use case, in the transaction of what it writes: when that fails because
  the database is away, nothing is recorded, the error handler answers 503, and the event
  Slack delivers again is handled.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from collections.abc import Callable
from threading import Lock
from typing import Any

from slack_bolt import App, BoltContext, BoltRequest, BoltResponse
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackRequestError
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError

from bot.after_ack import AfterAck, Batcher
from bot.intake import CommandIntake
from bot.runner import HeartbeatRunner
from core import deliveries, directory
from core.db import UnitOfWork
from core.permissions import Actor

ENGINE = "salesbrain_engine"
RUNNER = "salesbrain_runner"
INTAKE = "salesbrain_intake"
COACHING = "salesbrain_coaching"
LATER = "salesbrain_later"
# What became of the request, for the request log, when it was not done: refused, invalid,
# not_found or failed (set by the error handler).
OUTCOME = "salesbrain_outcome"
ORIGIN = "slack"
# The id of an event whose use case records it (with what it writes), for its listener.
DELIVERY = "salesbrain_delivery"
RECORDED_WITH_WRITES = frozenset({"reaction_added", "member_joined_channel"})

log = logging.getLogger("salesbrain.slack")


def writer(context: BoltContext) -> UnitOfWork:
    """A unit of work for a use case that writes."""
    return UnitOfWork(context[ENGINE])


def reader(context: BoltContext) -> UnitOfWork:
    """A unit of work for a use case that only reads."""
    return UnitOfWork(context[ENGINE], readonly=True)


def actor(context: BoltContext) -> Actor:
    """The Slack user who asked."""
    return Actor.member(str(context.user_id), origin=ORIGIN)


class KnownPeople:
    """Slack users already enrolled as members, so that `users.info` is asked once per person.
    A person is added only once a request of theirs has passed Bolt's authorization, so the
    /coach acknowledged before Bolt's dispatch (bot/listeners/commands/coach.py
    `EarlyCoach`) is taken only from them."""

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


def attach(
    app: App,
    engine: Engine,
    intake: CommandIntake,
    coaching: Batcher[Any, Any],
    later: AfterAck,
    runner: HeartbeatRunner | None = None,
    known: KnownPeople | None = None,
) -> None:
    """Give every listener the database, the intake, the queue of notes stored after the
    ack, the threads for other work after the ack (and the heartbeat runner, which runs a
    cycle on request), the person (enrolled once, then `known`), and events handled once."""
    known = known if known is not None else KnownPeople()

    @app.middleware
    def provide_engine(context: BoltContext, next: Callable[[], None]) -> None:
        context[ENGINE] = engine
        context[RUNNER] = runner
        context[INTAKE] = intake
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
        if event_id and context.team_id:
            team_id = str(context.team_id)
            if (body.get("event") or {}).get("type") in RECORDED_WITH_WRITES:
                context[DELIVERY] = event_id
                seen = handled_before(engine, team_id, event_id)
            else:
                seen = not first_delivery(engine, team_id, event_id)
            if seen:
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
        workspace = uow.workspaces.find(team_id)
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
        directory.enrol_slack_user(
            uow.session,
            workspace,
            user_id,
            workspace_admin=_admin_here(user, team_id),
            # Slack's own name for the person; a name too long for the column is cut, not refused.
            display_name=str(user.get("real_name") or user.get("name") or "")[:200] or None,
        )
    return True


def _admin_here(user: dict[str, Any], team_id: str) -> bool:
    """Slack's admins and owners of this very workspace. A user of another workspace (Slack
    Connect, an external or stranger user) may be an admin there: here they are a member
    until an admin of this workspace says otherwise."""
    if not (user.get("is_admin") or user.get("is_owner")) or user.get("is_stranger"):
        return False
    grid = user.get("enterprise_user")
    teams = grid.get("teams") if isinstance(grid, dict) else None
    return user.get("team_id") == team_id or (isinstance(teams, list) and team_id in teams)


def first_delivery(engine: Engine, team_id: str, event_id: str) -> bool:
    """Record a delivery (an event id, a command's trigger id); False when seen before."""
    with UnitOfWork(engine) as uow:
        workspace = uow.workspaces.find(team_id)
        return workspace is None or deliveries.first_delivery(uow.session, workspace, event_id)


def handled_before(engine: Engine, team_id: str, event_id: str) -> bool:
    """Whether a delivery was recorded (by the use case that handled it); nothing written."""
    with UnitOfWork(engine, readonly=True) as uow:
        workspace = uow.workspaces.find(team_id)
        return workspace is not None and bool(
            deliveries.delivered(uow.session, workspace, [event_id])
        )
