"""`salesbrain context HANDLE --task TEXT`: what the agent would see, and why."""

from __future__ import annotations

import click

from bot.cli import json_option, use_case, workspace_option
from bot.cli.output import emit_json, shorten, table
from core.context import (
    DEFAULT_LIMIT,
    DEFAULT_TOKEN_BUDGET,
    AssembledContext,
    assemble_context,
    render_memory_section,
)
from core.directory import get_agent


def register(cli: click.Group) -> None:
    cli.add_command(context)


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
    """The memory an agent would see for a task, best first, with each score's components.

    score = importance x recency x relevance. Looking does not count as usage.
    """
    with use_case(workspace, readonly=True) as (session, ws):
        agent = get_agent(session, ws, handle)
        assembled = assemble_context(session, agent, task, limit=limit, token_budget=budget)
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
        )
        for rank, block in enumerate(assembled.blocks, start=1)
    ]
    headers = ["#", "id", "tier", "type", "importance", "recency", "relevance", "score", "content"]
    count = len(assembled.blocks)
    summary = (
        f"{count} block{'s' if count != 1 else ''} for {assembled.agent}, "
        f"{assembled.tokens} of {budget} tokens. score = importance x recency x relevance"
    )
    return f"{table(headers, rows)}\n\n{summary}"
