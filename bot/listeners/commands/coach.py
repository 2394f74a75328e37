"""`/coach @agent <note>`: coaching on the agent's Personal Brain; no text opens the form.

Slack is answered at once, once the raw command is stored in the intake (bot/intake.py): a
process killed after the ack loses no note, another one (or the same after its restart)
stores it. Over HTTP, a /coach with text from a person the process knows is acknowledged
before Bolt's dispatch, on the server's event loop (`EarlyCoach`); the rest through Bolt's
listener below; both do what `CoachAck` says. The note waits in a batcher
(bot/after_ack.py) and is stored with the notes that came meanwhile, in one transaction per
workspace, through the coach use case, which marks their intake done in the same
transaction. The batcher waits its turn: while acks are in flight it waits (up to a few
seconds), so that storing and confirming never take the CPU that the acks wait for.
The person is then told, in one ephemeral line through the command's response URL, which
block holds it and whom it reaches, or what is wrong with it. With 50 commands in flight a
process answers each in about 50 times the CPU time of one, so an ack that waited for the
unit of work could not be fast; the ack alone costs a fraction of a millisecond.

When the queue is full (its oldest note has waited LAG_SECONDS for its confirmation), a new
note is acknowledged all the same and left in the intake, its lease already lapsed: the next
sweep of any `serve` (this one's once it has room) stores and confirms it. The ack never
waits for a note to be stored. A command delivered twice (a retry) is held in the intake
once, and stores its note once: its trigger id is recorded as a delivery in the note's own
transaction (so even a note two processes take from the intake at once is stored once).
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime
from typing import Any

from slack_bolt import Ack, BoltContext
from slack_bolt.request.internals import (
    extract_channel_id,
    extract_enterprise_id,
    extract_is_enterprise_install,
    extract_team_id,
    extract_user_id,
)
from slack_sdk import WebClient
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError

from bot import blocks
from bot.after_ack import Batcher, Handling, Traffic
from bot.intake import CommandIntake, FollowUp, Route
from bot.listeners.payloads import malformation
from bot.listeners.views.coach import show_coach_form
from bot.workspace import COACHING, INTAKE, ORIGIN, KnownPeople
from core import clock, use_cases
from core.coaching import CoachingNote, Outcome
from core.db import UnitOfWork, unavailable
from core.errors import DomainError
from core.intake import Command, Received
from core.permissions import Actor

# When the oldest note taken has waited this long for its confirmation, new notes are left
# in the intake for a sweep: a bound on what a person waits for in this process's queue,
# well above how long the queue defers its work to acks (DEFER_SECONDS) and well below the
# intake's lease (a note still queued here is not taken over by another process).
LAG_SECONDS = 15.0
# Notes taken at most, whatever their age: a bound on memory (each holds up to 4,000
# characters).
CAPACITY = 10_000
# Notes stored in one transaction at most.
BATCH = 100
# Posts to response URLs at once: each waits a round trip to Slack (~0.1 s from afar).
TELLERS = 8

# The intake's name for a /coach command.
COACH = "coach"
# The slash command, as Slack sends it.
COMMAND = "/coach"

log = logging.getLogger("salesbrain.slack")


@dataclass(frozen=True)
class CoachCommand:
    """A `/coach @agent <note>` command, as it waits to be stored."""

    team_id: str
    user_id: str
    channel_id: str
    text: str
    trigger_id: str
    response_url: str
    # Its row in the intake, marked done with the note.
    intake_id: int | None = None
    # When it was received (its response URL lasts 30 minutes from then).
    received_at: datetime = field(default_factory=clock.now)

    @property
    def delivery(self) -> str:
        return f"command:{self.trigger_id}"

    def note(self) -> CoachingNote:
        return CoachingNote(
            self.text,
            Actor.member(self.user_id, origin=ORIGIN),
            source_ref=f"slack:/coach {self.channel_id}".strip(),
            delivery=self.delivery,
        )

    def raw(self) -> dict[str, Any]:
        """The command as the intake keeps it."""
        kept = asdict(self).items()
        return {name: value for name, value in kept if name not in ("intake_id", "received_at")}

    @classmethod
    def from_intake(cls, received: Received) -> CoachCommand:
        return cls(**received.payload, intake_id=received.id, received_at=received.received_at)

    @classmethod
    def from_command(cls, command: dict[str, Any], team_id: str, user_id: str) -> CoachCommand:
        """The command as Slack sent it, from `user_id` of Slack team `team_id`."""
        return cls(
            team_id=team_id,
            user_id=user_id,
            channel_id=str(command.get("channel_id") or ""),
            text=str(command.get("text") or ""),
            # Slack sends one with every command; without it, the command is stored once anyway.
            trigger_id=str(command.get("trigger_id") or f"none-{secrets.token_hex(8)}"),
            response_url=str(command.get("response_url") or ""),
        )


CoachingQueue = Batcher[CoachCommand, blocks.Message]


@dataclass(frozen=True)
class CoachAck:
    """What acknowledging a /coach with text does, on either path to its ack: the raw command
    held in the intake (when the queue is full, with a lease that has already lapsed, for
    any sweep), then offered to the queue. Bolt's listener (`coach_command`: Socket Mode,
    and over HTTP whatever `EarlyCoach` leaves to Bolt) holds it in its dispatcher thread;
    bot/server.py holds the rest on its event loop, before Bolt's dispatch."""

    intake: CommandIntake
    coaching: CoachingQueue

    def hold(self, command: CoachCommand) -> None:
        """Hold the command before its ack, this thread waiting for the intake's writer."""
        kept = self._kept(command)
        self._offer(command, kept, self.intake.hold(kept))

    async def hold_on_loop(self, command: CoachCommand) -> None:
        """Hold the command before its ack, awaited on the server's event loop."""
        kept = self._kept(command)
        self._offer(command, kept, await self.intake.hold_on_loop(kept))

    def _kept(self, command: CoachCommand) -> Command:
        # Full: held with a lease that has already lapsed, so that any sweep may take it now.
        lease = None if self.coaching.has_room else 0.0
        return self.intake.command(command.team_id, COACH, command.delivery, command.raw(), lease)

    def _offer(self, command: CoachCommand, kept: Command, held: int | None) -> None:
        # None: this delivery was held before (a retry), its note on its way already; a
        # lease of 0 (the queue was full) leaves the note to the sweep.
        if held is None or not kept.lease_seconds:
            return
        if not self.coaching.offer(replace(command, intake_id=held)):
            # Filled meanwhile: the note is the sweep's once its lease lapses.
            log.info("queue full: note %d left in the intake", held)


@dataclass(frozen=True)
class EarlyCoach:
    """/coach with text over HTTP, acknowledged by bot/server.py on its event loop before
    Bolt's dispatch: `CoachAck.hold_on_loop`, without a dispatcher thread waiting for the
    intake's writer and without Bolt's middleware chain and listener matching. With 50 acks
    in flight each waits for about 50 times the CPU of one; measured (BENCHMARKS.md, "Issue
    16, /coach acknowledged before Bolt"), the server's CPU per ack fell from 1.3-2.8 ms to
    0.6-0.9 ms, and the ack's p99 on PostgreSQL from 131-491 ms to 62-136 ms.

    It takes only what Bolt would pass to `coach_command` unchanged (anything else goes to
    Bolt, `command` says None): the signature is verified before (bot/server.py, with the
    secret Bolt verifies with); a payload not of Slack's shape is Bolt's to ignore
    (`malformation`); and the person must be `known`, which Bolt's path alone makes them:
    `enrol_person` (bot/workspace.py) adds a person once their request has passed Bolt's
    authorization (an OAuth install in the installation store, or the one bot token) and
    they are enrolled as a member. So each person's first /coach in a process goes through
    Bolt, and the rest need neither (nothing in salesbrain removes an installation).
    Enterprise Grid's org-wide installs, authorised per organisation, always go through
    Bolt."""

    ack: CoachAck
    known: KnownPeople

    def command(self, body: dict[str, Any]) -> CoachCommand | None:
        """The /coach this path acknowledges (a signed, parsed body); None for Bolt's path."""
        if body.get("command") != COMMAND or "ssl_check" in body:
            return None
        if extract_enterprise_id(body) or extract_is_enterprise_install(body):
            return None
        # Bolt's own reading of who asked, as its context would hold it.
        team_id, user_id = extract_team_id(body), extract_user_id(body)
        ids = {"team_id": team_id, "user_id": user_id, "channel_id": extract_channel_id(body)}
        if (str(team_id), str(user_id)) not in self.known or malformation(body, ids):
            return None
        if not str(body.get("text") or "").strip():
            return None  # the form: Bolt's listener opens it
        return CoachCommand.from_command(body, str(team_id), str(user_id))


def coach_command(
    ack: Ack, command: dict[str, Any], context: BoltContext, client: WebClient
) -> None:
    """Acknowledged once the command is held in the intake: the note is stored after the ack
    and the person told through the response URL. When too many notes wait here, the note
    stays in the intake for the next sweep (here or in another process)."""
    if not (command.get("text") or "").strip():
        ack()
        show_coach_form(client, context, command["trigger_id"], channel=command.get("channel_id"))
        return
    coach = CoachCommand.from_command(command, str(context.team_id), str(context.user_id))
    CoachAck(context[INTAKE], context[COACHING]).hold(coach)
    ack()


def coaching_queue(
    engine: Engine,
    capacity: int = CAPACITY,
    lag: float = LAG_SECONDS,
    follow_up: FollowUp | None = None,
    traffic: Traffic | None = None,
) -> CoachingQueue:
    """The batcher that stores /coach notes after their acks and confirms each one (through
    `follow_up`: the command's response URL, or a direct message once it is spent), each in
    its turn after the requests in flight (`traffic`)."""
    told = follow_up or FollowUp()
    handling: Handling[CoachCommand, blocks.Message] = Handling(
        handle=lambda commands: store_many(engine, commands),
        tell=lambda command, reply: told.send(
            command.team_id,
            command.user_id,
            command.response_url,
            command.received_at,
            {"response_type": "ephemeral", **reply},
        ),
        failure=lambda error: blocks.line(blocks.error_text(error)),
    )
    return Batcher(
        handling,
        capacity=capacity,
        lag=lag,
        batch=BATCH,
        tellers=TELLERS,
        name="coach",
        traffic=traffic,
    )


def take_from_intake(intake: CommandIntake, coaching: CoachingQueue) -> None:
    """/coach commands another process acknowledged and did not store (it died) go to
    this process's queue."""
    intake.route(
        COACH,
        Route(
            take=lambda received: coaching.offer(CoachCommand.from_intake(received)),
            lease_seconds=intake.lease_seconds,
            room=lambda: coaching.capacity - coaching.waiting,
        ),
    )


def store_many(engine: Engine, commands: Sequence[CoachCommand]) -> list[blocks.Message | None]:
    """Store notes together, one unit of work per workspace, their intake marked done with
    them: what to tell each person (the confirmation or the error), or None for a delivery
    stored before."""
    replies: list[blocks.Message | None] = [None] * len(commands)
    by_team: dict[str, list[int]] = {}
    for index, command in enumerate(commands):
        by_team.setdefault(command.team_id, []).append(index)
    for team_id, indexes in by_team.items():
        group = [commands[i] for i in indexes]
        try:
            outcomes = use_cases.coach(
                UnitOfWork(engine), team_id, [c.note() for c in group], _intake_ids(group)
            )
            told = [_reply(outcome) for outcome in outcomes]
        except DomainError as error:  # the workspace is not set up
            use_cases.intake_done(UnitOfWork(engine), _intake_ids(group))
            told = [blocks.line(blocks.error_text(error))] * len(group)
        except Exception as error:
            # The notes could not be written together (a delivery stored meanwhile by another
            # process, a database error): each on its own, so that one cannot fail the rest.
            log.warning("storing %d notes together failed (%s)", len(group), type(error).__name__)
            told = [_store_alone(engine, team_id, command) for command in group]
        for i, reply in zip(indexes, told, strict=True):
            replies[i] = reply
    return replies


def _intake_ids(commands: Sequence[CoachCommand]) -> list[int]:
    return [c.intake_id for c in commands if c.intake_id is not None]


def _store_alone(engine: Engine, team_id: str, command: CoachCommand) -> blocks.Message | None:
    def store() -> Outcome:
        [outcome] = use_cases.coach(
            UnitOfWork(engine), team_id, [command.note()], _intake_ids([command])
        )
        return outcome

    try:
        try:
            outcome = store()
        except IntegrityError:
            # Another process stored the same note meanwhile (a sweep took it over while this
            # one was slow): tried again, it is seen as stored before, and nobody is told twice.
            outcome = store()
    except Exception as error:
        if unavailable(error) and command.intake_id is not None:
            # The database is away (restarting): the note stays held in the intake, and a
            # sweep stores it (and tells the person) once its lease lapses.
            log.warning("note %d left to the sweep (%s)", command.intake_id, type(error).__name__)
            return None
        # The person is told it failed: done, so that no later sweep tells them otherwise.
        _done_quietly(engine, _intake_ids([command]))
        return _reply(error)
    return _reply(outcome)


def _done_quietly(engine: Engine, ids: Sequence[int]) -> None:
    try:
        use_cases.intake_done(UnitOfWork(engine), ids)
    except Exception as error:  # the database is away: the sweep tries the note again
        log.warning("could not mark %d intake done (%s)", len(ids), type(error).__name__)


def _reply(outcome: Outcome | Exception) -> blocks.Message | None:
    if outcome is None:
        return None
    if isinstance(outcome, Exception):
        if not isinstance(outcome, DomainError):
            log.error("storing a note failed", exc_info=outcome)
        return blocks.line(blocks.error_text(outcome))
    return blocks.coached(outcome)
