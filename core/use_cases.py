"""Use cases: one function per action, called by every surface.

Each takes a unit of work and plain values, resolves the workspace once (by Slack team id;
None is the only workspace, for the command line), acts through the domain (which checks
permissions), records a refusal in the audit log explicitly, and commits. The command line,
the Slack listeners and the agents' tools parse their input, call one of these, and render
what it returns: a permission rule cannot differ between surfaces.

A few actions span transactions of their own, through the unit of work's engine: a signals
import commits batch by batch, a cycle reasons with no transaction open, and each report of
the outbox is claimed, sent and recorded on its own.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from core import ask as asking
from core import (
    audit,
    clock,
    coaching,
    deliveries,
    digest,
    directory,
    health,
    impact,
    intake,
    memory,
    proposals,
    report_messages,
    restatements,
    retention,
    tasks,
    trends,
)
from core import usage as usage_bill
from core.coaching import CoachingNote, Outcome
from core.context import AssembledContext, assemble_context
from core.context import settings as context_settings
from core.db import UnitOfWork
from core.directory import Names, list_agents
from core.errors import PermissionDenied, Refusal
from core.heartbeat import blocked, leases, outbox, replay
from core.heartbeat.backends import Backend
from core.heartbeat.config import HeartbeatSettings
from core.heartbeat.cycle import CycleResult, run_cycle
from core.heartbeat.outbox import DeliveryRun, Sink, destination_for
from core.heartbeat.records import CycleView, cycle_view, get_cycle, manual_cycle_since
from core.heartbeat.replay import Replayable
from core.home import Home, home_for
from core.impact import NoteImpact
from core.intake import Command, Received
from core.models import Agent, Member, MemoryBlock, Task, Team, Tier
from core.permissions import Actor, check_direct, principal_for
from core.proposals import DirectorSettings, ProposalView
from core.signals import ingest
from core.signals.analysis import AnalysisResult, analyze
from core.signals.ingest import IMPORTER, ImportResult
from core.tasks import open_tasks
from core.usage import Bill


@contextmanager
def refusal_recorded(uow: UnitOfWork) -> Iterator[None]:
    """A refusal raised inside rolls back what was written, goes into the audit log, and
    is raised again for the surface to tell."""
    try:
        yield
    except Refusal as refusal:
        uow.record_refusal(refusal)
        raise


def coach(
    uow: UnitOfWork,
    team_id: str | None,
    notes: Sequence[CoachingNote],
    intake_ids: Sequence[int] = (),
) -> list[Outcome]:
    """Store coaching notes together; for each, its coaching, None (a delivery stored
    before) or the error that refused it. Refusals are audited with the stored notes, and
    the intake the notes came from (`intake_ids`) is marked done in the same transaction."""
    with uow:
        workspace = uow.workspaces.named_or_only(team_id)
        outcomes = coaching.coach(uow.session, workspace, notes)
        for refusal in (outcome for outcome in outcomes if isinstance(outcome, Refusal)):
            audit.refused(uow.session, refusal)
        intake.mark_done(uow.session, intake_ids, clock.now())
        uow.commit()
        return outcomes


@dataclass(frozen=True)
class Promoted:
    """A promotion: the copy, the block it was copied from, and the team it reaches."""

    block: MemoryBlock
    original_id: int
    team: str | None


def promote(
    uow: UnitOfWork, team_id: str | None, block_id: int | str, to: str | Tier, by: Actor
) -> Promoted:
    """Copy a block to the Team or Company Brain; refused unless `by` may promote there."""
    with uow, refusal_recorded(uow):
        workspace = uow.workspaces.named_or_only(team_id)
        copy = memory.promote(uow.session, workspace, block_id, to, by=by)
        promoted = _promoted(uow, copy)
        uow.commit()
        return promoted


def promote_by_reaction(
    uow: UnitOfWork,
    team_id: str,
    *,
    channel: str,
    ts: str,
    emoji: str,
    by: Actor,
    delivery: str | None = None,
) -> tuple[Promoted, str | None] | ProposalView | None:
    """The promote emoji on a learning of a report promotes it to the Team Brain: the
    promotion and the report's thread. On a director's proposal it approves it: the
    proposal. None when the reaction is neither, or its `delivery` (the event id) was
    handled before: it is recorded with the promotion, in one transaction."""
    with uow, refusal_recorded(uow):
        workspace = uow.workspaces.by_team_id(team_id)
        if delivery is not None and not deliveries.first_delivery(uow.session, workspace, delivery):
            return None
        approved = proposals.approve_by_reaction(
            uow.session, workspace, channel=channel, ts=ts, emoji=emoji, by=by
        )
        if approved is not None:
            shown = proposals.view(uow.session, approved)
            uow.commit()
            return shown
        outcome = report_messages.promote_by_reaction(
            uow.session, workspace, channel=channel, ts=ts, emoji=emoji, by=by
        )
        if outcome is None:
            return None
        copy, message = outcome
        promoted = _promoted(uow, copy)
        uow.commit()
        return promoted, message.thread_ts


def _promoted(uow: UnitOfWork, copy: MemoryBlock) -> Promoted:
    team = uow.session.get(Team, copy.team_id) if copy.team_id else None
    assert copy.promoted_from_id is not None
    return Promoted(copy, copy.promoted_from_id, team.slug if team else None)


def refresh(uow: UnitOfWork, team_id: str | None, block_id: int | str, by: Actor) -> MemoryBlock:
    """Bring a promoted copy up to date with its original; who may promote may refresh."""
    with uow, refusal_recorded(uow):
        workspace = uow.workspaces.named_or_only(team_id)
        copy = memory.refresh(uow.session, workspace, block_id, by=by)
        uow.commit()
        return copy


def archive(
    uow: UnitOfWork,
    team_id: str | None,
    block_id: int | str,
    by: Actor,
    reason: str | None = None,
) -> MemoryBlock:
    """Archive a block: kept on record, never surfaces again."""
    with uow, refusal_recorded(uow):
        workspace = uow.workspaces.named_or_only(team_id)
        block = memory.archive(uow.session, workspace, block_id, by=by, reason=reason)
        uow.commit()
        return block


def merge(
    uow: UnitOfWork, team_id: str | None, keep_id: int | str, drop_id: int | str, by: Actor
) -> MemoryBlock:
    """Fold a block into another that says the same (the other is archived); who may archive
    may merge."""
    with uow, refusal_recorded(uow):
        workspace = uow.workspaces.named_or_only(team_id)
        kept = health.merge(uow.session, workspace, keep_id, drop_id, by=by)
        uow.commit()
        return kept


def write_company(uow: UnitOfWork, team_id: str | None, text: str, by: Actor) -> MemoryBlock:
    """Write workspace-wide knowledge on the Company Brain (admins only)."""
    with uow, refusal_recorded(uow):
        workspace = uow.workspaces.named_or_only(team_id)
        block = memory.write_company(uow.session, workspace, text, by=by)
        uow.commit()
        return block


def add_task(
    uow: UnitOfWork, team_id: str | None, agent: str, title: str, by: Actor, detail: str = ""
) -> Task:
    """Give an agent a task (admins and its team's managers); its next cycle picks it up."""
    with uow, refusal_recorded(uow):
        workspace = uow.workspaces.named_or_only(team_id)
        task = tasks.give_task(uow.session, workspace, agent, title, by=by, detail=detail)
        uow.commit()
        return task


def run_cycle_now(
    uow: UnitOfWork,
    team_id: str | None,
    handle: str,
    by: Actor,
    backend: Backend,
    settings: HeartbeatSettings,
    worker: str,
) -> CycleResult | None:
    """Run an agent's cycle now, due or not (admins, its team's managers, the operator):
    claimed in this unit of work, then reasoned and written by the cycle's own (None: the
    lease was lost before the write)."""
    with uow, refusal_recorded(uow):
        workspace = uow.workspaces.named_or_only(team_id)
        agent = directory.get_agent(uow.session, workspace, handle)
        principal = principal_for(uow.session, workspace, by)
        check_direct(principal, agent, f"run {agent.handle} now", action="cycle.run")
        claim = leases.claim_agent(
            uow.session, agent, worker, now=clock.now(), lease_seconds=settings.lease_seconds
        )
        uow.commit()
    return run_cycle(uow.engine, claim, backend, settings)


def deliver_reports(
    uow: UnitOfWork, sinks: Sequence[Sink], settings: HeartbeatSettings, worker: str
) -> DeliveryRun:
    """Deliver the outbox's due reports through the sinks (claimed, sent by a few threads a
    channel each, and recorded in short transactions: a slow channel holds no lock)."""
    return outbox.deliver_pending(uow.engine, sinks, settings, worker)


def prune(uow: UnitOfWork, outbox_days: float) -> retention.Pruned:
    """Forget delivered reports older than `outbox_days` and deliveries too old to be
    retried (of every workspace: the operator's housekeeping)."""
    return retention.prune(uow.engine, now=clock.now(), outbox_days=outbox_days)


def import_signals(
    uow: UnitOfWork,
    team_id: str | None,
    lines: Iterable[str],
    fmt: str | None = None,
    by: Actor = IMPORTER,
) -> ImportResult:
    """Store performance signals (CSV with a header, or JSON Lines; None detects which).
    Batches commit one by one, so the good rows stand when others are bad."""
    with uow:
        workspace = uow.workspaces.named_or_only(team_id)
    return ingest.import_signals(uow.engine, workspace, lines, fmt, by=by)


@dataclass(frozen=True)
class Analysed:
    """An analysis, with the workspace's handles and slugs to name the blocks' owners."""

    result: AnalysisResult
    names: Names


def analyse_signals(uow: UnitOfWork, team_id: str | None, agent: str | None = None) -> Analysed:
    """Turn signals into findings now (one agent and, for a director, its team; or all):
    learning blocks written, updated or superseded."""
    with uow:
        workspace = uow.workspaces.named_or_only(team_id)
        result = analyze(uow.session, workspace, agent)
        names = Names.of(uow.session, workspace)
        uow.commit()
        return Analysed(result, names)


def may_run_now(uow: UnitOfWork, team_id: str | None, words: str, by: Actor) -> Agent:
    """The agent the words name, when `by` may run its cycle now (admins and its team's
    managers)."""
    with uow, refusal_recorded(uow):
        workspace = uow.workspaces.named_or_only(team_id)
        found, _ = directory.mentioned_agent(uow.session, workspace, words)
        principal = principal_for(uow.session, workspace, by)
        check_direct(principal, found, f"run {found.handle} now", action="cycle.run")
        return found


def set_role(
    uow: UnitOfWork,
    team_id: str | None,
    slack_user_id: str,
    role: str,
    teams: Sequence[str],
    by: Actor,
) -> Member:
    """Give a person a role: admin, member, or manager of the named teams (admins only)."""
    with uow, refusal_recorded(uow):
        workspace = uow.workspaces.named_or_only(team_id)
        member = directory.assign_role(uow.session, workspace, slack_user_id, role, teams, by=by)
        uow.commit()
        return member


def set_promote_emoji(uow: UnitOfWork, team_id: str | None, emoji: str, by: Actor) -> str:
    """Change the reaction that promotes a learning of a report (admins only)."""
    with uow, refusal_recorded(uow):
        workspace = uow.workspaces.named_or_only(team_id)
        name = report_messages.set_promote_emoji(uow.session, workspace, emoji, by=by)
        uow.commit()
        return name


@dataclass(frozen=True)
class WorkspaceSettings:
    """What `salesbrain workspace set` shows and changes."""

    director: DirectorSettings
    digest: digest.Schedule


def workspace_settings(uow: UnitOfWork, team_id: str | None) -> WorkspaceSettings:
    """The directors' autonomy and coaching limit, and when the weekly digests are posted."""
    with uow:
        workspace = uow.workspaces.named_or_only(team_id)
        return WorkspaceSettings(DirectorSettings.of(workspace), digest.Schedule.of(workspace))


def configure_workspace(
    uow: UnitOfWork,
    team_id: str | None,
    by: Actor,
    *,
    autonomy: str | None = None,
    notes_per_day: int | str | None = None,
    digest_day: str | None = None,
    digest_hour: int | None = None,
) -> WorkspaceSettings:
    """Change the workspace's settings (admins only), all or none; what is not given stays."""
    with uow, refusal_recorded(uow):
        workspace = uow.workspaces.named_or_only(team_id)
        director = DirectorSettings.of(workspace)
        if autonomy is not None or notes_per_day is not None:
            director = proposals.configure(
                uow.session, workspace, by=by, autonomy=autonomy, notes_per_day=notes_per_day
            )
        schedule = digest.Schedule.of(workspace)
        if digest_day is not None or digest_hour is not None:
            schedule = digest.set_schedule(
                uow.session, workspace, day=digest_day, hour=digest_hour, by=by
            )
        uow.commit()
        return WorkspaceSettings(director, schedule)


def configure_context(
    uow: UnitOfWork, team_id: str | None, changes: dict[str, Any], by: Actor
) -> context_settings.ContextSettings:
    """Change how context assembly weighs memory (admins only); the rest keeps its value."""
    with uow, refusal_recorded(uow):
        workspace = uow.workspaces.named_or_only(team_id)
        settings = context_settings.configure(uow.session, workspace, changes, by=by)
        uow.commit()
        return settings


def configure_director(
    uow: UnitOfWork,
    team_id: str | None,
    by: Actor,
    *,
    autonomy: str | None = None,
    notes_per_day: int | str | None = None,
) -> DirectorSettings:
    """Change whether directors' promotions and coaching wait for a manager (`propose`) or
    apply at once (`apply`), and their coaching limit (admins only)."""
    with uow, refusal_recorded(uow):
        workspace = uow.workspaces.named_or_only(team_id)
        settings = proposals.configure(
            uow.session, workspace, by=by, autonomy=autonomy, notes_per_day=notes_per_day
        )
        uow.commit()
        return settings


def approve_proposal(
    uow: UnitOfWork, team_id: str | None, proposal_id: int | str, by: Actor
) -> ProposalView:
    """Apply a director's pending proposal (admins and managers of its team)."""
    with uow, refusal_recorded(uow):
        workspace = uow.workspaces.named_or_only(team_id)
        proposal = proposals.approve(uow.session, workspace, proposal_id, by=by)
        shown = proposals.view(uow.session, proposal)
        uow.commit()
        return shown


def reject_proposal(
    uow: UnitOfWork,
    team_id: str | None,
    proposal_id: int | str,
    by: Actor,
    reason: str | None = None,
) -> ProposalView:
    """Turn down a director's pending proposal (admins and managers of its team)."""
    with uow, refusal_recorded(uow):
        workspace = uow.workspaces.named_or_only(team_id)
        proposal = proposals.reject(uow.session, workspace, proposal_id, by=by, reason=reason)
        shown = proposals.view(uow.session, proposal)
        uow.commit()
        return shown


def retract_proposal(
    uow: UnitOfWork, team_id: str | None, proposal_id: int | str, by: Actor
) -> ProposalView:
    """Undo a director's applied proposal, archiving what it wrote (admins and managers of
    its team)."""
    with uow, refusal_recorded(uow):
        workspace = uow.workspaces.named_or_only(team_id)
        proposal = proposals.retract(uow.session, workspace, proposal_id, by=by)
        shown = proposals.view(uow.session, proposal)
        uow.commit()
        return shown


def retry_reports(uow: UnitOfWork, team_id: str | None, message_id: int | None, by: Actor) -> int:
    """Try a report that failed or waits for a fix again now (with the reports waiting for
    the same destination, in order), or every such report (None); how many are due now."""
    with uow:
        workspace = uow.workspaces.named_or_only(team_id)
        due = outbox.retry(uow.session, workspace, message_id)
        target = f"outbox:{message_id}" if message_id is not None else "outbox:all"
        audit.record(uow.session, workspace, by, "outbox.retry", target, f"{due} due now")
        uow.commit()
        return due


def channel_joined(uow: UnitOfWork, team_id: str, channel: str, delivery: str | None = None) -> int:
    """The bot joined a channel: the reports waiting for it go out now, in order; how many
    (none when its `delivery`, the event id, was handled before: recorded with them)."""
    with uow:
        workspace = uow.workspaces.by_team_id(team_id)
        if delivery is not None and not deliveries.first_delivery(uow.session, workspace, delivery):
            return 0
        due = blocked.release(uow.session, workspace.id, destination_for(channel))
        if due:
            audit.record(
                uow.session,
                workspace,
                Actor.system("slack", origin="slack"),
                "outbox.release",
                f"channel:{channel}",
                f"salesbrain joined the channel: {due} waiting reports due now",
            )
        uow.commit()
        return due


@dataclass(frozen=True)
class OutboxState:
    """The outbox as the operator sees it: its latest reports and the open problems."""

    messages: list[outbox.Listed]
    problems: list[blocked.Problem]


def outbox_state(uow: UnitOfWork, team_id: str | None, *, failed: bool, limit: int) -> OutboxState:
    """The latest reports (only those failed or waiting for a fix: `failed`), and why."""
    with uow:
        workspace = uow.workspaces.named_or_only(team_id)
        return OutboxState(
            outbox.list_messages(uow.session, workspace, failed=failed, limit=limit),
            blocked.open_problems(uow.session, workspace),
        )


# What the surfaces show: read-only, one unit of work each.


def director_proposals(
    uow: UnitOfWork, team_id: str | None, status: str | None = None
) -> list[ProposalView]:
    """The workspace's director proposals, newest first (of one status when given)."""
    with uow:
        return proposals.list_proposals(uow.session, uow.workspaces.named_or_only(team_id), status)


def director_settings(uow: UnitOfWork, team_id: str | None) -> DirectorSettings:
    """The workspace's autonomy and coaching limit for its directors."""
    with uow:
        return DirectorSettings.of(uow.workspaces.named_or_only(team_id))


def home(uow: UnitOfWork, team_id: str | None, by: Actor) -> Home:
    """What `by` sees on the App Home (and in `/brain agents`)."""
    with uow:
        return home_for(uow.session, uow.workspaces.named_or_only(team_id), by)


def memory_health(
    uow: UnitOfWork, team_id: str | None, by: Actor, days: int = health.UNUSED_DAYS
) -> health.Health:
    """What has gone stale in the memory `by` may tidy, each item with its action."""
    with uow:
        return health.memory_health(
            uow.session, uow.workspaces.named_or_only(team_id), by, days=days
        )


def agent_context(uow: UnitOfWork, team_id: str | None, words: str) -> AssembledContext:
    """What the agent named first would see for the rest of the words, else for the task
    it works on next: its oldest open task, else its objective (as a cycle chooses it)."""
    with uow:
        workspace = uow.workspaces.named_or_only(team_id)
        agent, query = directory.mentioned_agent(uow.session, workspace, words)
        task = query or next((t.title for t in open_tasks(uow.session, agent, 1)), agent.objective)
        return assemble_context(uow.session, agent, task or agent.role.value)


def cycle(uow: UnitOfWork, team_id: str | None, cycle_id: int | str) -> CycleView:
    """One cycle of the workspace, with the blocks that shaped it."""
    with uow:
        found, handle = get_cycle(uow.session, uow.workspaces.named_or_only(team_id), cycle_id)
        return cycle_view(found, handle)


@dataclass(frozen=True)
class BlockShown:
    """One block with the names of its owners, the cycles that confirmed it and, for a
    coaching note, its measured impact."""

    block: MemoryBlock
    names: Names
    confirmed_by: list[dict[str, Any]]
    impact: NoteImpact | None


def block_shown(uow: UnitOfWork, team_id: str | None, block_id: int | str) -> BlockShown:
    """One block with every field, the cycles that confirmed it and, for a coaching note,
    its measured impact (`memory show`)."""
    with uow:
        workspace = uow.workspaces.named_or_only(team_id)
        block = memory.get_block(uow.session, workspace, block_id)
        return BlockShown(
            block,
            Names.of(uow.session, workspace),
            restatements.confirmations(uow.session, workspace, block.id),
            impact.note_impact(uow.session, workspace, block),
        )


def coaching_impact(
    uow: UnitOfWork, team_id: str | None, agent: str | None = None
) -> list[impact.NoteImpact]:
    """The measured impact of the coaching notes of one agent, or of every agent."""
    with uow:
        workspace = uow.workspaces.named_or_only(team_id)
        agents = (
            [directory.get_agent(uow.session, workspace, agent)]
            if agent
            else list_agents(uow.session, workspace)
        )
        return impact.coaching_impact(uow.session, workspace, agents)


def finding_trend(uow: UnitOfWork, team_id: str | None, block_id: int | str) -> trends.FindingTrend:
    """A finding's rate week by week, for its chart (`salesbrain chart finding`)."""
    with uow:
        return trends.finding_trend(uow.session, uow.workspaces.named_or_only(team_id), block_id)


def note_trend(uow: UnitOfWork, team_id: str | None, block_id: int | str) -> impact.NoteImpact:
    """A coaching note's reply rates with, without and before it, for its chart."""
    with uow:
        return trends.note_trend(uow.session, uow.workspaces.named_or_only(team_id), block_id)


def team_weeks(uow: UnitOfWork, team_id: str | None, team: str) -> trends.TeamWeeks:
    """A team's cycles, learnings and promotions per week, for its chart."""
    with uow:
        return trends.team_weeks(uow.session, uow.workspaces.named_or_only(team_id), team)


def weekly_digest(uow: UnitOfWork, team_id: str | None, team: str) -> digest.Digest:
    """The team's digest of the last seven days (`salesbrain digest`)."""
    with uow:
        workspace = uow.workspaces.named_or_only(team_id)
        return digest.weekly_digest(uow.session, workspace, team)


def agents(uow: UnitOfWork, team_id: str | None) -> list[Agent]:
    """The workspace's agents, by handle."""
    with uow:
        return list_agents(uow.session, uow.workspaces.named_or_only(team_id))


def replayable(
    uow: UnitOfWork, team_id: str | None, cycle_id: int | str, model: str, by: Actor
) -> Replayable:
    """A cycle that `by` may replay on `model` (admins and its team's managers)."""
    with uow, refusal_recorded(uow):
        workspace = uow.workspaces.named_or_only(team_id)
        return replay.replayable(uow.session, workspace, cycle_id, model, by=by)


def usage(uow: UnitOfWork, team_id: str | None, since: str, by: str) -> Bill:
    """The token bill of the workspace's cycles since `since` (7d, 24h, a date), per agent
    or per team."""
    with uow:
        workspace = uow.workspaces.named_or_only(team_id)
        start = usage_bill.since_from(since, clock.now())
        return usage_bill.bill(uow.session, workspace, since=start, by=usage_bill.grouping(by))


def agent_named(uow: UnitOfWork, team_id: str | None, words: str) -> tuple[Agent, str]:
    """The agent the words start with (`@sdr-emea`, a display name, a mention), and the rest."""
    with uow:
        workspace = uow.workspaces.named_or_only(team_id)
        return directory.mentioned_agent(uow.session, workspace, words)


def ask(
    uow: UnitOfWork,
    team_id: str | None,
    question: str,
    by: Actor,
    writer: asking.AnswerWriter,
    *,
    viewing_channel: str | None = None,
    asker_team_id: str | None = None,
) -> asking.Answer:
    """Answer a question about the brain from the records `by` may read; a person of
    another workspace (`asker_team_id`) gets nothing. The model writes outside the unit of
    work: no transaction stays open while it does."""
    with uow, refusal_recorded(uow):
        workspace = uow.workspaces.named_or_only(team_id)
        if asker_team_id and asker_team_id != team_id:
            raise PermissionDenied(
                f"{by.ref} belongs to another Slack workspace: salesbrain answers the people "
                "of this one only",
                workspace_id=workspace.id,
                actor=str(by),
                origin=by.origin,
                action="ask",
                target=f"workspace:{team_id}",
            )
        grounds = asking.gather(uow.session, workspace, question, by, viewing_channel)
    return asking.written(grounds, writer)


def cycle_run_since(
    uow: UnitOfWork, team_id: str | None, words: str, since: datetime
) -> int | None:
    """The latest cycle the agent the words name ran on request since `since`, if any."""
    with uow:
        workspace = uow.workspaces.named_or_only(team_id)
        agent, _ = directory.mentioned_agent(uow.session, workspace, words)
        return manual_cycle_since(uow.session, agent, since)


# The intake: commands acknowledged to chat, stored inside the ack, done after it. Keyed by
# the Slack team id as received: storing one resolves no workspace, so the ack stays quick.


def receive(uow: UnitOfWork, commands: Sequence[Command], *, owner: str) -> list[int | None]:
    """Store commands before their acks, together, held by `owner`: for each, its intake
    id, or None when this delivery of it was stored before."""
    with uow.transaction() as connection:
        return intake.receive(connection, commands, owner=owner, now=clock.now())


def claim_intake(
    uow: UnitOfWork, leases: Mapping[str, float], *, owner: str, limit: int
) -> list[Received]:
    """Claim commands whose holder's lease lapsed, up to `limit` of each kind in `leases`
    (each held for its kind's lease); commands that failed too often are given up."""
    with uow:
        now = clock.now()
        claimed = []
        for kind, lease_seconds in leases.items():
            claimed += intake.claim_lapsed(
                uow.session, kind, owner=owner, now=now, lease_seconds=lease_seconds, limit=limit
            )
        intake.tidy(uow.session, now)
        uow.commit()
        return claimed


def intake_done(uow: UnitOfWork, ids: Sequence[int]) -> None:
    """The work of these commands is done: nobody claims them again."""
    with uow:
        intake.mark_done(uow.session, ids, clock.now())
        uow.commit()


def finish_intake(uow: UnitOfWork, intake_id: int) -> bool:
    """Mark a command done before its answer leaves: True when this call did, and its caller
    answers; False when another holder did (and answered)."""
    with uow:
        finished = intake.finish(uow.session, intake_id, clock.now())
        uow.commit()
        return finished


def release_intake(uow: UnitOfWork, ids: Sequence[int], *, untried: bool = False) -> None:
    """Their holder will not do these commands after all (it is stopping, or its queue is
    full): anyone may claim them; `untried` ones do not count as an attempt."""
    with uow:
        intake.release(uow.session, ids, clock.now(), untried=untried)
        uow.commit()
