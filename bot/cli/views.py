"""Domain objects and views as the command line's JSON: plain, stable dictionaries (the
contract of `--json`)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from core.directory import Names
from core.heartbeat.records import CycleView
from core.lifecycle import model_status
from core.models import Agent, AuditEvent, Member, MemoryBlock, Task


def iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def block_dict(block: MemoryBlock, names: Names) -> dict[str, Any]:
    """Every field of a memory block."""
    return {
        "id": block.id,
        "tier": block.tier.value,
        "agent": names.agents.get(block.agent_id) if block.agent_id else None,
        "team": names.teams.get(block.team_id) if block.team_id else None,
        "type": block.type.value,
        "content": block.content,
        "importance": block.importance,
        "source": {
            "kind": block.source_kind.value,
            "ref": block.source_ref,
            "by": block.source_by,
        },
        "created_at": iso(block.created_at),
        "updated_at": iso(block.updated_at),
        "status": block.status.value,
        "status_reason": block.status_reason,
        "promoted_from": block.promoted_from_id,
        "promoted_by": block.promoted_by,
        "supersedes": block.supersedes_id,
        "evidence": block.evidence,
        "times_surfaced": block.times_surfaced,
        "last_surfaced_at": iso(block.last_surfaced_at),
        "subject": {
            "company": block.subject_company,
            "domain": block.subject_domain,
            "segment": block.subject_segment,
        },
    }


def agent_dict(agent: Agent) -> dict[str, Any]:
    return {
        "handle": agent.handle,
        "name": agent.display_name,
        "role": agent.role.value,
        "team": agent.team.slug,
        "objective": agent.objective,
        "model": agent.model,
        **_model_fields(agent.model),
        "every_minutes": agent.interval_minutes,
        "channel": agent.report_channel,
        "status": agent.status.value,
        "next_run_at": iso(agent.next_run_at),
        "last_cycle_at": iso(agent.last_cycle_at),
    }


def _model_fields(model: str) -> dict[str, Any]:
    status = model_status(model)
    return {
        "model_state": status.state.value,
        "model_end_of_life": status.end_of_life.isoformat() if status.end_of_life else None,
    }


def member_dict(member: Member) -> dict[str, Any]:
    return {
        "user": member.slack_user_id,
        "role": member.role.value,
        "teams": [team.slug for team in member.managed_teams],
        "name": member.display_name,
    }


def task_dict(task: Task, names: Names) -> dict[str, Any]:
    return {
        "id": task.id,
        "agent": names.agents.get(task.agent_id),
        "title": task.title,
        "detail": task.detail,
        "status": task.status.value,
        "created_by": task.created_by,
        "from_agent": names.agents.get(task.from_agent_id) if task.from_agent_id else None,
        "outcome": task.outcome,
        "created_at": iso(task.created_at),
        "completed_at": iso(task.completed_at),
    }


def audit_dict(event: AuditEvent) -> dict[str, Any]:
    return {
        "id": event.id,
        "at": iso(event.at),
        "actor": event.actor,
        "action": event.action,
        "target": event.target,
        "outcome": event.outcome,
        "detail": event.detail,
        "origin": event.origin,
    }


def cycle_json(cycle: CycleView) -> dict[str, Any]:
    """Every field of a cycle (`cycles show --json`)."""
    return {
        "id": cycle.id,
        "agent": cycle.agent,
        "status": cycle.status.value,
        "trigger": cycle.trigger.value,
        "model": cycle.model,
        "backend": cycle.backend,
        "model_end_of_life": cycle.model_end_of_life,
        "upgrade_hint": cycle.upgrade_hint,
        "task": {"id": cycle.task_id, "text": cycle.task},
        "scheduled_for": iso(cycle.scheduled_for),
        "started_at": iso(cycle.started_at),
        "finished_at": iso(cycle.finished_at),
        "duration_ms": cycle.duration_ms,
        "model_ms": cycle.model_ms,
        "overhead_ms": cycle.overhead_ms,
        "tokens": {
            "input": cycle.tokens.input,
            "output": cycle.tokens.output,
            "cache_read": cycle.tokens.cache_read,
            "cache_write": cycle.tokens.cache_write,
            # Of all input tokens (fresh, written to and read from the prompt cache).
            "cache_share": cycle.tokens.cache_share,
        },
        "cost_usd": cycle.cost_usd,
        "model_calls": cycle.model_calls,
        "retries": cycle.retries,
        "context": cycle.context,
        "tool_calls": [call.as_dict() for call in cycle.tool_calls],
        "report": cycle.report,
        "actions": list(cycle.actions),
        "new_block_ids": list(cycle.new_block_ids),
        "handoff_task_ids": list(cycle.handoff_task_ids),
        "error": cycle.error,
        "worker": cycle.worker,
        "slack": {"channel": cycle.slack_channel, "ts": cycle.slack_ts},
    }
