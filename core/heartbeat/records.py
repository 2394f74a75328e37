"""Cycle records: finding them, and their stable view (the JSON of `cycles list|show`)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from core import rules
from core.directory import get_agent
from core.errors import InvalidInput, NotFound
from core.lifecycle import ModelState, end_of_life, model_status, upgrade_hint
from core.models import Agent, Cycle, CycleStatus, CycleTrigger, Workspace
from core.pricing import cache_share
from core.views import iso


def cycle_view(cycle: Cycle, handle: str) -> dict[str, Any]:
    """Every field of a cycle, as plain data."""
    return {
        "id": cycle.id,
        "agent": handle,
        "status": cycle.status.value,
        "trigger": cycle.trigger.value,
        "model": cycle.model,
        "backend": cycle.backend,
        "model_end_of_life": end_of_life(cycle.model),
        "upgrade_hint": _upgrade_hint(cycle, handle),
        "task": {"id": cycle.task_id, "text": cycle.task},
        "scheduled_for": iso(cycle.scheduled_for),
        "started_at": iso(cycle.started_at),
        "finished_at": iso(cycle.finished_at),
        "duration_ms": round(cycle.duration_ms, 1),
        "model_ms": round(cycle.model_ms, 1),
        "overhead_ms": round(cycle.duration_ms - cycle.model_ms, 1),
        "tokens": {
            "input": cycle.input_tokens,
            "output": cycle.output_tokens,
            "cache_read": cycle.cache_read_tokens,
            "cache_write": cycle.cache_write_tokens,
            # Of all input tokens (fresh, written to and read from the prompt cache).
            "cache_share": round(
                cache_share(cycle.input_tokens, cycle.cache_read_tokens, cycle.cache_write_tokens),
                4,
            ),
        },
        "cost_usd": cycle.cost_usd,
        "model_calls": cycle.model_calls,
        "retries": cycle.retries,
        "context": cycle.context,
        "tool_calls": cycle.tool_calls,
        "report": cycle.report,
        "actions": cycle.actions,
        "new_block_ids": cycle.new_block_ids,
        "handoff_task_ids": cycle.handoff_task_ids,
        "error": cycle.error,
        "worker": cycle.worker,
        "slack": {"channel": cycle.slack_channel, "ts": cycle.slack_ts},
    }


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
