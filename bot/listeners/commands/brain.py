"""`/brain <subcommand>`: each subcommand parses its words and calls one core service."""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any

from slack_bolt import Ack, BoltContext, Respond
from sqlalchemy.orm import Session

from bot import blocks
from bot.listeners.errors import tell_after_the_ack
from bot.workspace import LATER, RUNNER, actor, use_case
from core import chat, memory, people
from core.context import assemble_context
from core.errors import InvalidInput
from core.heartbeat.records import cycle_view, get_cycle
from core.heartbeat.replay import replay, replayable
from core.home import home_for
from core.models import Team, Workspace
from core.permissions import SLACK_USER_ID, Actor
from core.tasks import open_tasks

log = logging.getLogger("salesbrain.slack")

USER_MENTION = re.compile(r"<@([UW][A-Z0-9]+)(?:\|[^>]*)?>")
# What follows the ack of a subcommand with work after it when the server is stopping (a
# restart, a deploy; Socket Mode delivers commands until the end).
STOPPING = "salesbrain is restarting, so this was not done: ask again in a minute."

Run = Callable[[Session, Workspace, str, Actor], blocks.Message]
After = Callable[[BoltContext, Respond, str], None]


@dataclass(frozen=True)
class Subcommand:
    run: Run
    readonly: bool = False
    # Slow work (running a cycle) done after the ack; its result follows in the channel.
    after: After | None = None


def brain_command(
    ack: Ack, command: dict[str, Any], context: BoltContext, respond: Respond
) -> None:
    """Answered in the ack: the work takes milliseconds (slow work follows the ack)."""
    word, _, rest = (command.get("text") or "").strip().partition(" ")
    subcommand = SUBCOMMANDS.get(word.lower() or "help")
    if subcommand is None:
        raise InvalidInput("/brain", f"unknown command {word!r}; one of {', '.join(SUBCOMMANDS)}")
    words = rest.strip()
    with use_case(context, readonly=subcommand.readonly) as (session, workspace):
        reply = subcommand.run(session, workspace, words, actor(context))
    # The ack first: what the work says after it must not reach Slack before it.
    ack(response_type="ephemeral", **reply)
    if subcommand.after is not None:
        after = partial(_after_the_ack, subcommand.after, context, respond, words)
        if not context[LATER].offer(after):
            respond(response_type="ephemeral", replace_original=False, **blocks.line(STOPPING))


def _after_the_ack(after: After, context: BoltContext, respond: Respond, words: str) -> None:
    try:
        after(context, respond, words)
    except Exception as error:
        tell_after_the_ack(error, respond, log)


def _help(session: Session, workspace: Workspace, words: str, by: Actor) -> blocks.Message:
    return blocks.help_message()


def _agents(session: Session, workspace: Workspace, words: str, by: Actor) -> blocks.Message:
    return blocks.agents_message(home_for(session, workspace, by).agents)


def _show(session: Session, workspace: Workspace, words: str, by: Actor) -> blocks.Message:
    agent, query = chat.mentioned_agent(session, workspace, words)
    # Without a query, the task the agent works on next: its oldest open task, else its
    # objective (as a heartbeat cycle chooses it).
    task = query or next((t.title for t in open_tasks(session, agent, 1)), agent.objective)
    return blocks.context_message(assemble_context(session, agent, task or agent.role.value))


def _why(session: Session, workspace: Workspace, words: str, by: Actor) -> blocks.Message:
    if not words:
        raise InvalidInput("cycle", "give a cycle id: /brain why 42")
    cycle, handle = get_cycle(session, workspace, words.split()[0])
    return blocks.why_message(cycle_view(cycle, handle))


def _run(session: Session, workspace: Workspace, words: str, by: Actor) -> blocks.Message:
    """Checked and answered at once; the cycle itself runs after the ack (see _run_cycle)."""
    agent, _ = chat.mentioned_agent(session, workspace, words)
    people.check_may_direct(
        session, workspace, agent, by=by, doing=f"run {agent.handle} now", action="cycle.run"
    )
    where = f"<#{agent.report_channel}>" if agent.report_channel else "here"
    return blocks.line(f"Running {agent.handle} now: its report follows {where}.")


def _run_cycle(context: BoltContext, respond: Respond, words: str) -> None:
    runner = context[RUNNER]
    if runner is None:
        raise InvalidInput("run", "this server runs no heartbeats; use `salesbrain heartbeat`")
    with use_case(context, readonly=True) as (session, workspace):
        agent, _ = chat.mentioned_agent(session, workspace, words)
        handle, channel = agent.handle, agent.report_channel
    result = runner.run_agent(context.team_id, handle)
    if result is None or channel:
        return  # the outbox posts the report in the agent's channel
    with use_case(context, readonly=True) as (session, workspace):
        cycle, _ = get_cycle(session, workspace, result.cycle_id)
        report = blocks.cycle_report(cycle_view(cycle, handle), learnings=0)
    respond(response_type="in_channel", **report)


def _replay(session: Session, workspace: Workspace, words: str, by: Actor) -> blocks.Message:
    """Checked and answered at once; the replay itself follows the ack (see _replay_cycle)."""
    cycle = replayable(session, workspace, *_cycle_and_model(words), by=by)
    return blocks.line(
        f"Replaying cycle {cycle.cycle_id} of {cycle.agent} on {cycle.brain.model}: the "
        "comparison follows here. Nothing is written."
    )


def _replay_cycle(context: BoltContext, respond: Respond, words: str) -> None:
    runner = context[RUNNER]
    if runner is None:
        raise InvalidInput(
            "replay", "this server runs no heartbeats; use `salesbrain cycles replay`"
        )
    with use_case(context, readonly=True) as (session, workspace):
        cycle = replayable(session, workspace, *_cycle_and_model(words), by=actor(context))
    result = replay(runner.engine, cycle, runner.backend, runner.settings)
    respond(
        response_type="ephemeral", replace_original=False, **blocks.replay_message(result.as_dict())
    )


def _cycle_and_model(words: str) -> tuple[str, str]:
    parts = words.split()
    if len(parts) != 2:
        raise InvalidInput("replay", "give a cycle and a model: /brain replay 42 claude-opus-5-5")
    return parts[0], parts[1]


def _promote(session: Session, workspace: Workspace, words: str, by: Actor) -> blocks.Message:
    block_id, _, tier = words.partition(" ")
    if not block_id:
        raise InvalidInput("block", "give a block id: /brain promote 12 [team|company]")
    promoted = memory.promote(session, workspace, block_id, tier.strip() or "team", by=by)
    team = session.get(Team, promoted.team_id) if promoted.team_id else None
    assert promoted.promoted_from_id is not None
    return blocks.promoted(
        promoted.promoted_from_id, promoted.id, promoted.tier.value, team.slug if team else None
    )


def _forget(session: Session, workspace: Workspace, words: str, by: Actor) -> blocks.Message:
    if not words:
        raise InvalidInput("block", "give a block id: /brain forget 12")
    archived = memory.archive(session, workspace, words.split()[0], by=by)
    return blocks.line(f"Block {archived.id} archived: it never surfaces again.")


def _refresh(session: Session, workspace: Workspace, words: str, by: Actor) -> blocks.Message:
    if not words:
        raise InvalidInput("block", "give a block id: /brain refresh 12")
    copy = memory.refresh(session, workspace, words.split()[0], by=by)
    return blocks.line(
        f"Block {copy.id} now says what block {copy.promoted_from_id} says: "
        f"{blocks.escape(blocks.clip(copy.content, 300))}"
    )


def _company(session: Session, workspace: Workspace, words: str, by: Actor) -> blocks.Message:
    block = memory.write_company(session, workspace, words, by=by)
    return blocks.line(
        f"Stored block {block.id} on the Company Brain: every agent sees it from its next cycle."
    )


def _task(session: Session, workspace: Workspace, words: str, by: Actor) -> blocks.Message:
    agent, title = chat.mentioned_agent(session, workspace, words)
    task = people.give_task(session, workspace, agent.handle, title, by=by)
    return blocks.line(f"Task {task.id} for {agent.handle}: its next cycle picks it up.")


def _role(session: Session, workspace: Workspace, words: str, by: Actor) -> blocks.Message:
    user, _, rest = words.partition(" ")
    mention = USER_MENTION.fullmatch(user)
    user_id = mention.group(1) if mention else user
    if not SLACK_USER_ID.fullmatch(user_id):
        raise InvalidInput("user", "mention the person: /brain role @someone manager emea")
    role, *teams = rest.split() or [""]
    member = people.assign_role(session, workspace, user_id, role, teams, by=by)
    managed = (
        f" of {', '.join(t.slug for t in member.managed_teams)}" if member.managed_teams else ""
    )
    return blocks.line(f"<@{user_id}> is now {member.role.value}{managed}.")


def _emoji(session: Session, workspace: Workspace, words: str, by: Actor) -> blocks.Message:
    name = chat.set_promote_emoji(session, workspace, words, by=by)
    return blocks.line(f"Reacting with :{name}: on a learning of a report now promotes it.")


SUBCOMMANDS: dict[str, Subcommand] = {
    "help": Subcommand(_help, readonly=True),
    "agents": Subcommand(_agents, readonly=True),
    "show": Subcommand(_show, readonly=True),
    "why": Subcommand(_why, readonly=True),
    "run": Subcommand(_run, readonly=True, after=_run_cycle),
    "replay": Subcommand(_replay, readonly=True, after=_replay_cycle),
    "promote": Subcommand(_promote),
    "forget": Subcommand(_forget),
    "refresh": Subcommand(_refresh),
    "company": Subcommand(_company),
    "task": Subcommand(_task),
    "role": Subcommand(_role),
    "emoji": Subcommand(_emoji),
}
