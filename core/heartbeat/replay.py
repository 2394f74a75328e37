"""Replay: a past cycle's reasoning again, on another model, over the memory it was given.

A manager tries an upgrade before making it. The brain is the one the cycle recorded (its
blocks at their recorded content, its tasks, coaching and findings), so the two models are
compared over the same memory. Nothing is written: the replay's tool calls are checked as a
cycle checks them and never applied, and the replay itself is not stored.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace
from typing import Any

from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from core.errors import InvalidInput
from core.heartbeat.backends import Backend, ModelCallFailed, Usage
from core.heartbeat.brain import Brain, recorded_brain
from core.heartbeat.config import HeartbeatSettings
from core.heartbeat.cycle import block_facts
from core.heartbeat.records import get_cycle
from core.heartbeat.tools import CallStatus, Toolbox
from core.lifecycle import check_choosable
from core.models import Agent, Cycle, CycleStatus, Workspace
from core.permissions import Actor, check_direct, principal_for


@dataclass(frozen=True)
class Reasoning:
    """One side of a replay: what a model did with the brain, and what it cost."""

    model: str
    backend: str
    status: str
    tool_calls: list[dict[str, Any]]
    # What each record_learning call would have stored.
    learnings: list[str]
    input_tokens: int
    output_tokens: int
    duration_ms: float
    error: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "backend": self.backend,
            "status": self.status,
            "tool_calls": self.tool_calls,
            "learnings": self.learnings,
            "tokens": {"input": self.input_tokens, "output": self.output_tokens},
            "duration_ms": round(self.duration_ms, 1),
            "error": self.error,
        }


@dataclass(frozen=True)
class Replayable:
    """A cycle that may be replayed: its brain on the new model, and what it did then."""

    cycle_id: int
    agent: str
    task: str
    brain: Brain
    original: Reasoning
    # The copies the cycle itself wrote: judged as not yet there, as during the cycle.
    written: frozenset[int]


@dataclass(frozen=True)
class Replay:
    """A past cycle and its replay on another model, side by side."""

    cycle_id: int
    agent: str
    task: str
    blocks: int
    original: Reasoning
    replay: Reasoning

    @property
    def memory(self) -> str:
        """What both reasoned over, in words: "the same 3 memory blocks"."""
        return f"the same {self.blocks} memory block{'' if self.blocks == 1 else 's'}"

    def as_dict(self) -> dict[str, Any]:
        """The `cycles replay --json` shape."""
        return {
            "cycle": self.cycle_id,
            "agent": self.agent,
            "task": self.task,
            "blocks": self.blocks,
            "memory": self.memory,
            "original": self.original.as_dict(),
            "replay": self.replay.as_dict(),
            "written": False,
        }


def replayable(
    session: Session,
    workspace: Workspace,
    cycle_id: int | str,
    model: str,
    *,
    force: bool = False,
    by: Actor | None = None,
) -> Replayable:
    """Check that a cycle of this workspace may be replayed on `model` (a retired or unknown
    model is refused; `force` allows an id newer than the installed SDK); reads only. A
    person (`by`) must be an admin or a manager of the agent's team: a replay spends tokens
    as a run does. Without `by`, the operator at the command line."""
    cycle, handle = get_cycle(session, workspace, cycle_id)
    if by is not None:
        agent = session.get_one(Agent, cycle.agent_id)
        doing = f"replay {handle}'s cycle {cycle.id}"
        check_direct(principal_for(session, workspace, by), agent, doing, action="cycle.replay")
    if cycle.status is not CycleStatus.SUCCEEDED:
        why = f": {cycle.error}" if cycle.error else ""
        raise InvalidInput(
            "cycle",
            f"cycle {cycle.id} {cycle.status.value}{why}; only a cycle that reasoned "
            "can be replayed",
        )
    model = (model or "").strip()
    check_choosable(model, force=force)
    brain = recorded_brain(
        cycle.context,
        workspace_id=workspace.id,
        agent_id=cycle.agent_id,
        handle=handle,
        task_text=cycle.task,
    )
    if brain is None:
        raise InvalidInput(
            "cycle",
            f"cycle {cycle.id} was recorded before salesbrain kept a cycle's whole brain; "
            "replay a newer cycle",
        )
    return Replayable(
        cycle_id=cycle.id,
        agent=handle,
        task=cycle.task,
        brain=replace(brain, model=model),
        original=_as_recorded(cycle),
        written=frozenset(cycle.new_block_ids),
    )


def replay(
    engine: Engine, cycle: Replayable, backend: Backend, settings: HeartbeatSettings
) -> Replay:
    """Reason over the cycle's brain on its new model; no transaction is open, nothing is
    written. A failed model call is the replay's result, not an error."""
    brain = cycle.brain
    toolbox = Toolbox(
        brain.standing,
        lambda block_id: block_facts(engine, brain.workspace_id, block_id, ignoring=cycle.written),
        max_learnings=settings.max_learnings_per_cycle,
    )
    started = time.perf_counter()
    usage, error = Usage(), None
    try:
        usage = backend.reason(brain, toolbox, seconds_left=settings.lease_seconds * 0.9).usage
    except ModelCallFailed as failure:
        usage, error = failure.usage, failure.message
    duration = (time.perf_counter() - started) * 1000
    calls = [call.as_dict() for call in toolbox.calls]
    again = Reasoning(
        model=brain.model,
        backend=backend.name,
        # As a cycle would have ended: without finish_cycle, incomplete (nothing written).
        status="failed" if error else ("succeeded" if toolbox.finished else "incomplete"),
        tool_calls=calls,
        learnings=_learnings(calls),
        input_tokens=usage.input_tokens,
        output_tokens=usage.output_tokens,
        duration_ms=duration,
        error=error,
    )
    return Replay(
        cycle.cycle_id,
        cycle.agent,
        cycle.task,
        len(brain.context.blocks),
        cycle.original,
        again,
    )


def _as_recorded(cycle: Cycle) -> Reasoning:
    calls = list(cycle.tool_calls)
    return Reasoning(
        model=cycle.model,
        backend=cycle.backend,
        status=cycle.status.value,
        tool_calls=calls,
        learnings=_learnings(calls),
        input_tokens=cycle.input_tokens,
        output_tokens=cycle.output_tokens,
        duration_ms=cycle.duration_ms,
        error=cycle.error,
    )


STORED = (CallStatus.APPLIED, CallStatus.ACCEPTED)  # by a cycle, or by a replay if it could


def _learnings(calls: list[dict[str, Any]]) -> list[str]:
    """What the record_learning calls stored (a cycle) or would have stored (a replay)."""
    return [
        str(call["input"].get("content", ""))
        for call in calls
        if call["name"] == "record_learning"
        and call["status"] in (CallStatus.APPLIED, CallStatus.ACCEPTED)
    ]


def call_line(call: dict[str, Any], width: int = 90) -> str:
    """One tool call in a few words: its name, what became of it, its gist."""
    arguments = call.get("input") or {}
    gist = {
        "complete_task": f"task {arguments.get('task_id')}: {arguments.get('outcome', '')}",
        "handoff_task": f"to {arguments.get('to_agent')}: {arguments.get('title', '')}",
        "record_learning": str(arguments.get("content", "")),
        "propose_promotion": f"block {arguments.get('block_id')}: {arguments.get('reason', '')}",
        "refresh_team_copy": f"block {arguments.get('block_id')}",
        "finish_cycle": str(arguments.get("summary", "")),
    }.get(call["name"], "")
    line = " ".join(f"{call['name']} ({call['status']}) {gist}".split())
    return line if len(line) <= width else line[: width - 1] + "…"
