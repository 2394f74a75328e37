"""Cycle records: finding them, and their typed view."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from core import rules
from core.directory import get_agent
from core.errors import InvalidInput, NotFound
from core.heartbeat.tools import CallStatus, ToolCall
from core.lifecycle import ModelState, end_of_life, model_status, upgrade_hint
from core.models import Agent, Cycle, CycleStatus, CycleTrigger, Workspace
from core.pricing import cache_share


@dataclass(frozen=True)
class TokenUsage:
    input: int
    output: int
    cache_read: int
    cache_write: int

    @property
    def prompt(self) -> int:
        """Every input token: fresh, written to and read from the prompt cache."""
        return self.input + self.cache_read + self.cache_write

    @property
    def cache_share(self) -> float:
        """The share of all input tokens read from the prompt cache."""
        return round(cache_share(self.input, self.cache_read, self.cache_write), 4)


@dataclass(frozen=True)
class CycleView:
    """Every field of a cycle, as each surface renders it (the CLI's JSON, the text report,
    Slack's Block Kit)."""

    id: int
    agent: str
    status: CycleStatus
    trigger: CycleTrigger
    model: str
    backend: str
    model_end_of_life: str | None  # ISO date, for a deprecated or retired model
    upgrade_hint: str | None
    task_id: int | None  # None: the agent worked on its objective
    task: str
    scheduled_for: datetime | None
    started_at: datetime | None
    finished_at: datetime | None
    duration_ms: float
    model_ms: float
    tokens: TokenUsage
    cost_usd: float | None  # None: no price for the model
    model_calls: int
    retries: int
    # The assembly's record: the blocks that shaped the cycle, each with its scores.
    context: dict[str, Any]
    tool_calls: tuple[ToolCall, ...]
    report: str | None
    actions: tuple[str, ...]
    new_block_ids: tuple[int, ...]
    handoff_task_ids: tuple[int, ...]
    error: str | None
    worker: str | None
    slack_channel: str | None
    slack_ts: str | None

    @property
    def overhead_ms(self) -> float:
        """The cycle's time outside the model: salesbrain's own."""
        return round(self.duration_ms - self.model_ms, 1)

    @property
    def context_blocks(self) -> list[dict[str, Any]]:
        """The blocks of the context, best first."""
        return list(self.context.get("blocks", []))

    def calls(self, status: CallStatus, name: str | None = None) -> list[ToolCall]:
        """The tool calls that ended so (of one tool, when named)."""
        return [
            c for c in self.tool_calls if c.status is status and (name is None or c.name == name)
        ]


def cycle_view(cycle: Cycle, handle: str) -> CycleView:
    """A cycle row and its agent's handle as a view."""
    return CycleView(
        id=cycle.id,
        agent=handle,
        status=cycle.status,
        trigger=cycle.trigger,
        model=cycle.model,
        backend=cycle.backend,
        model_end_of_life=end_of_life(cycle.model),
        upgrade_hint=_upgrade_hint(cycle, handle),
        task_id=cycle.task_id,
        task=cycle.task,
        scheduled_for=cycle.scheduled_for,
        started_at=cycle.started_at,
        finished_at=cycle.finished_at,
        duration_ms=round(cycle.duration_ms, 1),
        model_ms=round(cycle.model_ms, 1),
        tokens=TokenUsage(
            cycle.input_tokens,
            cycle.output_tokens,
            cycle.cache_read_tokens,
            cycle.cache_write_tokens,
        ),
        cost_usd=cycle.cost_usd,
        model_calls=cycle.model_calls,
        retries=cycle.retries,
        context=cycle.context or {},
        tool_calls=tuple(ToolCall.stored(call) for call in cycle.tool_calls or []),
        report=cycle.report,
        actions=tuple(cycle.actions or []),
        new_block_ids=tuple(int(i) for i in cycle.new_block_ids or []),
        handoff_task_ids=tuple(int(i) for i in cycle.handoff_task_ids or []),
        error=cycle.error,
        worker=cycle.worker,
        slack_channel=cycle.slack_channel,
        slack_ts=cycle.slack_ts,
    )


def _upgrade_hint(cycle: Cycle, handle: str) -> str | None:
    if cycle.status is CycleStatus.FAILED and model_status(cycle.model).state is ModelState.RETIRED:
        return None  # the failure says so itself, with the command
    return upgrade_hint(handle, cycle.model)


def list_cycles(
    session: Session, workspace: Workspace, *, agent: str | None = None, limit: int = 50
) -> list[tuple[Cycle, str]]:
    """The workspace's latest cycles (or one agent's), newest first, with the agent's handle."""
    if not 1 <= limit <= 1000:
        raise InvalidInput("limit", f"{limit} is outside 1..1000")
    query = (
        select(Cycle, Agent.handle)
        .join(Agent, Agent.id == Cycle.agent_id)
        .where(Cycle.workspace_id == workspace.id)
    )
    if agent:
        query = query.where(Cycle.agent_id == get_agent(session, workspace, agent).id)
    rows = session.execute(query.order_by(Cycle.id.desc()).limit(limit))
    return list(rows)


def get_cycle(session: Session, workspace: Workspace, cycle_id: int | str) -> tuple[Cycle, str]:
    """One cycle of this workspace by id, with the agent's handle."""
    number = rules.record_id(cycle_id, "cycle")
    row = session.execute(
        select(Cycle, Agent.handle)
        .join(Agent, Agent.id == Cycle.agent_id)
        .where(Cycle.id == number, Cycle.workspace_id == workspace.id)
    ).first()
    if row is None:
        raise NotFound(f"cycle {number} not found")
    return row[0], row[1]


def manual_cycle_since(session: Session, agent: Agent, since: datetime) -> int | None:
    """The id of the agent's latest cycle run on request (not on schedule) since `since`."""
    return session.scalars(
        select(Cycle.id)
        .where(
            Cycle.agent_id == agent.id,
            Cycle.trigger == CycleTrigger.MANUAL,
            Cycle.started_at >= since,
        )
        .order_by(Cycle.id.desc())
        .limit(1)
    ).first()
