"""`salesbrain db | workspace | team | member | agent ...`"""

from __future__ import annotations

import click

from bot.cli import (
    database_url,
    force_option,
    json_option,
    unit_of_work,
    use_case,
    workspace_option,
)
from bot.cli.output import emit_json, pairs, shorten, table
from bot.cli.views import agent_dict, iso, member_dict
from core import directory, use_cases
from core.lifecycle import known_models, model_status, upgrade_hint
from core.memory import brain_size
from core.models import AgentStatus
from core.permissions import Actor
from core.proposals import Autonomy
from core.settings import get_settings
from core.tasks import open_tasks
from migrations import schema


def register(cli: click.Group) -> None:
    for command in (db, workspace, team, member, agent, models, digest):
        cli.add_command(command)


@click.group()
def db() -> None:
    """The database schema."""


@db.command("upgrade")
@click.option("--revision", default="head", show_default=True, help="Target revision.")
def db_upgrade(revision: str) -> None:
    """Migrate the database to the latest schema."""
    url = database_url()
    schema.upgrade(url, revision)
    click.echo(f"database at revision {schema.current(url)}")


@db.command("prune")
def db_prune() -> None:
    """Forget reports delivered more than SALESBRAIN_RETENTION_OUTBOX_DAYS ago (7) and
    Slack deliveries too old to be retried; run it daily (DEPLOY.md)."""
    days = get_settings().retention_outbox_days
    pruned = use_cases.prune(unit_of_work(), days)
    click.echo(
        f"forgot {pruned.reports} report(s) delivered more than {days:g} days ago "
        f"and {pruned.deliveries} old Slack delivery id(s)"
    )


@click.group()
def workspace() -> None:
    """Slack workspaces."""


@workspace.command("create")
@click.argument("team_id")
@click.option("--name", required=True, help="Display name, e.g. Acme.")
@json_option
def workspace_create(team_id: str, name: str, as_json: bool) -> None:
    """Register a Slack workspace by its team id (T0001)."""
    with unit_of_work() as uow:
        created = directory.create_workspace(uow.session, team_id, name)
    if as_json:
        emit_json({"workspace": created.slack_team_id, "name": created.name})
    else:
        click.echo(f"workspace {created.slack_team_id} ({created.name}) created")


@workspace.command("set")
@click.option(
    "--autonomy",
    type=click.Choice([a.value for a in Autonomy]),
    default=None,
    help="propose: directors' promotions and coaching wait for a manager; apply: at once.",
)
@click.option(
    "--director-notes-per-day",
    "notes_per_day",
    type=int,
    default=None,
    help="Director coaching notes per agent per day (default 1).",
)
@click.option(
    "--digest-day",
    default=None,
    metavar="DAY",
    help="Weekday the weekly digests are posted: mon, tue, ... sun.",
)
@click.option(
    "--digest-hour", type=int, default=None, metavar="H", help="Hour (UTC) they are posted, 0-23."
)
@click.option("--by", default=None, help="Who changes it: an admin's Slack user id (U0001).")
@workspace_option
@json_option
def workspace_set(
    autonomy: str | None,
    notes_per_day: int | None,
    digest_day: str | None,
    digest_hour: int | None,
    by: str | None,
    workspace: str | None,
    as_json: bool,
) -> None:
    """Show or change the workspace's settings (admins): directors' autonomy, digests."""
    changes = {
        "autonomy": autonomy,
        "notes_per_day": notes_per_day,
        "digest_day": digest_day,
        "digest_hour": digest_hour,
    }
    if all(value is None for value in changes.values()):
        settings = use_cases.workspace_settings(unit_of_work(readonly=True), workspace)
    elif by is None:
        raise click.UsageError("--by is required to change the settings")
    else:
        settings = use_cases.configure_workspace(
            unit_of_work(), workspace, Actor.parse(by), **changes
        )
    if as_json:
        emit_json({"director": settings.director.as_json(), "digest": settings.digest.model_dump()})
        return
    director, schedule = settings.director, settings.digest
    click.echo(
        f"autonomy: {director.autonomy.value}; director notes per agent per day: "
        f"{director.notes_per_day}; weekly digests: {schedule.day} at {schedule.hour:02d}:00 UTC"
    )


@click.command()
@click.option("--team", required=True, help="The team's slug (emea).")
@workspace_option
@json_option
def digest(team: str, workspace: str | None, as_json: bool) -> None:
    """Print a team's weekly digest: learned, coaching impact, promotions, stale, waiting."""
    found = use_cases.weekly_digest(unit_of_work(readonly=True), workspace, team)
    if as_json:
        emit_json({"digest": found.as_dict()})
    else:
        click.echo(found.text())


@click.group()
def team() -> None:
    """Teams of agents and people."""


@team.command("create")
@click.argument("slug")
@click.option("--name", required=True, help='Display name, e.g. "EMEA Sales".')
@workspace_option
@json_option
def team_create(slug: str, name: str, workspace: str | None, as_json: bool) -> None:
    """Add a team (e.g. emea)."""
    with use_case(workspace) as (uow, ws):
        created = directory.create_team(uow.session, ws, slug, name)
    if as_json:
        emit_json({"team": created.slug, "name": created.name})
    else:
        click.echo(f"team {created.slug} ({created.name}) created")


@team.command("list")
@workspace_option
@json_option
def team_list(workspace: str | None, as_json: bool) -> None:
    """The workspace's teams."""
    with use_case(workspace, readonly=True) as (uow, ws):
        teams = directory.list_teams(uow.session, ws)
    if as_json:
        emit_json({"teams": [{"team": t.slug, "name": t.name} for t in teams]})
    else:
        click.echo(table(["team", "name"], [(t.slug, t.name) for t in teams]))


@click.group()
def member() -> None:
    """People (Slack users) and their roles."""


@member.command("set")
@click.argument("user")
@click.option(
    "--role", required=True, type=click.Choice(["admin", "manager", "member"]), help="Role."
)
@click.option("--team", "teams", multiple=True, help="A team a manager manages (repeatable).")
@click.option("--name", default=None, help="Display name.")
@workspace_option
@json_option
def member_set(
    user: str,
    role: str,
    teams: tuple[str, ...],
    name: str | None,
    workspace: str | None,
    as_json: bool,
) -> None:
    """Give a Slack user (U0001) a role."""
    with use_case(workspace) as (uow, ws):
        saved = directory.set_member(uow.session, ws, user, role, teams, display_name=name)
        data = member_dict(saved)
    if as_json:
        emit_json({"member": data})
    else:
        managed = f" of {', '.join(data['teams'])}" if data["teams"] else ""
        click.echo(f"{data['user']} is now {data['role']}{managed}")


@member.command("list")
@workspace_option
@json_option
def member_list(workspace: str | None, as_json: bool) -> None:
    """Members with a role."""
    with use_case(workspace, readonly=True) as (uow, ws):
        members = [member_dict(m) for m in directory.list_members(uow.session, ws)]
    if as_json:
        emit_json({"members": members})
    else:
        rows = [(m["user"], m["role"], ",".join(m["teams"]) or "-", m["name"]) for m in members]
        click.echo(table(["user", "role", "teams", "name"], rows))


@click.group()
def agent() -> None:
    """AI sales agents."""


@agent.command("create")
@click.argument("handle")
@click.option("--team", required=True, help="Team slug.")
@click.option(
    "--role",
    required=True,
    help="sdr, account_executive, marketing_manager, ad_manager or director.",
)
@click.option("--model", default=None, help="Model id (default: a current model).")
@force_option
@click.option("--every", default=None, help="Heartbeat interval: 60m, 3h (directors 180m).")
@click.option("--channel", default=None, help="Slack channel id for cycle reports.")
@click.option("--objective", default=None, help="What the agent works towards.")
@click.option("--name", default=None, help="Display name.")
@workspace_option
@json_option
def agent_create(
    handle: str,
    team: str,
    role: str,
    model: str | None,
    every: str | None,
    channel: str | None,
    objective: str | None,
    name: str | None,
    force: bool,
    workspace: str | None,
    as_json: bool,
) -> None:
    """Create an agent (e.g. sdr-emea)."""
    with use_case(workspace) as (uow, ws):
        created = directory.create_agent(
            uow.session,
            ws,
            handle,
            team=team,
            role=role,
            model=model,
            every=every,
            channel=channel,
            objective=objective,
            display_name=name,
            force=force,
        )
        data = agent_dict(created)
    if as_json:
        emit_json({"agent": data})
    else:
        click.echo(
            f"agent {data['handle']} ({data['role']}, team {data['team']}, {data['model']}, "
            f"every {data['every_minutes']}m) created"
        )


@agent.command("list")
@click.option("--team", default=None, help="Only this team's agents.")
@workspace_option
@json_option
def agent_list(team: str | None, workspace: str | None, as_json: bool) -> None:
    """The workspace's agents."""
    with use_case(workspace, readonly=True) as (uow, ws):
        agents = [agent_dict(a) for a in directory.list_agents(uow.session, ws, team)]
    if as_json:
        emit_json({"agents": agents})
        return
    rows = [
        (
            a["handle"],
            a["role"],
            a["team"],
            a["model"],
            model_status(a["model"]).describe(),
            f"{a['every_minutes']}m",
            a["status"],
            (a["next_run_at"] or "-")[:16],
        )
        for a in agents
    ]
    click.echo(
        table(
            ["agent", "role", "team", "model", "model state", "every", "status", "next run"], rows
        )
    )


@agent.command("show")
@click.argument("handle")
@workspace_option
@json_option
def agent_show(handle: str, workspace: str | None, as_json: bool) -> None:
    """One agent: settings, brain size and open tasks."""
    with use_case(workspace, readonly=True) as (uow, ws):
        found = directory.get_agent(uow.session, ws, handle)
        data = agent_dict(found)
        data["brain"] = brain_size(uow.session, found)
        data["open_tasks"] = [
            {"id": t.id, "title": t.title, "created_at": iso(t.created_at)}
            for t in open_tasks(uow.session, found)
        ]
        hint = upgrade_hint(found.handle, found.model)
    if as_json:
        emit_json({"agent": data})
        return
    click.echo(
        pairs(
            [
                ("agent", f"{data['handle']} ({data['name']})"),
                ("role", data["role"]),
                ("team", data["team"]),
                ("objective", data["objective"] or "-"),
                ("model", data["model"]),
                ("every", f"{data['every_minutes']}m"),
                ("channel", data["channel"]),
                ("status", data["status"]),
                ("next run", data["next_run_at"]),
                ("last cycle", data["last_cycle_at"]),
                (
                    "brain",
                    ", ".join(f"{count} {tier}" for tier, count in data["brain"].items()),
                ),
                ("open tasks", len(data["open_tasks"])),
            ]
        )
    )
    for task in data["open_tasks"]:
        click.echo(f"  - #{task['id']} {shorten(task['title'], 90)}")
    if hint:
        click.echo(f"warning: {hint}")


@agent.command("set")
@click.argument("handle")
@click.option("--model", default=None, help="Model id; memory is kept.")
@force_option
@click.option("--every", default=None, help="Heartbeat interval: 60m, 3h.")
@click.option("--channel", default=None, help="Slack channel id for cycle reports.")
@click.option("--objective", default=None, help="What the agent works towards.")
@workspace_option
@json_option
def agent_set(
    handle: str,
    model: str | None,
    every: str | None,
    channel: str | None,
    objective: str | None,
    force: bool,
    workspace: str | None,
    as_json: bool,
) -> None:
    """Change an agent's model, interval, channel or objective."""
    with use_case(workspace) as (uow, ws):
        changed = directory.update_agent(
            uow.session,
            ws,
            handle,
            model=model,
            every=every,
            channel=channel,
            objective=objective,
            force=force,
        )
        data = agent_dict(changed)
        hint = upgrade_hint(changed.handle, changed.model)
    if as_json:
        emit_json({"agent": data})
        return
    click.echo(
        f"agent {data['handle']}: model {data['model']}, every {data['every_minutes']}m, "
        f"channel {data['channel'] or '-'}"
    )
    if hint:
        click.echo(f"warning: {hint}")


def _set_status(handle: str, status: AgentStatus, workspace: str | None, as_json: bool) -> None:
    with use_case(workspace) as (uow, ws):
        data = agent_dict(directory.set_agent_status(uow.session, ws, handle, status))
    if as_json:
        emit_json({"agent": data})
    else:
        click.echo(f"agent {data['handle']} is {data['status']}")


@agent.command("pause")
@click.argument("handle")
@workspace_option
@json_option
def agent_pause(handle: str, workspace: str | None, as_json: bool) -> None:
    """Stop an agent's heartbeat."""
    _set_status(handle, AgentStatus.PAUSED, workspace, as_json)


@agent.command("resume")
@click.argument("handle")
@workspace_option
@json_option
def agent_resume(handle: str, workspace: str | None, as_json: bool) -> None:
    """Restart an agent's heartbeat; it is due at once."""
    _set_status(handle, AgentStatus.ACTIVE, workspace, as_json)


@click.command()
@json_option
def models(as_json: bool) -> None:
    """The models this installation knows, with their state today (the default marked)."""
    known = known_models()
    if as_json:
        emit_json({"models": [status.as_dict() for status in known]})
        return
    rows = [
        (status.model + (" (default)" if status.is_default else ""), status.describe())
        for status in known
    ]
    click.echo(table(["model", "state"], rows))
