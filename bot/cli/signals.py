"""`salesbrain signals import | analyze | review`"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import click

from bot.cli import json_option, unit_of_work, use_case, workspace_option
from bot.cli.output import emit_json, shorten, table
from bot.cli.views import block_dict
from core import use_cases
from core.errors import InvalidInput
from core.models import SignalType
from core.signals import StaleCopy, review_team, stale_copies
from core.signals.ingest import ImportResult

# Bad rows printed for a person; --json lists them all (up to the service's own cap).
SHOWN_BAD_ROWS = 20


def register(cli: click.Group) -> None:
    cli.add_command(signals)


@click.group()
def signals() -> None:
    """Performance signals: import them, analyse them into learnings, review promotions."""


@signals.command(
    "import",
    help=f"""Import signals from a CSV (with a header) or JSON Lines FILE; - reads standard input.

    Required per row: id (the sender's), type, occurred_at (ISO 8601; no offset is UTC) and
    agent (a handle). type is one of {", ".join(SignalType)}.

    Each signal is stored once per sender id; bad rows are reported by line number while
    the good ones are stored, and the exit status is 2 when any row was bad.
    """,
)
@click.argument("file", type=click.Path(exists=True, dir_okay=False, allow_dash=True))
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["csv", "jsonl"]),
    default=None,
    help="Default: JSON Lines when the first line is a JSON object, else CSV.",
)
@workspace_option
@json_option
def signals_import(file: str, fmt: str | None, workspace: str | None, as_json: bool) -> None:
    with _lines(file) as lines:
        result = use_cases.import_signals(unit_of_work(), workspace, lines, fmt)
    if as_json:
        emit_json(result.as_dict())
    else:
        _print_import(result)
    if result.bad_total:
        raise InvalidInput(
            "file",
            f"{result.bad_total:,} bad row(s), the first at line {result.bad[0].line}; "
            f"the good rows were stored ({result.new:,} new)",
        )


@contextmanager
def _lines(file: str) -> Iterator[Iterator[str]]:
    """The file's lines, read as they are needed (never the whole file at once)."""
    stream: Any = (
        sys.stdin if file == "-" else open(file, encoding="utf-8-sig", newline="")  # noqa: SIM115
    )
    try:
        yield iter(stream)
    except UnicodeDecodeError as error:
        raise InvalidInput("file", f"{file} is not UTF-8 text ({error.reason})") from None
    finally:
        if stream is not sys.stdin:
            stream.close()


def _print_import(result: ImportResult) -> None:
    click.echo(f"{result.new:,} new, {result.known:,} already known, {result.bad_total:,} bad")
    for row in result.bad[:SHOWN_BAD_ROWS]:
        click.echo(f"  line {row.line}: {row.reason}")
    if result.bad_total > SHOWN_BAD_ROWS:
        click.echo(f"  ... and {result.bad_total - SHOWN_BAD_ROWS:,} more (see --json)")


@signals.command("analyze")
@click.option("--agent", default=None, help="Only this agent (a director: and its team).")
@workspace_option
@json_option
def signals_analyze(agent: str | None, workspace: str | None, as_json: bool) -> None:
    """Turn signals into findings now: new learning blocks, updated or superseded ones."""
    analysed = use_cases.analyse_signals(unit_of_work(), workspace, agent)
    result = analysed.result
    changes = [
        {"action": c.action, "finding": c.finding, **block_dict(c.block, analysed.names)}
        for c in result.changes
    ]
    if as_json:
        emit_json({"scopes": result.scopes, "holding": result.holding, "changes": changes})
        return
    click.echo(
        f"{result.scopes} scope(s) analysed, {result.holding} finding(s) hold; "
        f"{len(result.created)} new, {len(result.updated)} updated, "
        f"{len(result.superseded)} superseded"
    )
    if changes:
        rows = [
            (
                c["action"],
                c["id"],
                c["agent"],
                c["type"],
                c["importance"],
                shorten(c["content"], 70),
            )
            for c in changes
        ]
        click.echo(table(["change", "block", "brain", "type", "importance", "finding"], rows))


@signals.command("review")
@click.option("--team", required=True, help="The team whose Personal Brains to review.")
@workspace_option
@json_option
def signals_review(team: str, workspace: str | None, as_json: bool) -> None:
    """Learnings that qualify for the team's Team Brain, and its copies that went stale."""
    with use_case(workspace, readonly=True) as (uow, ws):
        candidates = review_team(uow.session, ws, team)
        stale = stale_copies(uow.session, ws, team)
    if as_json:
        emit_json(
            {
                "team": team,
                "candidates": [
                    {
                        "block": c.block_id,
                        "content": c.content,
                        "reason": c.reason,
                        "evidence": c.evidence,
                    }
                    for c in candidates
                ],
                "stale": [
                    {
                        "block": copy.block_id,
                        "content": copy.content,
                        "finding": copy.finding,
                        "reason": copy.reason,
                        "action": copy.action,
                        "current": copy.current_id,
                    }
                    for copy in stale
                ],
            }
        )
        return
    if candidates:
        rows = [(c.block_id, shorten(c.content, 60), shorten(c.reason, 70)) for c in candidates]
        click.echo(table(["block", "finding", "why"], rows))
        click.echo(
            f"promote one with: salesbrain promote BLOCK --to team --by <director of {team}>"
        )
    else:
        click.echo(f"no learning of team {team} qualifies for its Team Brain yet")
    if stale:
        click.echo(f"\nstale on the Team Brain of {team} (their findings moved on):")
        for copy in stale:
            click.echo(f"block {copy.block_id} ({copy.finding}): {shorten(copy.content, 200)}")
            click.echo(f"  why: {shorten(copy.reason, 300)}")
            click.echo(f"  do:  {_remedy(copy, team)}")


def _remedy(stale: StaleCopy, team: str) -> str:
    who = f"--by <director of {team}>"
    if stale.action == "refresh":
        return f"salesbrain memory refresh {stale.block_id} {who}"
    archive = f"salesbrain memory archive {stale.block_id} {who}"
    if stale.current_id is None:
        return archive
    return f"{archive}, then salesbrain promote {stale.current_id} --to team {who}"
