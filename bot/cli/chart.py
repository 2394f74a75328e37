"""`salesbrain chart finding ID | coaching ID | team SLUG --out FILE.png`: a PNG chart."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import click

from bot.cli import unit_of_work, workspace_option
from core import use_cases
from core.errors import InvalidInput

KINDS = ("finding", "coaching", "team")


def register(cli: click.Group) -> None:
    cli.add_command(chart)


@click.command("chart")
@click.argument("kind", type=click.Choice(KINDS))
@click.argument("ident", metavar="ID|SLUG")
@click.option(
    "--out",
    "out",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="The PNG file to write.",
)
@workspace_option
def chart(kind: str, ident: str, out: Path, workspace: str | None) -> None:
    """A PNG chart: a finding's rate over time (by its block id), a coaching note's reply
    rates before, with and without it, or a team's weekly cycles, learnings and promotions."""
    if out.suffix.lower() != ".png":
        raise InvalidInput("--out", f"{out.name!r} is not a .png file")
    if not out.parent.is_dir():
        raise InvalidInput("--out", f"no directory {str(out.parent)!r}")
    # matplotlib is imported here, by the one command that draws: it takes seconds, which
    # every other command (and each serve worker) would pay.
    from bot import charts

    drawn: dict[str, Callable[[], bytes]] = {
        "finding": lambda: charts.finding_chart(
            use_cases.finding_trend(unit_of_work(readonly=True), workspace, ident)
        ),
        "coaching": lambda: charts.note_chart(
            use_cases.note_trend(unit_of_work(readonly=True), workspace, ident)
        ),
        "team": lambda: charts.team_chart(
            use_cases.team_weeks(unit_of_work(readonly=True), workspace, ident)
        ),
    }
    image = drawn[kind]()
    out.write_bytes(image)
    click.echo(f"wrote {out} ({len(image):,} bytes)")
