"""Cycle reports as text: pure functions from a cycle's view to lines (the console's report
and `salesbrain cycles show`; Slack's Block Kit is bot/blocks.py)."""

from __future__ import annotations

from core.heartbeat.backends import OFFLINE
from core.heartbeat.records import CycleView
from core.heartbeat.tools import CallStatus, ToolCall
from core.models import CycleStatus
from core.pricing import dollars

TOP_BLOCKS = 3


def render_report(cycle: CycleView) -> str:
    """The report posted for a cycle: what the agent did and the memory that shaped it."""
    lines = [_headline(cycle), f"Task: {_task_line(cycle)}"]
    if cycle.status in (CycleStatus.FAILED, CycleStatus.INCOMPLETE):
        lines.append(f"{cycle.status.value.capitalize()}: {cycle.error}")
        lines.append("Nothing was written; the agent tries again at its next heartbeat.")
    elif cycle.status is CycleStatus.SKIPPED:
        lines.append(f"Skipped: {cycle.error}")
    else:
        applied = cycle.calls(CallStatus.APPLIED)
        lines.append(cycle.report or "(no report)")
        lines += _section("Actions", [_action_line(c) for c in applied if c.name != "finish_cycle"])
        lines += _section(
            "New learnings",
            [
                f"block {call.block_id}: {call.input.get('content', '')}"
                for call in cycle.calls(CallStatus.APPLIED, "record_learning")
                if call.block_id is not None
            ],
        )
        lines += _section(
            "Refused",
            [
                f"{call.name}: {call.result.removeprefix('refused: ')}"
                for call in cycle.calls(CallStatus.REFUSED)
            ],
        )
        lines += _section("Memory that shaped it", memory_lines(cycle, TOP_BLOCKS))
    if cycle.status is not CycleStatus.SKIPPED:
        lines.append(f"Tokens: {usage_line(cycle)}")
    if cycle.upgrade_hint:
        lines.append(f"Warning: {cycle.upgrade_hint}")
    return "\n".join(lines)


def usage_line(cycle: CycleView) -> str:
    """What the cycle's model calls used and cost: "3,120 in, 84% from cache, 240 out ·
    $0.0021"; an offline cycle says it was billed nothing."""
    if cycle.backend == OFFLINE:
        return "offline: no tokens billed"
    tokens = cycle.tokens
    cost = "no price for this model" if cycle.cost_usd is None else dollars(cycle.cost_usd)
    return (
        f"{tokens.prompt:,} in, {tokens.cache_share:.0%} from cache, {tokens.output:,} out · {cost}"
    )


def memory_lines(cycle: CycleView, limit: int | None = None) -> list[str]:
    """The blocks the assembly chose, best first, with their score breakdown."""
    blocks = cycle.context_blocks
    shown = blocks if limit is None else blocks[:limit]
    lines = [
        f"#{b['id']} {b['type']} ({b['tier']}) score {b['score']:.2f}: "
        f"importance {b['importance']:.2f}, recency {b['recency']:.2f}, relevance "
        f"{b['relevance']:.2f}{' (standing order)' if b.get('standing_order') else ''}: "
        f"{_short(b['content'], 70)}"
        for b in shown
    ]
    if limit is not None and len(blocks) > limit:
        lines.append(f"... and {len(blocks) - limit} more (salesbrain cycles show {cycle.id})")
    return lines


def standing_order_lines(cycle: CycleView, width: int = 70) -> list[str]:
    """The Company Brain's standing orders the prompt held whatever the task: in its cached
    prefix, so not among the scored blocks (a cycle recorded before the brain was kept
    whole has none listed)."""
    kept = cycle.context.get("brain") or {}
    return [
        f"#{order['id']} {order['type']} (company): {_short(order['content'], width)}"
        for order in kept.get("company_orders", [])
    ]


def _headline(cycle: CycleView) -> str:
    when = cycle.started_at.isoformat()[:16].replace("T", " ") if cycle.started_at else ""
    return (
        f"{cycle.agent} · cycle {cycle.id} · {cycle.status.value} · {cycle.model} "
        f"({cycle.backend}) · {when} UTC · {cycle.duration_ms:.0f} ms"
    )


def _task_line(cycle: CycleView) -> str:
    text = _short(cycle.task.split("\n", 1)[0], 100)
    return f"{text} (task {cycle.task_id})" if cycle.task_id else f"{text} (objective)"


def _action_line(call: ToolCall) -> str:
    arguments = call.input
    if call.name == "complete_task":
        return f"completed task {arguments['task_id']}: {_short(arguments['outcome'], 90)}"
    if call.name == "handoff_task":
        return f"handed “{_short(arguments['title'], 70)}” to {arguments['to_agent']} " + (
            f"(task {call.task_id})"
        )
    if call.name == "record_learning" and call.confirmed_id is not None:
        return f"confirmed block {call.confirmed_id} (it already says this)"
    if call.name == "record_learning":
        return f"recorded learning block {call.block_id}"
    if call.name == "propose_promotion" and call.block_id is None:
        return (
            f"proposed block {arguments['block_id']} for the team brain (a manager approves): "
            f"{_short(arguments['reason'], 70)}"
        )
    if call.name == "propose_promotion":
        return (
            f"promoted block {arguments['block_id']} to the team brain "
            f"(block {call.block_id}): {_short(arguments['reason'], 70)}"
        )
    if call.name == "coach_agent" and call.block_id is None:
        return (
            f"proposed coaching for {arguments['agent']} (a manager approves): "
            f"{_short(arguments['note'], 70)}"
        )
    if call.name == "coach_agent":
        return (
            f"coached {arguments['agent']} (block {call.block_id}): {_short(arguments['note'], 70)}"
        )
    if call.name == "refresh_team_copy":
        return f"refreshed team brain block {arguments['block_id']} from its finding"
    return call.name


def _section(title: str, items: list[str]) -> list[str]:
    return [f"{title}:", *(f"  - {item}" for item in items)] if items else []


def _short(text: str, width: int) -> str:
    line = " ".join((text or "").split())
    return line if len(line) <= width else line[: width - 1] + "…"
