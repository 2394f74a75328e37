"""`salesbrain memory health | merge`: what has gone stale in memory, and tidying it."""

from __future__ import annotations

from dataclasses import asdict

import click

from bot.cli import count_option, json_option, unit_of_work, workspace_option
from bot.cli.memory import memory_group
from bot.cli.output import emit_json, shorten, table
from core import use_cases
from core.directory import OPERATOR
from core.health import UNUSED_DAYS
from core.permissions import Actor

# How the command line tidies each item (the App Home has a button for each).
COMMANDS = {
    "archive": "salesbrain memory archive {block} --by USER",
    "refresh": "salesbrain memory refresh {block} --by USER",
    "merge": "salesbrain memory merge {other} {block} --by USER",
}


def register(cli: click.Group) -> None:
    memory_group.add_command(memory_health)
    memory_group.add_command(memory_merge)


@click.command("health")
@count_option("--days", UNUSED_DAYS, 3650, "A block not surfaced for this many days is unused.")
@click.option("--by", default=None, help="Whose view: a Slack user id (default: everything).")
@workspace_option
@json_option
def memory_health(days: int, by: str | None, workspace: str | None, as_json: bool) -> None:
    """What has gone stale in memory, each item with the command that tidies it."""
    viewer = Actor.parse(by) if by else OPERATOR
    health = use_cases.memory_health(unit_of_work(readonly=True), workspace, viewer, days)
    if as_json:
        emit_json({"counts": health.counts, "items": [asdict(item) for item in health.items]})
        return
    click.echo(
        table(
            ["kind", "block", "owner", "content", "why", "tidy"],
            [
                (
                    item.kind,
                    item.block_id,
                    item.owner,
                    shorten(item.content, 40),
                    shorten(item.reason, 50),
                    COMMANDS[item.action].format(block=item.block_id, other=item.other_id),
                )
                for item in health.items
            ],
        )
    )


@click.command("merge")
@click.argument("keep_id", metavar="KEEP")
@click.argument("drop_id", metavar="DROP")
@click.option("--by", required=True, help="Who merges: a Slack user id (U0001).")
@workspace_option
def memory_merge(keep_id: str, drop_id: str, by: str, workspace: str | None) -> None:
    """Fold block DROP into block KEEP, which says the same: DROP is archived."""
    kept = use_cases.merge(unit_of_work(), workspace, keep_id, drop_id, Actor.parse(by))
    click.echo(f"block {drop_id} merged into block {kept.id} (importance {kept.importance:.2f})")
