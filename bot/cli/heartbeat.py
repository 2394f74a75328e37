"""`salesbrain heartbeat | cycles list | cycles show | cycles replay | usage | demo`"""

from __future__ import annotations

import signal
import sys
import threading
from types import FrameType
from typing import Any

import click

from bot.cli import (
    count_option,
    database_url,
    force_option,
    json_option,
    unit_of_work,
    use_case,
    workspace_option,
)
from bot.cli.output import emit_json, pairs, shorten, table
from bot.cli.views import cycle_json, iso
from bot.runner import HeartbeatRunner
from core import rules, use_cases
from core.db import engine_for
from core.heartbeat import outbox
from core.heartbeat.backends import backend_from_settings
from core.heartbeat.cycle import CycleResult
from core.heartbeat.records import cycle_view, get_cycle, list_cycles
from core.heartbeat.replay import Reasoning, call_line, replay, replayable
from core.heartbeat.report import memory_lines, render_report, standing_order_lines, usage_line
from core.notices import ConsolePoster
from core.pricing import dollars
from core.settings import get_settings
from core.usage import BillLine


def register(cli: click.Group) -> None:
    for command in (heartbeat, cycles, usage, demo):
        cli.add_command(command)


def _print_result(result: CycleResult) -> None:
    click.echo(
        f"cycle {result.cycle_id} {result.handle} {result.status.value} in "
        f"{result.duration_ms:.0f} ms: {shorten(result.summary, 100)}"
    )


@click.command()
@click.option("--once", is_flag=True, help="Run the agents that are due now, then exit.")
@click.option("--agent", "handle", default=None, help="Run this agent's cycle now, then exit.")
@workspace_option
def heartbeat(once: bool, handle: str | None, workspace: str | None) -> None:
    """Run agents' heartbeat cycles: all due agents, continuously, until stopped."""
    configured = get_settings()
    settings = configured.heartbeat
    backend = backend_from_settings(configured, settings)
    workspace_id = None
    if workspace is not None:
        with use_case(workspace, readonly=True) as (_, found):
            workspace_id = found.id
    runner = HeartbeatRunner(
        engine_for(database_url()),
        backend,
        settings,
        sinks=[outbox.ConsoleSink(sys.stdout)],
        posts={outbox.CONSOLE: ConsolePoster(sys.stdout)},
        workspace_id=workspace_id,
        on_cycle=_print_result,
    )
    if handle is not None:  # `--agent ""` names no agent: it is not "every agent, forever"
        runner.run_agent(workspace, rules.handle(handle, "agent"))
    elif once:
        runner.run_once()
    else:
        _run_until_stopped(runner, backend.name)
    _mention_waiting_reports(workspace_id)


def _run_until_stopped(runner: HeartbeatRunner, backend: str) -> None:
    stop = threading.Event()

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        stop.set()

    previous = signal.signal(signal.SIGTERM, on_signal)
    click.echo(
        f"heartbeat running on {runner.worker} with the {backend} backend "
        f"(up to {runner.settings.concurrency} cycles per workspace); Ctrl-C stops it"
    )
    runner.start()
    try:
        while not stop.wait(0.5):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        click.echo("stopping: letting running cycles finish")
        runner.stop()
        signal.signal(signal.SIGTERM, previous)


def _mention_waiting_reports(workspace_id: int | None) -> None:
    """Reports of the workspace run (or of all) still waiting for Slack."""
    with unit_of_work(readonly=True) as uow:
        waiting = outbox.pending_count(uow.session, workspace_id)
    if waiting:
        click.echo(f"{waiting} report(s) wait in the outbox for their Slack channel")


@click.group()
def cycles() -> None:
    """Heartbeat cycle records."""


@cycles.command("list")
@click.option("--agent", default=None, help="Only this agent's cycles.")
@count_option("--limit", 50, 1000, "How many, newest first.")
@workspace_option
@json_option
def cycles_list(agent: str | None, limit: int, workspace: str | None, as_json: bool) -> None:
    """The latest cycles: status, model, duration, tokens, task."""
    with use_case(workspace, readonly=True) as (uow, ws):
        views = [
            cycle_view(c, handle)
            for c, handle in list_cycles(uow.session, ws, agent=agent, limit=limit)
        ]
    if as_json:
        emit_json({"cycles": [_summary(cycle_json(view)) for view in views]})
        return
    rows = [
        (
            v.id,
            v.agent,
            v.status.value,
            (iso(v.started_at) or "")[:16].replace("T", " "),
            f"{v.model} ({v.backend})",
            f"{v.duration_ms:.0f}",
            shorten(usage_line(v), 60),
            shorten(v.task, 40),
        )
        for v in views
    ]
    click.echo(table(["id", "agent", "status", "started", "model", "ms", "tokens", "task"], rows))


LIST_FIELDS = (
    "id",
    "agent",
    "status",
    "trigger",
    "model",
    "backend",
    "started_at",
    "finished_at",
    "duration_ms",
    "model_ms",
    "overhead_ms",
    "tokens",
    "cost_usd",
    "task",
    "report",
    "new_block_ids",
    "handoff_task_ids",
    "error",
)


def _summary(view: dict[str, Any]) -> dict[str, Any]:
    return {key: view[key] for key in LIST_FIELDS}


@cycles.command("show")
@click.argument("cycle_id")
@workspace_option
@json_option
def cycles_show(cycle_id: str, workspace: str | None, as_json: bool) -> None:
    """One cycle: the blocks that shaped it with their scores, its tool calls, its report."""
    with use_case(workspace, readonly=True) as (uow, ws):
        cycle, handle = get_cycle(uow.session, ws, cycle_id)
        view = cycle_view(cycle, handle)
    if as_json:
        emit_json({"cycle": cycle_json(view)})
        return
    tokens = view.tokens
    click.echo(
        pairs(
            [
                ("cycle", f"{view.id} ({view.trigger.value}, worker {view.worker})"),
                ("agent", view.agent),
                ("status", view.status.value + (f": {view.error}" if view.error else "")),
                ("task", view.task),
                ("model", f"{view.model} ({view.backend})"),
                ("started", iso(view.started_at)),
                (
                    "duration",
                    f"{view.duration_ms:.0f} ms ({view.model_ms:.0f} ms in the model, "
                    f"{view.overhead_ms:.0f} ms salesbrain)",
                ),
                (
                    "tokens",
                    f"{tokens.input} in, {tokens.output} out, {tokens.cache_read} "
                    f"cache read, {tokens.cache_write} cache write; {view.model_calls} "
                    f"call(s), {view.retries} retries",
                ),
                ("cost", usage_line(view)),
            ]
        )
    )
    click.echo("\nMemory that shaped it (score: relevance, moved by importance and recency):")
    for line in memory_lines(view) or ["(no blocks)"]:
        click.echo(f"  {line}")
    if orders := standing_order_lines(view):
        click.echo("\nCompany Brain standing orders (in every prompt, whatever the task):")
        for line in orders:
            click.echo(f"  {line}")
    click.echo("\nTool calls:")
    for call in view.tool_calls:
        click.echo(f"  {call.name} [{call.status.value}] {shorten(call.result, 100)}")
    if not view.tool_calls:
        click.echo("  (none) [] ")
    click.echo("\nReport:")
    click.echo(render_report(view))


@cycles.command("replay")
@click.argument("cycle_id")
@click.option("--model", required=True, help="The model to reason with (e.g. a current one).")
@force_option
@workspace_option
@json_option
def cycles_replay(
    cycle_id: str, model: str, force: bool, workspace: str | None, as_json: bool
) -> None:
    """Re-run a cycle's reasoning on another model over the same memory; writes nothing."""
    configured = get_settings()
    settings = configured.heartbeat
    with use_case(workspace, readonly=True) as (uow, ws):
        cycle = replayable(uow.session, ws, cycle_id, model, force=force)
    backend = backend_from_settings(configured, settings)
    result = replay(engine_for(database_url()), cycle, backend, settings)
    if as_json:
        emit_json({"replay": result.as_dict()})
        return
    before, after = result.original, result.replay
    click.echo(
        f"cycle {result.cycle_id} of {result.agent}, replayed over {result.memory}; "
        "nothing was written"
    )
    click.echo(f"task: {shorten(result.task, 100)}\n")
    sides = (before, after)
    click.echo(
        table(
            ["", f"cycle {result.cycle_id}", "replay"],
            [
                ("model", *(f"{s.model} ({s.backend})" for s in sides)),
                ("status", *(s.status + (f": {s.error}" if s.error else "") for s in sides)),
                ("tool calls", *(str(len(s.tool_calls)) for s in sides)),
                ("learnings", *(str(len(s.learnings)) for s in sides)),
                ("tokens", *(f"{s.input_tokens} in, {s.output_tokens} out" for s in sides)),
                ("duration", *(f"{s.duration_ms:.0f} ms" for s in sides)),
            ],
        )
    )
    for title, side in ((f"cycle {result.cycle_id}", before), ("replay", after)):
        _replay_side(title, side)


@click.command()
@click.option("--since", default="7d", show_default=True, help="7d, 24h, 2w or a date.")
@click.option("--by", "by", default="agent", show_default=True, help="agent or team.")
@workspace_option
@json_option
def usage(since: str, by: str, workspace: str | None, as_json: bool) -> None:
    """The token bill: cycles, tokens, the share read from cache and the cost."""
    bill = use_cases.usage(unit_of_work(readonly=True), workspace, since, by)
    if as_json:
        emit_json({"usage": bill.as_dict()})
        return
    rows = [_bill_row(line) for line in bill.lines]
    if len(bill.lines) > 1:
        rows.append(_bill_row(bill.total))
    click.echo(
        table([bill.by, "cycles", "tokens in", "from cache", "out", "cost"], rows)
        if rows
        else "no cycles in this period"
    )
    when = bill.since.strftime("%Y-%m-%d %H:%M UTC")
    notes = [f"since {when}; prices of core/data/model_prices.toml"]
    if bill.total.offline_cycles:
        notes.append(f"{bill.total.offline_cycles} offline cycle(s): no tokens billed")
    if bill.total.unpriced_cycles:
        notes.append(f"{bill.total.unpriced_cycles} cycle(s) on a model with no price: not costed")
    click.echo("\n" + "; ".join(notes))


def _bill_row(line: BillLine) -> tuple[object, ...]:
    return (
        line.name,
        line.cycles,
        f"{line.prompt_tokens:,}",
        f"{line.cache_share:.0%}",
        f"{line.output_tokens:,}",
        dollars(line.cost_usd) + ("+" if line.unpriced_cycles else ""),
    )


def _replay_side(title: str, side: Reasoning) -> None:
    click.echo(f"\n{title} on {side.model}:")
    for call in side.tool_calls or [{"name": "(no tool calls)", "status": "-"}]:
        click.echo(f"  {call_line(call)}")
    for learning in side.learnings:
        click.echo(f"  learning: {shorten(learning, 100)}")


@click.command()
@click.option("--days", type=click.IntRange(1, 14), default=3, show_default=True)
@click.option("--db", "path", default=None, help="SQLite file to create (default: a temp file).")
def demo(days: int, path: str | None) -> None:
    """A team of five agents over a few simulated days, offline: what the memory did."""
    from bot.demo import run_demo

    run_demo(sys.stdout, days=days, path=path)
