"""`salesbrain context HANDLE --task TEXT`: what the agent would see, and why."""

from __future__ import annotations

import click

from bot.cli import database_url, json_option, unit_of_work, use_case, workspace_option
from bot.cli.directory import db
from bot.cli.output import emit_json, pairs, shorten, table
from core import use_cases
from core.context import (
    DEFAULT_LIMIT,
    DEFAULT_TOKEN_BUDGET,
    AssembledContext,
    ContextSettings,
    assemble_context,
    optimize_index,
    render_memory_section,
)
from core.db import engine_for
from core.directory import get_agent
from core.errors import InvalidInput
from core.permissions import Actor

SCORE_LINE = (
    "score = relevance x (1 + wi x importance + wr x recency) / (1 + wi + wr); "
    "standing orders are there whatever the task"
)


def register(cli: click.Group) -> None:
    cli.add_command(context)
    cli.add_command(context_settings)
    db.add_command(db_optimize)


@click.command("optimize")
def db_optimize() -> None:
    """Compact the full-text index of memory (keeps context assembly fast; run daily)."""
    steps = optimize_index(engine_for(database_url()))
    click.echo(f"full-text index optimized ({steps} step{'s' if steps != 1 else ''})")


@click.command()
@click.argument("handle")
@click.option("--task", required=True, help="The task the agent is about to work on.")
@click.option("--limit", default=DEFAULT_LIMIT, show_default=True, help="At most this many.")
@click.option(
    "--budget", default=DEFAULT_TOKEN_BUDGET, show_default=True, help="Token budget of the memory."
)
@click.option("--prompt", is_flag=True, help="Print the memory section as the model gets it.")
@workspace_option
@json_option
def context(
    handle: str,
    task: str,
    limit: int,
    budget: int,
    prompt: bool,
    workspace: str | None,
    as_json: bool,
) -> None:
    """The memory an agent would see for a task, best first, with each score's components
    and why each block is there. Looking does not count as usage.
    """
    with use_case(workspace, readonly=True) as (uow, ws):
        agent = get_agent(uow.session, ws, handle)
        assembled = assemble_context(uow.session, agent, task, limit=limit, token_budget=budget)
    if as_json:
        emit_json(assembled.as_dict())
    elif prompt:
        click.echo(render_memory_section(assembled), nl=False)
    else:
        click.echo(_explained(assembled, budget))


def _explained(assembled: AssembledContext, budget: int) -> str:
    rows = [
        (
            rank,
            block.id,
            block.tier.value,
            block.type.value,
            block.importance,
            block.recency,
            block.relevance,
            block.score,
            shorten(block.content, 60),
            "; ".join(block.reasons()),
        )
        for rank, block in enumerate(assembled.blocks, start=1)
    ]
    headers = [
        "#", "id", "tier", "type", "importance", "recency", "relevance", "score", "content", "why",
    ]  # fmt: skip
    count = len(assembled.blocks)
    summary = (
        f"{count} block{'s' if count != 1 else ''} for {assembled.agent}, "
        f"{assembled.tokens} of {budget} tokens. {SCORE_LINE}"
    )
    return f"{table(headers, rows)}\n\n{summary}"


@click.command("context-settings")
@click.option("--half-life", "half_lives", multiple=True, metavar="TYPE=DAYS", help="Repeatable.")
@click.option("--company-half-life", type=float, default=None, metavar="DAYS")
@click.option(
    "--weight", "weights", multiple=True, metavar="PRIOR=X",
    help="Weight of the importance or recency prior (defaults 1 and 0.5). Repeatable.",
)  # fmt: skip
@click.option(
    "--standing-orders", type=int, default=None, help="Slots for the most important coaching."
)
@click.option(
    "--synonym-weight", type=float, default=None, help="What a lexicon synonym counts (0..1)."
)
@click.option("--by", default=None, help="Who changes them: an admin's Slack user id.")
@workspace_option
@json_option
def context_settings(
    half_lives: tuple[str, ...],
    company_half_life: float | None,
    weights: tuple[str, ...],
    standing_orders: int | None,
    synonym_weight: float | None,
    by: str | None,
    workspace: str | None,
    as_json: bool,
) -> None:
    """Show or change how context assembly weighs memory in this workspace (admins)."""
    changes: dict[str, object] = {}
    if half_lives:
        changes["half_life_days"] = dict(_pair(item, "half-life") for item in half_lives)
    if company_half_life is not None:
        changes["company_half_life_days"] = company_half_life
    for prior, value in (_pair(item, "weight") for item in weights):
        if prior not in ("importance", "recency"):
            raise InvalidInput("weight", f"{prior!r} is not importance or recency")
        changes[f"{prior}_weight"] = value
    if standing_orders is not None:
        changes["standing_orders"] = standing_orders
    if synonym_weight is not None:
        changes["synonym_weight"] = synonym_weight
    if changes and not by:
        raise click.UsageError("--by is required to change the settings")
    if changes:
        settings = use_cases.configure_context(
            unit_of_work(), workspace, changes, Actor.parse(str(by))
        )
    else:
        with use_case(workspace, readonly=True) as (_, ws):
            settings = ContextSettings.of(ws)
    data = settings.as_json()
    if as_json:
        emit_json({"context_settings": data})
        return
    items = [
        (f"half-life {kind}", f"{days:g} days") for kind, days in data["half_life_days"].items()
    ]
    items.append(("half-life company tier", f"{data['company_half_life_days']:g} days"))
    items += [
        (key.replace("_", " "), ", ".join(value) if isinstance(value, list) else value)
        for key, value in data.items()
        if "half_life" not in key
    ]
    click.echo(pairs(items))


def _pair(item: str, field: str) -> tuple[str, float]:
    name, _, value = item.partition("=")
    try:
        return name.strip(), float(value)
    except ValueError:
        raise InvalidInput(field, f"{item!r} is not NAME=NUMBER") from None
