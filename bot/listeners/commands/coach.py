"""`/coach @agent <note>`: coaching on the agent's Personal Brain; no text opens the form.

Slack is answered at once; the note waits in a batcher (bot/after_ack.py) and is stored with
the notes that came meanwhile, in one transaction per workspace, through the coach use case.
The person is then told, in one ephemeral line through the command's response URL, which
block holds it and whom it reaches, or what is wrong with it. With 50 commands in flight a
process answers each in about 50 times the CPU time of one, so an ack that waited for the
unit of work could not be fast; the ack alone costs a fraction of a millisecond.

When the oldest note has waited two seconds for its confirmation, a new note is stored before
its ack, ahead of the others, and its ack carries the confirmation (or the error): slower,
never dropped. A command delivered twice (a retry) stores its note once: its trigger id is
recorded as a delivery in the note's own transaction.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from slack_bolt import Ack, BoltContext
from slack_sdk import WebClient
from slack_sdk.errors import SlackRequestError
from slack_sdk.http_retry.builtin_handlers import (
    ConnectionErrorRetryHandler,
    RateLimitErrorRetryHandler,
    ServerErrorRetryHandler,
)
from slack_sdk.webhook import WebhookClient
from sqlalchemy.engine import Engine

from bot import blocks
from bot.after_ack import Batcher, Handling
from bot.listeners.views.coach import show_coach_form
from bot.workspace import COACHING, ORIGIN
from core import use_cases
from core.coaching import CoachingNote, Outcome
from core.db import UnitOfWork
from core.errors import DomainError
from core.permissions import Actor

# How long an ack waits for its note to be stored when the queue is full; past it, the
# confirmation follows through the response URL (Slack waits 3 s for the ack).
STORE_NOW_SECONDS = 2.0
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
class CoachCommand:
    """A `/coach @agent <note>` command, as it waits to be stored."""

    team_id: str
    user_id: str
    channel_id: str
    text: str
    trigger_id: str
    response_url: str

    def note(self) -> CoachingNote:
        return CoachingNote(
            self.text,
            Actor.member(self.user_id, origin=ORIGIN),
            source_ref=f"slack:/coach {self.channel_id}".strip(),
            delivery=f"command:{self.trigger_id}" if self.trigger_id else None,
        )

    @classmethod
    def from_command(cls, command: dict[str, Any], context: BoltContext) -> CoachCommand:
        return cls(
            team_id=str(context.team_id),
            user_id=str(context.user_id),
            channel_id=str(command.get("channel_id") or ""),
            text=str(command.get("text") or ""),
            trigger_id=str(command.get("trigger_id") or ""),
            response_url=str(command.get("response_url") or ""),
        )


CoachingQueue = Batcher[CoachCommand, blocks.Message]


def coach_command(
    ack: Ack, command: dict[str, Any], context: BoltContext, client: WebClient
) -> None:
    """Acknowledged at once: the note is stored after the ack and the person told through the
    response URL. When too many notes wait, the note is stored ahead of them before the ack,
    which then carries the confirmation (or what is wrong)."""
    if not (command.get("text") or "").strip():
        ack()
        show_coach_form(client, context, command["trigger_id"], channel=command.get("channel_id"))
        return
    coach = CoachCommand.from_command(command, context)
    coaching: CoachingQueue = context[COACHING]
    if coaching.offer(coach):
        ack()
        return
    reply = coaching.handle_now(coach, timeout=STORE_NOW_SECONDS)
    if reply is None:
        ack()  # a repeated delivery, or a slow store: the confirmation follows
    else:
        ack(response_type="ephemeral", **reply)


def coaching_queue(
    engine: Engine, capacity: int = CAPACITY, lag: float = LAG_SECONDS
) -> CoachingQueue:
    """The batcher that stores /coach notes after their acks and confirms each one."""
    handling: Handling[CoachCommand, blocks.Message] = Handling(
        handle=lambda commands: store_many(engine, commands),
        tell=_tell,
        failure=lambda error: blocks.line(blocks.error_text(error)),
    )
    return Batcher(handling, capacity=capacity, lag=lag, batch=BATCH, tellers=TELLERS, name="coach")


def store_many(engine: Engine, commands: Sequence[CoachCommand]) -> list[blocks.Message | None]:
    """Store notes together, one unit of work per workspace: what to tell each person (the
    confirmation or the error), or None for a delivery stored before."""
    replies: list[blocks.Message | None] = [None] * len(commands)
    by_team: dict[str, list[int]] = {}
    for index, command in enumerate(commands):
        by_team.setdefault(command.team_id, []).append(index)
    for team_id, indexes in by_team.items():
        group = [commands[i].note() for i in indexes]
        try:
            told = [_reply(o) for o in use_cases.coach(UnitOfWork(engine), team_id, group)]
        except DomainError as error:  # the workspace is not set up
            told = [blocks.line(blocks.error_text(error))] * len(group)
        except Exception as error:
            # The notes could not be written together (a delivery stored meanwhile by another
            # process, a database error): each on its own, so that one cannot fail the rest.
            log.warning("storing %d notes together failed (%s)", len(group), type(error).__name__)
            told = [_store_alone(engine, team_id, note) for note in group]
        for i, reply in zip(indexes, told, strict=True):
            replies[i] = reply
    return replies


def _store_alone(engine: Engine, team_id: str, note: CoachingNote) -> blocks.Message | None:
    try:
        [outcome] = use_cases.coach(UnitOfWork(engine), team_id, [note])
    except Exception as error:
        return _reply(error)
    return _reply(outcome)


def _reply(outcome: Outcome | Exception) -> blocks.Message | None:
    if outcome is None:
        return None
    if isinstance(outcome, Exception):
        if not isinstance(outcome, DomainError):
            log.error("storing a note failed", exc_info=outcome)
        return blocks.line(blocks.error_text(outcome))
    return blocks.coached(outcome)


def _tell(command: CoachCommand, reply: blocks.Message) -> None:
    """Post the reply to the person, ephemerally, through the command's response URL."""
    try:
        response = _webhook(command.response_url).send(
            response_type="ephemeral", replace_original=False, **reply
        )
    except (SlackRequestError, OSError) as error:
        log.warning("could not answer %s: %s", command.user_id, type(error).__name__)
        return
    if response.status_code != 200:
        log.warning(
            "could not answer %s: %s %s", command.user_id, response.status_code, response.body
        )


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
