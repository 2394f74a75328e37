"""`/brain <subcommand>`: each subcommand parses its words and calls one core service."""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import datetime
from functools import partial
from typing import Any

from slack_bolt import Ack, BoltContext, Respond
from slack_sdk.errors import SlackApiError, SlackRequestError
from sqlalchemy.engine import Engine

from bot import blocks
from bot.after_ack import AfterAck
from bot.intake import CommandIntake, FollowUp, Route
from bot.listeners.errors import answer_to_failure
from bot.runner import HeartbeatRunner
from bot.workspace import (
    ENGINE,
    INTAKE,
    LATER,
    ORIGIN,
    RUNNER,
    actor,
    first_delivery,
    reader,
    writer,
)
from core import use_cases
from core.db import UnitOfWork, unavailable
from core.errors import InvalidInput
from core.heartbeat.replay import replay
from core.intake import Received
from core.permissions import SLACK_USER_ID, Actor

log = logging.getLogger("salesbrain.slack")

USER_MENTION = re.compile(r"<@([UW][A-Z0-9]+)(?:\|[^>]*)?>")
# What follows the ack of a subcommand with work after it when the server is stopping (a
# restart, a deploy; Socket Mode delivers commands until the end): the command waits in the
# intake for the next sweep, here once restarted or in another server.
STOPPING = "salesbrain is restarting: this is done once it is back, and its answer follows here."
REPEATED = "This command was delivered before and carried out then: nothing more was done."

Run = Callable[[BoltContext, str, Actor], blocks.Message]


@dataclass(frozen=True)
class Asked:
    """A subcommand whose work follows its ack, as the intake keeps it."""

    team_id: str
    user_id: str
    words: str
    response_url: str


@dataclass(frozen=True)
class Later:
    """What the work after an ack has at hand: the database, the heartbeat runner, what was
    asked, and, for a command taken over from the intake after its first holder died, when
    it was received (that holder may have done part of the work)."""

    engine: Engine
    runner: HeartbeatRunner | None
    asked: Asked
    taken_over: datetime | None = None

    def reader(self) -> UnitOfWork:
        return UnitOfWork(self.engine, readonly=True)


# The work after the ack: its answer (the arguments of a response), None for none.
After = Callable[[Later], blocks.Message | None]
# How an answer reaches the person who asked.
Tell = Callable[[blocks.Message], None]


@dataclass(frozen=True)
class Subcommand:
    run: Run
    # Slow work (running a cycle) done after the ack; its result follows in the channel.
    after: After | None = None
    writes: bool = False

    @property
    def once(self) -> bool:
        """A write, or work after the ack: done once however often the command is delivered."""
        return self.writes or self.after is not None


def brain_command(
    ack: Ack, command: dict[str, Any], context: BoltContext, respond: Respond
) -> None:
    """Answered in the ack: the work takes milliseconds (slow work follows the ack, stored in
    the intake before it)."""
    word, _, rest = (command.get("text") or "").strip().partition(" ")
    subcommand = SUBCOMMANDS.get(word.lower() or "help")
    if subcommand is None:
        raise InvalidInput("/brain", f"unknown command {word!r}; one of {', '.join(SUBCOMMANDS)}")
    words = rest.strip()
    # The same signed command again (a replay, a repeated delivery) is not applied again: its
    # trigger id is recorded first (a command that then fails is not applied by a replay
    # either; a person asking again sends a new trigger id).
    delivery = f"command:{command.get('trigger_id')}"
    repeated = subcommand.once and not first_delivery(
        context[ENGINE], str(context.team_id), delivery
    )
    reply = blocks.line(REPEATED) if repeated else subcommand.run(context, words, actor(context))
    if subcommand.after is None or repeated:
        ack(response_type="ephemeral", **reply)
        return
    asked = Asked(
        str(context.team_id), str(context.user_id), words, str(command.get("response_url") or "")
    )
    # Stored before the ack: a process that dies after it loses nothing (bot/intake.py).
    intake: CommandIntake = context[INTAKE]
    kind = f"brain {word.lower()}"
    lease = _lease(intake, context[RUNNER])
    held = intake.hold(intake.command(asked.team_id, kind, delivery, asdict(asked), lease))
    # The ack first: what the work says after it must not reach Slack before it.
    ack(response_type="ephemeral", **reply)
    if held is None:
        return  # held before: a repeated delivery
    later = Later(context[ENGINE], context[RUNNER], asked)
    work = partial(_after_the_ack, subcommand.after, later, lambda m: respond(**m), intake, held)
    if not context[LATER].offer(work):
        intake.release(held)  # the next sweep (here after the restart, or elsewhere) does it
        respond(response_type="ephemeral", replace_original=False, **blocks.line(STOPPING))


def take_from_intake(
    intake: CommandIntake,
    later: AfterAck,
    engine: Engine,
    runner: HeartbeatRunner | None,
    follow_up: FollowUp,
) -> None:
    """Subcommands another process acknowledged and did not finish (it died, or stopped)
    are done by this process's threads; their answers follow through the response URL, or
    in a direct message once it is spent."""
    for word, subcommand in SUBCOMMANDS.items():
        if subcommand.after is None:
            continue

        def take(received: Received, after: After = subcommand.after) -> bool:
            asked = Asked(**received.payload)
            taken = Later(engine, runner, asked, taken_over=received.received_at)

            def tell(message: blocks.Message, asked: Asked = asked) -> None:
                follow_up.send(
                    asked.team_id, asked.user_id, asked.response_url, received.received_at, message
                )

            return later.offer(partial(_after_the_ack, after, taken, tell, intake, received.id))

        intake.route(f"brain {word}", Route(take, _lease(intake, runner)))


def _lease(intake: CommandIntake, runner: HeartbeatRunner | None) -> float:
    """A cycle run now is held as long as the agent's own lease, and a little more: nobody
    takes it over while it may still run."""
    return intake.lease_seconds + (runner.settings.lease_seconds if runner else 0.0)


def _after_the_ack(
    after: After, later: Later, tell: Tell, intake: CommandIntake, intake_id: int
) -> None:
    """Do the work, then mark the command done, then answer: a command done twice (its
    first holder's lease lapsed while it worked, or it died between answering and marking
    it done) is answered by the one holder that marked it done."""
    try:
        answer = after(later)
    except Exception as error:
        if unavailable(error):
            # The database is away (restarting): the command stays held in the intake, and
            # a sweep does it (and answers) once its lease lapses.
            log.warning("intake %d left to the sweep (%s)", intake_id, type(error).__name__)
            return
        answer = answer_to_failure(error, log)
    try:
        answers = intake.finish(intake_id)
    except Exception as error:  # the database is away: the sweep takes it up again later
        log.warning("could not mark intake %d done (%s)", intake_id, type(error).__name__)
        return
    if not answers or answer is None:
        return
    try:
        tell({"response_type": "ephemeral", "replace_original": False, **answer})
    except (SlackApiError, SlackRequestError, OSError) as error:
        log.warning("could not answer intake %d: %s", intake_id, type(error).__name__)


def _help(context: BoltContext, words: str, by: Actor) -> blocks.Message:
    return blocks.help_message()


def _agents(context: BoltContext, words: str, by: Actor) -> blocks.Message:
    return blocks.agents_message(use_cases.home(reader(context), context.team_id, by).agents)


def _show(context: BoltContext, words: str, by: Actor) -> blocks.Message:
    return blocks.context_message(use_cases.agent_context(reader(context), context.team_id, words))


def _why(context: BoltContext, words: str, by: Actor) -> blocks.Message:
    if not words:
        raise InvalidInput("cycle", "give a cycle id: /brain why 42")
    return blocks.why_message(use_cases.cycle(reader(context), context.team_id, words.split()[0]))


def _run(context: BoltContext, words: str, by: Actor) -> blocks.Message:
    """Checked and answered at once; the cycle itself runs after the ack (see _run_cycle)."""
    agent = use_cases.may_run_now(reader(context), context.team_id, words, by)
    where = f"<#{agent.report_channel}>" if agent.report_channel else "here"
    return blocks.line(f"Running {agent.handle} now: its report follows {where}.")


def _run_cycle(later: Later) -> blocks.Message | None:
    runner, team_id, words = later.runner, later.asked.team_id, later.asked.words
    if runner is None:
        raise InvalidInput("run", "this server runs no heartbeats; use `salesbrain heartbeat`")
    agent, _ = use_cases.agent_named(later.reader(), team_id, words)
    # Taken over from a process that died: the cycle it ran (if it got that far) is the
    # answer, not a second one.
    ran = (
        use_cases.cycle_run_since(later.reader(), team_id, words, later.taken_over)
        if later.taken_over is not None
        else None
    )
    if ran is None:
        by = Actor.member(later.asked.user_id, origin=ORIGIN)
        result = runner.run_agent(team_id, agent.handle, by)
        ran = result.cycle_id if result is not None else None
    if ran is None or agent.report_channel:
        return None  # the outbox posts the report in the agent's channel
    cycle = use_cases.cycle(later.reader(), team_id, ran)
    return {"response_type": "in_channel", **blocks.cycle_report(cycle, learnings=0)}


def _replay(context: BoltContext, words: str, by: Actor) -> blocks.Message:
    """Checked and answered at once; the replay itself follows the ack (see _replay_cycle)."""
    cycle = use_cases.replayable(reader(context), context.team_id, *_cycle_and_model(words), by)
    return blocks.line(
        f"Replaying cycle {cycle.cycle_id} of {cycle.agent} on {cycle.brain.model}: the "
        "comparison follows here. Nothing is written."
    )


def _replay_cycle(later: Later) -> blocks.Message | None:
    runner, asked = later.runner, later.asked
    if runner is None:
        raise InvalidInput(
            "replay", "this server runs no heartbeats; use `salesbrain cycles replay`"
        )
    by = Actor.member(asked.user_id, origin=ORIGIN)
    cycle = use_cases.replayable(later.reader(), asked.team_id, *_cycle_and_model(asked.words), by)
    result = replay(runner.engine, cycle, runner.backend, runner.settings)
    return blocks.replay_message(result.as_dict())


def _cycle_and_model(words: str) -> tuple[str, str]:
    parts = words.split()
    if len(parts) != 2:
        raise InvalidInput("replay", "give a cycle and a model: /brain replay 42 claude-opus-5-5")
    return parts[0], parts[1]


def _promote(context: BoltContext, words: str, by: Actor) -> blocks.Message:
    block_id, _, tier = words.partition(" ")
    if not block_id:
        raise InvalidInput("block", "give a block id: /brain promote 12 [team|company]")
    promoted = use_cases.promote(
        writer(context), context.team_id, block_id, tier.strip() or "team", by
    )
    return blocks.promoted(
        promoted.original_id, promoted.block.id, promoted.block.tier.value, promoted.team
    )


def _forget(context: BoltContext, words: str, by: Actor) -> blocks.Message:
    if not words:
        raise InvalidInput("block", "give a block id: /brain forget 12")
    archived = use_cases.archive(writer(context), context.team_id, words.split()[0], by)
    return blocks.line(f"Block {archived.id} archived: it never surfaces again.")


def _refresh(context: BoltContext, words: str, by: Actor) -> blocks.Message:
    if not words:
        raise InvalidInput("block", "give a block id: /brain refresh 12")
    copy = use_cases.refresh(writer(context), context.team_id, words.split()[0], by)
    return blocks.line(
        f"Block {copy.id} now says what block {copy.promoted_from_id} says: "
        f"{blocks.escape(blocks.clip(copy.content, 300))}"
    )


def _company(context: BoltContext, words: str, by: Actor) -> blocks.Message:
    block = use_cases.write_company(writer(context), context.team_id, words, by)
    return blocks.line(
        f"Stored block {block.id} on the Company Brain: every agent sees it from its next cycle."
    )


def _task(context: BoltContext, words: str, by: Actor) -> blocks.Message:
    agent, title = use_cases.agent_named(reader(context), context.team_id, words)
    task = use_cases.add_task(writer(context), context.team_id, agent.handle, title, by)
    return blocks.line(f"Task {task.id} for {agent.handle}: its next cycle picks it up.")


def _role(context: BoltContext, words: str, by: Actor) -> blocks.Message:
    user, _, rest = words.partition(" ")
    mention = USER_MENTION.fullmatch(user)
    user_id = mention.group(1) if mention else user
    if not SLACK_USER_ID.fullmatch(user_id):
        raise InvalidInput("user", "mention the person: /brain role @someone manager emea")
    role, *teams = rest.split() or [""]
    member = use_cases.set_role(writer(context), context.team_id, user_id, role, teams, by)
    managed = (
        f" of {', '.join(t.slug for t in member.managed_teams)}" if member.managed_teams else ""
    )
    return blocks.line(f"<@{user_id}> is now {member.role.value}{managed}.")


def _emoji(context: BoltContext, words: str, by: Actor) -> blocks.Message:
    name = use_cases.set_promote_emoji(writer(context), context.team_id, words, by)
    return blocks.line(f"Reacting with :{name}: on a learning of a report now promotes it.")


def _autonomy(context: BoltContext, words: str, by: Actor) -> blocks.Message:
    if not words:
        return blocks.director_settings_message(
            use_cases.director_settings(reader(context), context.team_id)
        )
    settings = use_cases.configure_director(
        writer(context), context.team_id, by, autonomy=words.split()[0]
    )
    return blocks.director_settings_message(settings)


SUBCOMMANDS: dict[str, Subcommand] = {
    "help": Subcommand(_help),
    "agents": Subcommand(_agents),
    "show": Subcommand(_show),
    "why": Subcommand(_why),
    "run": Subcommand(_run, after=_run_cycle),
    "replay": Subcommand(_replay, after=_replay_cycle),
    "promote": Subcommand(_promote, writes=True),
    "forget": Subcommand(_forget, writes=True),
    "refresh": Subcommand(_refresh, writes=True),
    "company": Subcommand(_company, writes=True),
    "task": Subcommand(_task, writes=True),
    "role": Subcommand(_role, writes=True),
    "emoji": Subcommand(_emoji, writes=True),
    "autonomy": Subcommand(_autonomy, writes=True),
}
