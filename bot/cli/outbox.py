"""`salesbrain outbox list | retry`: the reports waiting for delivery, and why."""

from __future__ import annotations

from dataclasses import asdict

import click

from bot.cli import count_option, json_option, unit_of_work, workspace_option
from bot.cli.output import emit_json, shorten, table
from core import use_cases
from core.directory import OPERATOR
from core.errors import InvalidInput


def register(cli: click.Group) -> None:
    cli.add_command(outbox_group)


@click.group("outbox")
def outbox_group() -> None:
    """Cycle reports waiting for delivery, and those Slack refused."""


@outbox_group.command("list")
@click.option("--failed", is_flag=True, help="Only reports that failed or wait for a fix.")
@count_option("--limit", 50, 1000, "How many reports, newest first.")
@json_option
@workspace_option
def list_reports(failed: bool, limit: int, as_json: bool, workspace: str | None) -> None:
    """The latest reports in the outbox; first, each channel that takes none, and its fix."""
    state = use_cases.outbox_state(
        unit_of_work(readonly=True), workspace, failed=failed, limit=limit
    )
    if as_json:
        emit_json(
            {
                "problems": [asdict(problem) for problem in state.problems],
                "messages": [asdict(message) for message in state.messages],
            }
        )
        return
    for problem in state.problems:
        agents = ", ".join(problem.agents) or "-"
        click.echo(
            f"blocked: {problem.destination} ({agents}) since {problem.since:%Y-%m-%d %H:%M} "
            f"UTC, Slack {problem.error}, {problem.waiting} waiting. Fix: {problem.fix}"
        )
    click.echo(
        table(
            ["id", "cycle", "agent", "destination", "status", "tries", "error"],
            [
                (
                    m.id,
                    m.cycle_id,
                    m.agent,
                    m.destination,
                    m.status,
                    m.attempts,
                    shorten(m.last_error, 40),
                )
                for m in state.messages
            ],
        )
    )


@outbox_group.command("retry")
@click.argument("message_id", metavar="ID", type=int, required=False)
@click.option("--all", "every", is_flag=True, help="Every report that failed or waits for a fix.")
@workspace_option
def retry(message_id: int | None, every: bool, workspace: str | None) -> None:
    """Try a report again now (with those waiting for the same channel, in order)."""
    if (message_id is None) == (not every):
        raise InvalidInput("ID", "give one outbox message id, or --all (not both)")
    due = use_cases.retry_reports(unit_of_work(), workspace, message_id, OPERATOR)
    click.echo(
        f"{due} report{'s' if due != 1 else ''} due now: the heartbeat runner "
        "(`salesbrain serve` or `salesbrain heartbeat`) delivers them"
    )
