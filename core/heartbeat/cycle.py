"""One heartbeat of one agent: brain assembly, reasoning, then one transaction that writes it all.

No transaction is open while the model reasons (a model call takes seconds; SQLite has one
writer). The cycle's one write transaction checks that the lease is still ours, stores the
cycle, applies the accepted tool calls, counts the usage of the blocks that surfaced and
queues the report in the outbox. A cycle whose model call failed, or whose model never
called finish_cycle (incomplete), stores the cycle, its report and the audit of its refused
calls, and nothing else: no memory, no tasks.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from datetime import datetime
from functools import partial
from typing import Any, cast

from sqlalchemy import Table, bindparam, exists, insert, select, update
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from core import clock, impact
from core.context import record_usage
from core.db import unit_of_work
from core.errors import DomainError
from core.heartbeat import leases, outbox
from core.heartbeat.backends import OFFLINE, Backend, ModelCallFailed, Usage
from core.heartbeat.brain import Brain, assemble_brain
from core.heartbeat.config import HeartbeatSettings
from core.heartbeat.leases import Claim
from core.heartbeat.records import cycle_view
from core.heartbeat.report import render_report
from core.heartbeat.tools import (
    BlockFacts,
    CallRefused,
    CallStatus,
    Toolbox,
    apply_calls,
    audit_refusals,
)
from core.lifecycle import ModelState, retired_message
from core.models import (
    Agent,
    AgentStatus,
    Cycle,
    CycleStatus,
    CycleTrigger,
    MemoryBlock,
    Team,
    Tier,
    Workspace,
)
from core.pricing import cost_usd
from core.signals import analyze_agent, has_new_signals

log = logging.getLogger(__name__)

# Built once, with bind parameters: SQLAlchemy spends more building and keying a statement
# than SQLite spends running it, and every cycle runs these.
CYCLES = cast(Table, Cycle.__table__)
_AGENT_AND_WORKSPACE = (
    select(Agent, Workspace)
    .join(Workspace, Workspace.id == Agent.workspace_id)
    .where(Agent.id == bindparam("agent_id"))
)
_INSERT_CYCLE = insert(CYCLES).returning(CYCLES.c.id)
# What the write transaction learns after inserting the cycle: the fate of the tool calls.
_OUTCOME = ("tool_calls", "new_block_ids", "handoff_task_ids", "finished_at", "duration_ms")
_FINISH_CYCLE = (
    update(CYCLES)
    .where(CYCLES.c.id == bindparam("cycle_id"))
    .values({key: bindparam(f"new_{key}") for key in _OUTCOME})
)


@dataclass(frozen=True)
class CycleResult:
    """How a cycle ended, for the runner's log line and the benchmark."""

    cycle_id: int
    handle: str
    status: CycleStatus
    summary: str
    duration_ms: float
    model_ms: float


@dataclass
class Reasoned:
    """What the reasoning step leaves for the write step."""

    toolbox: Toolbox
    usage: Usage = field(default_factory=Usage)
    text: str = ""
    error: str | None = None
    skipped: bool = False
    incomplete: bool = False


def run_cycle(
    engine: Engine, claim: Claim, backend: Backend, settings: HeartbeatSettings
) -> CycleResult | None:
    """Run one claimed agent's cycle to its end; None when the agent no longer exists."""
    started_at, started = clock.now(), time.perf_counter()
    prepared = prepare(engine, claim, settings)
    if prepared is None:
        return None
    brain, paused = prepared
    if paused:
        toolbox = Toolbox(brain.standing, _no_blocks, max_learnings=0)
        reasoned = Reasoned(toolbox, error="the agent was paused", skipped=True)
    elif brain.model_status is not None and brain.model_status.state is ModelState.RETIRED:
        # The API would only refuse it: fail the cycle with the command that fixes it.
        toolbox = Toolbox(brain.standing, _no_blocks)
        reasoned = Reasoned(toolbox, error=retired_message(brain.handle, brain.model_status))
    else:
        reasoned = reason(engine, brain, backend, claim, settings)
    return _store(engine, claim, brain, reasoned, backend.name, settings, started_at, started)


def prepare(
    engine: Engine, claim: Claim, settings: HeartbeatSettings, *, analysed: bool = False
) -> tuple[Brain, bool] | None:
    """Signal analysis when there are new signals, then brain assembly; with whether the
    agent is paused (its scheduled cycle is skipped), or None when the agent is gone.

    Most cycles find no new signal: they only read, and never queue for SQLite's one writer."""
    with unit_of_work(engine, readonly=True) as session:
        found = _agent_and_workspace(session, claim)
        if found is None:
            return None
        agent, workspace = found
        paused = claim.trigger is CycleTrigger.SCHEDULE and agent.status is AgentStatus.PAUSED
        if paused or analysed or not has_new_signals(session, workspace, agent):
            return assemble_brain(session, workspace, agent, settings), paused
    with unit_of_work(engine) as session:
        found = _agent_and_workspace(session, claim)
        if found is None:
            return None
        analyze_signals(session, found[1], found[0])
    return prepare(engine, claim, settings, analysed=True)


def _agent_and_workspace(session: Session, claim: Claim) -> tuple[Agent, Workspace] | None:
    row = session.execute(_AGENT_AND_WORKSPACE, {"agent_id": claim.agent_id}).first()
    return None if row is None else (row[0], row[1])


def analyze_signals(session: Session, workspace: Workspace, agent: Agent) -> None:
    """Bring the agent's signal findings up to date before its brain is assembled (for a
    director, its team's pooled findings too), and flag its coaching notes that new results
    show to hurt. A failed analysis leaves the findings as they were and the cycle goes on."""
    try:
        with session.begin_nested():
            analyze_agent(session, workspace, agent)
            impact.flag_negative(session, workspace, agent)
    except DomainError as error:
        log.warning("signal analysis for %s failed: %s", agent.handle, error.message)


def reason(
    engine: Engine, brain: Brain, backend: Backend, claim: Claim, settings: HeartbeatSettings
) -> Reasoned:
    """The model's turn: no transaction is open; tool calls are only checked, not applied."""
    toolbox = Toolbox(
        brain.standing,
        lambda block_id: block_facts(engine, brain.workspace_id, block_id),
        max_learnings=settings.max_learnings_per_cycle,
    )
    # Stop well before the lease lapses, so that no other worker starts this agent meanwhile.
    margin = settings.lease_seconds * 0.1
    seconds_left = (claim.expires_at - clock.now()).total_seconds() - margin
    try:
        reasoning = backend.reason(brain, toolbox, seconds_left=seconds_left)
    except ModelCallFailed as failure:
        return Reasoned(toolbox, failure.usage, error=failure.message)
    except Exception as error:  # a bug fails one cycle, not the worker
        log.exception("the cycle of %s failed", brain.handle)
        return Reasoned(toolbox, error=f"internal error: {type(error).__name__}: {error}")
    reasoned = Reasoned(toolbox, reasoning.usage, reasoning.text)
    if not toolbox.finished:
        reasoned.error = (
            f"the model did not call finish_cycle within {settings.max_turns} turns: "
            "nothing it asked for was written"
        )
        reasoned.incomplete = True
    return reasoned


def block_facts(
    engine: Engine, workspace_id: int, block_id: int, *, ignoring: frozenset[int] = frozenset()
) -> BlockFacts | None:
    """What a promotion check needs to know about a block of this workspace; a copy among
    `ignoring` does not count (a replay judges as before its cycle wrote its copies)."""
    with unit_of_work(engine, readonly=True) as session:
        block = session.scalar(
            select(MemoryBlock).where(
                MemoryBlock.id == block_id, MemoryBlock.workspace_id == workspace_id
            )
        )
        if block is None:
            return None
        team_id = block.team_id
        if block.tier is Tier.PERSONAL and block.agent_id is not None:
            team_id = session.scalar(select(Agent.team_id).where(Agent.id == block.agent_id))
        slug = session.scalar(select(Team.slug).where(Team.id == team_id)) if team_id else None
        promoted = session.scalar(
            select(
                exists().where(
                    MemoryBlock.promoted_from_id == block.id,
                    MemoryBlock.tier == Tier.TEAM,
                    MemoryBlock.id.not_in(ignoring),
                )
            )
        )
        return BlockFacts(block.id, block.tier, block.status, team_id, slug, bool(promoted))


def _no_blocks(_: int) -> BlockFacts | None:
    return None


def _store(
    engine: Engine,
    claim: Claim,
    brain: Brain,
    reasoned: Reasoned,
    backend: str,
    settings: HeartbeatSettings,
    started_at: datetime,
    started: float,
) -> CycleResult | None:
    """The cycle's one write transaction; rolled back and written again when a tool call is
    refused in it. A refused call is left out of the next attempt, so it ends."""
    values = _cycle_values(claim, brain, reasoned, backend, started_at)
    while True:
        try:
            with unit_of_work(engine) as session:
                return _write(session, claim, brain, reasoned, settings, dict(values), started)
        except CallRefused:
            continue


def _write(
    session: Session,
    claim: Claim,
    brain: Brain,
    reasoned: Reasoned,
    settings: HeartbeatSettings,
    values: dict[str, Any],
    started: float,
) -> CycleResult | None:
    """Other cycles queue for SQLite's one writer while this runs: the cycle's row is
    prepared before it begins, and the cycle's own rows are written with Core statements,
    cheaper than the ORM's unit of work (the memory and task services keep theirs)."""
    found = _agent_and_workspace(session, claim)
    if found is None:
        return None
    agent, workspace = found
    held = leases.finish(
        session,
        claim,
        last_cycle_at=brain.assembled_at,
        next_run_at=leases.next_run(
            agent.id,
            agent.interval_minutes,
            clock.now(),
            jitter_share=settings.jitter_share,
            max_jitter_seconds=settings.max_jitter_seconds,
        ),
    )
    if not held:
        reasoned.error = "the lease lapsed and another worker took the agent"
    values |= {"status": _status(held, reasoned), "error": reasoned.error}
    cycle_id = session.execute(_INSERT_CYCLE, values).scalar_one()
    if values["status"] is CycleStatus.SUCCEEDED:
        apply_calls(session, workspace, agent, reasoned.toolbox.calls, cycle_id)
        record_usage(session, brain.surfaced_block_ids())
    else:
        audit_refusals(session, workspace, agent, reasoned.toolbox.calls, cycle_id)
    values |= _calls_as_stored(values["status"], reasoned.toolbox)
    values |= {"finished_at": clock.now(), "duration_ms": (time.perf_counter() - started) * 1000}
    session.execute(_FINISH_CYCLE, _outcome(cycle_id, values))
    cycle = Cycle(id=cycle_id, **values)  # not added to the session: for the report only
    if cycle.status is not CycleStatus.SKIPPED:
        text = partial(_text_report, cycle, agent.handle)
        outbox.queue(session, cycle, agent.report_channel, text)
    return CycleResult(
        cycle_id,
        agent.handle,
        cycle.status,
        cycle.error or cycle.report,
        cycle.duration_ms,
        cycle.model_ms,
    )


def _text_report(cycle: Cycle, handle: str) -> str:
    return render_report(cycle_view(cycle, handle))


def _outcome(cycle_id: int, values: dict[str, Any]) -> dict[str, Any]:
    # Parameters named apart from the columns: an UPDATE would SET a column so named.
    return {"cycle_id": cycle_id} | {f"new_{key}": values[key] for key in _OUTCOME}


def _status(held: bool, reasoned: Reasoned) -> CycleStatus:
    if not held or reasoned.skipped:
        return CycleStatus.SKIPPED
    if reasoned.incomplete:
        return CycleStatus.INCOMPLETE
    return CycleStatus.FAILED if reasoned.error is not None else CycleStatus.SUCCEEDED


def _cycle_values(
    claim: Claim, brain: Brain, reasoned: Reasoned, backend: str, started_at: datetime
) -> dict[str, Any]:
    report = reasoned.toolbox.report
    usage = reasoned.usage
    return {
        "workspace_id": claim.workspace_id,
        "agent_id": claim.agent_id,
        "trigger": claim.trigger,
        "task_id": brain.task.id if brain.task else None,
        "task": brain.task_text,
        "context": brain.as_record(),
        "backend": backend,
        "model": brain.model,
        "input_tokens": usage.input_tokens,
        "output_tokens": usage.output_tokens,
        "cache_read_tokens": usage.cache_read_tokens,
        "cache_write_tokens": usage.cache_write_tokens,
        "model_calls": usage.calls,
        "retries": usage.retries,
        "cost_usd": cycle_cost(backend, brain.model, usage),
        "report": report.summary if report else reasoned.text,
        "actions": list(report.actions) if report else [],
        "worker": claim.owner,
        "scheduled_for": claim.scheduled_for,
        "started_at": started_at,
        "model_ms": usage.model_ms,
        "tool_calls": [],
        "new_block_ids": [],
        "handoff_task_ids": [],
        "finished_at": None,
        "duration_ms": 0.0,
    }


def cycle_cost(backend: str, model: str, usage: Usage) -> float | None:
    """What the cycle's model calls cost: nothing offline (no tokens are billed), else its
    tokens at the price table's prices, None when the model has none."""
    if backend == OFFLINE:
        return 0.0
    return cost_usd(model, usage.counts())


def _calls_as_stored(status: CycleStatus, toolbox: Toolbox) -> dict[str, Any]:
    """The calls as stored: a cycle that did not succeed discards what it had accepted."""
    if status is not CycleStatus.SUCCEEDED:
        for call in toolbox.calls:
            if call.status is CallStatus.ACCEPTED:
                call.status = CallStatus.DISCARDED
    applied = [call for call in toolbox.calls if call.status is CallStatus.APPLIED]
    return {
        "tool_calls": [call.as_dict() for call in toolbox.calls],
        "new_block_ids": [call.block_id for call in applied if call.block_id is not None],
        "handoff_task_ids": [
            call.task_id for call in applied if call.name == "handoff_task" and call.task_id
        ],
    }
