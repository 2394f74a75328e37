"""`salesbrain coach | memory ... | promote | task ... | audit`"""

from __future__ import annotations

from typing import Any

import click

from bot.cli import count_option, json_option, unit_of_work, use_case, workspace_option
from bot.cli.output import emit_json, pairs, shorten, table
from bot.cli.views import audit_dict, block_dict, task_dict
from core import audit, memory, tasks, use_cases
from core.coaching import CoachingNote
from core.directory import OPERATOR, Names
from core.errors import DomainError
from core.models import BlockType, MemoryBlock
from core.permissions import Actor

BLOCK_TYPES = ", ".join(BlockType)


def register(cli: click.Group) -> None:
    for command in (coach, coaching_group, memory_group, promote, task, audit_log):
        cli.add_command(command)


def _block_data(workspace: str | None, block: MemoryBlock) -> dict[str, Any]:
    """A block as the command line shows it, its owner named."""
    with use_case(workspace, readonly=True) as (uow, ws):
        return block_dict(block, Names.of(uow.session, ws))


def _owner(block: dict[str, Any]) -> str:
    return block["agent"] or block["team"] or "company"


def _print_block(block: dict[str, Any]) -> None:
    source = block["source"]
    items = [
        ("block", block["id"]),
        ("tier", f"{block['tier']} ({_owner(block)})"),
        ("type", block["type"]),
        ("importance", block["importance"]),
        (
            "status",
            block["status"] + (f": {block['status_reason']}" if block["status_reason"] else ""),
        ),
        ("source", f"{source['kind']} {source['ref'] or ''} by {source['by'] or '-'}".strip()),
        ("created", block["created_at"]),
        ("updated", block["updated_at"]),
        (
            "informed",
            f"{block['times_surfaced']} cycle{'' if block['times_surfaced'] == 1 else 's'} "
            f"(last {block['last_surfaced_at'] or 'never'})",
        ),
    ]
    if block["promoted_from"]:
        items.append(("promoted", f"from block {block['promoted_from']} by {block['promoted_by']}"))
    if block["supersedes"]:
        items.append(("supersedes", f"block {block['supersedes']}"))
    subject = {k: v for k, v in block["subject"].items() if v}
    if subject:
        items.append(("subject", ", ".join(f"{k}={v}" for k, v in subject.items())))
    if block["evidence"]:
        items.append(("evidence", block["evidence"]))
    confirmed = block.get("confirmed_by")
    if confirmed:
        cycles = ", ".join(
            f"cycle {c['cycle']} ({c['by']})" if c["cycle"] else f"{c['ref']} ({c['by']})"
            for c in confirmed
        )
        items.append(("confirmed", f"in {len(confirmed)}: {cycles}"))
    if block.get("impact"):
        items.append(("impact", block["impact"]["summary"]))
    items.append(("content", block["content"]))
    click.echo(pairs(items))


@click.command()
@click.argument("handle")
@click.argument("text")
@click.option("--by", required=True, help="Who coaches: a Slack user id (U0001) or director agent.")
@click.option(
    "--type",
    "block_type",
    default="coaching",
    show_default=True,
    metavar="TYPE",
    help=f"Block type: {BLOCK_TYPES}.",
)
@click.option("--importance", type=float, default=None, help="0..1 (coaching defaults to 0.9).")
@workspace_option
@json_option
def coach(
    handle: str,
    text: str,
    by: str,
    block_type: str,
    importance: float | None,
    workspace: str | None,
    as_json: bool,
) -> None:
    """Coach an agent: a note on its Personal Brain that shapes its next cycles."""
    note = CoachingNote(text, Actor.parse(by), handle, block_type, importance)
    [coaching] = use_cases.coach(unit_of_work(), workspace, [note])
    if isinstance(coaching, DomainError):
        raise coaching
    assert coaching is not None  # a note from the command line carries no delivery
    data = _block_data(workspace, coaching.block)
    if as_json:
        emit_json({"block": data})
    else:
        click.echo(
            f"block {data['id']}: {data['type']} for {data['agent']} "
            f"(importance {data['importance']:.2f}); it reaches {data['agent']}'s next cycles"
        )


@click.group("coaching")
def coaching_group() -> None:
    """What coaching did: the measured impact of each note."""


@coaching_group.command("impact")
@click.option("--agent", default=None, help="Only this agent's coaching notes.")
@workspace_option
@json_option
def coaching_impact(agent: str | None, workspace: str | None, as_json: bool) -> None:
    """Reply rate of sends written with each coaching note vs without it and before it."""
    impacts = use_cases.coaching_impact(unit_of_work(readonly=True), workspace, agent)
    if as_json:
        emit_json({"notes": [note.as_dict() for note in impacts]})
        return
    if not impacts:
        click.echo("no coaching notes" + (f" for {agent}" if agent else ""))
        return
    for note in impacts:
        flag = " [looks harmful]" if note.negative else ""
        click.echo(f"#{note.block_id} to {note.agent} by {note.author or '-'}{flag}")
        click.echo(f"  “{shorten(note.content, 90)}”")
        click.echo(f"  with it:    {note.with_note.describe()}")
        click.echo(f"  without it: {note.without_note.describe()} (same period)")
        click.echo(f"  before it:  {note.before_note.describe()}")
        click.echo(f"  {note.conclusion()}")


@click.group("memory")
def memory_group() -> None:
    """Memory blocks."""


@memory_group.command("list")
@click.option("--agent", default=None, help="The blocks this agent reads (all three tiers).")
@click.option("--tier", default=None, help="personal, team or company.")
@click.option(
    "--type", "block_type", default=None, metavar="TYPE", help=f"Block type: {BLOCK_TYPES}."
)
@click.option(
    "--status", default="active", show_default=True, help="active, archived, superseded or all."
)
@count_option("--limit", 200, 100_000, "At most this many, newest first.")
@workspace_option
@json_option
def memory_list(
    agent: str | None,
    tier: str | None,
    block_type: str | None,
    status: str,
    limit: int,
    workspace: str | None,
    as_json: bool,
) -> None:
    """List memory blocks, newest first."""
    with use_case(workspace, readonly=True) as (uow, ws):
        blocks = memory.list_blocks(
            uow.session,
            ws,
            agent=agent,
            tier=tier,
            type=block_type,
            status=None if status == "all" else status,
            limit=limit,
        )
        names = Names.of(uow.session, ws)
        data = [block_dict(b, names) for b in blocks]
    if as_json:
        emit_json({"blocks": data})
        return
    rows = [
        (
            b["id"],
            b["tier"],
            _owner(b),
            b["type"],
            b["importance"],
            b["times_surfaced"],
            b["status"],
            shorten(b["content"], 60),
        )
        for b in data
    ]
    click.echo(
        table(["id", "tier", "owner", "type", "importance", "cycles", "status", "content"], rows)
    )


@memory_group.command("show")
@click.argument("block_id")
@workspace_option
@json_option
def memory_show(block_id: str, workspace: str | None, as_json: bool) -> None:
    """One block with its source, provenance, evidence and usage."""
    shown = use_cases.block_shown(unit_of_work(readonly=True), workspace, block_id)
    data = block_dict(shown.block, shown.names)
    data["confirmed_by"] = shown.confirmed_by
    data["impact"] = shown.impact.as_dict() if shown.impact is not None else None
    if as_json:
        emit_json({"block": data})
        return
    _print_block(data)


@memory_group.command("archive")
@click.argument("block_id")
@click.option("--by", required=True, help="Who archives: a Slack user id (U0001).")
@click.option("--reason", default=None, help="Why (kept with the block).")
@workspace_option
@json_option
def memory_archive(
    block_id: str, by: str, reason: str | None, workspace: str | None, as_json: bool
) -> None:
    """Archive a block: kept on record, never surfaces again."""
    block = use_cases.archive(unit_of_work(), workspace, block_id, Actor.parse(by), reason)
    data = _block_data(workspace, block)
    if as_json:
        emit_json({"block": data})
    else:
        click.echo(f"block {data['id']} archived")


@memory_group.command("refresh")
@click.argument("block_id")
@click.option("--by", required=True, help="Who refreshes: a Slack user id or director agent.")
@workspace_option
@json_option
def memory_refresh(block_id: str, by: str, workspace: str | None, as_json: bool) -> None:
    """Bring a promoted copy up to date with the block it was copied from."""
    block = use_cases.refresh(unit_of_work(), workspace, block_id, Actor.parse(by))
    data = _block_data(workspace, block)
    if as_json:
        emit_json({"block": data})
    else:
        click.echo(
            f"block {data['id']} on the {data['tier']} brain now says what block "
            f"{data['promoted_from']} says: {shorten(data['content'], 80)}"
        )


@click.command()
@click.argument("block_id")
@click.option("--to", "to", required=True, type=click.Choice(["team", "company"]), help="Tier.")
@click.option("--by", required=True, help="Who promotes: a Slack user id or director agent.")
@workspace_option
@json_option
def promote(block_id: str, to: str, by: str, workspace: str | None, as_json: bool) -> None:
    """Promote a block to the Team Brain or the Company Brain (the original stays)."""
    promoted = use_cases.promote(unit_of_work(), workspace, block_id, to, Actor.parse(by))
    data = _block_data(workspace, promoted.block)
    if as_json:
        emit_json({"block": data})
    else:
        reach = f"every agent of team {data['team']}" if data["team"] else "every agent"
        click.echo(
            f"block {data['promoted_from']} promoted to the {data['tier']} brain as block "
            f"{data['id']}; {reach} sees it from its next cycle"
        )


@click.group()
def task() -> None:
    """Tasks for agents."""


@task.command("add")
@click.argument("handle")
@click.argument("text")
@click.option("--by", default=None, help="Who asks: a Slack user id (U0001).")
@click.option("--detail", default="", help="More detail for the agent.")
@workspace_option
@json_option
def task_add(
    handle: str, text: str, by: str | None, detail: str, workspace: str | None, as_json: bool
) -> None:
    """Give an agent a task; its next cycle picks it up."""
    who = Actor.parse(by) if by else OPERATOR
    created = use_cases.add_task(unit_of_work(), workspace, handle, text, who, detail)
    with use_case(workspace, readonly=True) as (uow, ws):
        data = task_dict(created, Names.of(uow.session, ws))
    if as_json:
        emit_json({"task": data})
    else:
        click.echo(f"task {data['id']} for {data['agent']}: {shorten(data['title'], 80)}")


@task.command("list")
@click.option("--agent", default=None, help="Only this agent's tasks.")
@click.option("--status", default="open", show_default=True, help="open, done, cancelled or all.")
@workspace_option
@json_option
def task_list(agent: str | None, status: str, workspace: str | None, as_json: bool) -> None:
    """Tasks, oldest first."""
    with use_case(workspace, readonly=True) as (uow, ws):
        found = tasks.list_tasks(
            uow.session, ws, agent=agent, status=None if status == "all" else status
        )
        names = Names.of(uow.session, ws)
        data = [task_dict(t, names) for t in found]
    if as_json:
        emit_json({"tasks": data})
        return
    rows = [
        (
            t["id"],
            t["agent"],
            t["status"],
            t["from_agent"] or t["created_by"],
            shorten(t["title"], 70),
        )
        for t in data
    ]
    click.echo(table(["id", "agent", "status", "from", "title"], rows))


@click.command("audit")
@count_option("--limit", 50, 100_000, "How many events, newest first.")
@workspace_option
@json_option
def audit_log(limit: int, workspace: str | None, as_json: bool) -> None:
    """The audit log: writes, promotions, archives and refusals."""
    with use_case(workspace, readonly=True) as (uow, ws):
        events = [audit_dict(e) for e in audit.recent(uow.session, ws, limit)]
    if as_json:
        emit_json({"events": events})
        return
    rows = [
        (
            e["id"],
            e["at"][:19],
            e["actor"],
            e["action"],
            e["target"],
            e["outcome"],
            e["origin"],
            shorten(e["detail"], 60),
        )
        for e in events
    ]
    click.echo(table(["id", "at", "actor", "action", "target", "outcome", "from", "detail"], rows))
