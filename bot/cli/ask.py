"""`salesbrain ask "QUESTION"`: the brain's answer from its records, as in Slack."""

from __future__ import annotations

from dataclasses import asdict

import click

from bot.cli import json_option, unit_of_work, workspace_option
from bot.cli.output import emit_json
from core import use_cases
from core.ask import answer_writer
from core.directory import OPERATOR
from core.permissions import Actor
from core.settings import get_settings


def register(cli: click.Group) -> None:
    cli.add_command(ask)


@click.command()
@click.argument("question")
@click.option("--by", default=None, help="Who asks: a Slack user id (U0001); their role limits it.")
@click.option("--channel", default=None, help="The channel in view: its agent is asked about.")
@workspace_option
@json_option
def ask(
    question: str, by: str | None, channel: str | None, workspace: str | None, as_json: bool
) -> None:
    """Ask the brain in plain words, e.g. "what does sdr-emea know about hospital CTOs?";
    the answer cites the blocks, cycles and tasks it rests on, and changes nothing."""
    settings = get_settings()
    writer = answer_writer(settings, settings.heartbeat)
    answer = use_cases.ask(
        unit_of_work(readonly=True),
        workspace,
        question,
        Actor.parse(by) if by else OPERATOR,
        writer,
        viewing_channel=channel,
    )
    if as_json:
        emit_json(
            {
                "question": answer.question.text,
                "topic": answer.question.topic.value,
                "title": answer.title,
                "answer": answer.text,
                "records": [{"ref": r.ref, **asdict(r)} for r in answer.records],
                "notes": answer.notes,
                "written_by": answer.written_by,
            }
        )
        return
    click.echo(answer.title)
    click.echo(answer.text)
    for note in answer.notes:
        click.echo(f"({note})")
