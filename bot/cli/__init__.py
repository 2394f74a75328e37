"""The `salesbrain` command line: thin commands over core services.

Errors are one line on stderr with an exit status: 2 bad input or usage, 3 permission
refused, 4 not found, 1 anything else (the database is unreachable, say).
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

import click
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError

from core.db import UnitOfWork, engine_for
from core.errors import DomainError
from core.models import Workspace
from core.settings import get_settings

F = TypeVar("F", bound=Callable[..., Any])


def database_url() -> str:
    return get_settings().database_url


def unit_of_work(*, readonly: bool = False) -> UnitOfWork:
    """A unit of work on the configured database, for one use case."""
    return UnitOfWork(engine_for(database_url()), readonly=readonly)


@contextmanager
def use_case(
    workspace: str | None = None, *, readonly: bool = False
) -> Iterator[tuple[UnitOfWork, Workspace]]:
    """One unit of work in the named (or only) workspace, for the commands that only read
    or set up (the operator's own: workspaces, teams, agents)."""
    with unit_of_work(readonly=readonly) as uow:
        yield uow, uow.workspaces.named_or_only(workspace)


def workspace_option(command: F) -> F:
    return click.option(
        "--workspace",
        "workspace",
        metavar="TEAM_ID",
        help="Slack team id; optional when the database holds one workspace.",
    )(command)


def count_option(name: str, default: int, most: int, help: str) -> Callable[[F], F]:
    """A count such as --limit: a whole number from 1 to `most` (-1 or 0 is bad input)."""
    return click.option(
        name, type=click.IntRange(1, most), default=default, show_default=True, help=help
    )


def json_option(command: F) -> F:
    return click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")(command)


def force_option(command: F) -> F:
    """--force: a model id the installed anthropic SDK does not know yet (never a retired one)."""
    return click.option(
        "--force", is_flag=True, help="Allow a model id newer than the installed anthropic SDK."
    )(command)


@click.group(invoke_without_command=True, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="salesbrain", message="%(prog)s %(version)s")
@click.pass_context
def cli(ctx: click.Context) -> None:
    """salesbrain: the memory layer for a team of AI sales agents."""
    if ctx.invoked_subcommand is None:
        click.echo(ctx.get_help())


def _register_commands() -> None:
    from bot.cli import (
        ask,
        chart,
        context,
        directory,
        health,
        heartbeat,
        memory,
        outbox,
        proposals,
        serve,
        signals,
    )

    for module in (
        directory,
        memory,
        health,
        context,
        signals,
        heartbeat,
        outbox,
        serve,
        proposals,
        ask,
        chart,
    ):
        module.register(cli)


_register_commands()


def main(argv: list[str] | None = None) -> None:
    """Entry point: run a command, turn every error into one line and an exit status."""
    try:
        cli.main(args=argv, prog_name="salesbrain", standalone_mode=False)
    except DomainError as error:
        _fail(error.message, error.exit_code)
    except click.exceptions.NoArgsIsHelpError as error:
        click.echo(error.ctx.get_help() if error.ctx else str(error))
        sys.exit(0)
    except click.UsageError as error:
        hint = f" (see `{error.ctx.command_path} --help`)" if error.ctx else ""
        _fail(error.format_message() + hint, 2)
    except click.ClickException as error:
        _fail(error.format_message(), error.exit_code)
    except click.exceptions.Abort:
        _fail("aborted", 1)
    except SQLAlchemyError as error:
        if _debug():
            raise
        _fail(_database_problem(error), 1)
    except Exception as error:
        if _debug():
            raise
        _fail(f"internal error ({type(error).__name__}: {error}); rerun with SALESBRAIN_DEBUG=1", 1)
    sys.exit(0)


def _debug() -> bool:
    try:
        return get_settings().debug
    except ValueError:  # settings that do not parse: the error says so, in one line
        return False


def _fail(message: str, code: int) -> None:
    click.echo(f"error: {' '.join(message.split())}", err=True)
    sys.exit(code)


def _database_problem(error: SQLAlchemyError) -> str:
    where = make_url(database_url()).render_as_string(hide_password=True)
    text = str(getattr(error, "orig", error)).strip().splitlines()[0]
    if "no such table" in text or "does not exist" in text:
        return f"the database {where} has no salesbrain schema yet: run `salesbrain db upgrade`"
    return f"database {where}: {text}"
