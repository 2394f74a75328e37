"""Workspaces, teams, members and agents: who is who in a workspace, the roles admins give
people, and the agent a message names."""

from __future__ import annotations

import contextlib
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from core import audit, clock, lifecycle, rules
from core.db import Workspaces
from core.errors import InvalidInput, NotFound
from core.models import (
    DEFAULT_MODEL,
    DIRECTOR_INTERVAL_MINUTES,
    Agent,
    AgentRole,
    AgentStatus,
    Member,
    MemberRole,
    Team,
    Workspace,
)
from core.permissions import Actor, check_admin, principal_for

OPERATOR = Actor.system("operator")
# `<@U123|name>`: how Slack escapes a mention of a user (an agent's bot persona included).
ESCAPED_MENTION = re.compile(r"<@([A-Z0-9]+)(?:\|([^>]*))?>")


@dataclass(frozen=True)
class Names:
    """Handles and slugs of one workspace, to name owners without a query per block."""

    agents: dict[int, str]
    teams: dict[int, str]

    @classmethod
    def of(cls, session: Session, workspace: Workspace) -> Names:
        """The workspace's agents' handles and teams' slugs, by id."""
        agents = session.execute(
            select(Agent.id, Agent.handle).where(Agent.workspace_id == workspace.id)
        )
        teams = session.execute(select(Team.id, Team.slug).where(Team.workspace_id == workspace.id))
        return cls({id_: handle for id_, handle in agents}, {id_: slug for id_, slug in teams})


def create_workspace(
    session: Session, slack_team_id: str, name: str, *, by: Actor = OPERATOR
) -> Workspace:
    """Register a Slack workspace."""
    slack_team_id = rules.team_id(slack_team_id)
    name = rules.content(name, "name", limit=200)
    if Workspaces(session).find(slack_team_id) is not None:
        raise InvalidInput("team_id", f"workspace {slack_team_id} already exists")
    workspace = Workspace(slack_team_id=slack_team_id, name=name, settings={})
    session.add(workspace)
    session.flush()
    audit.record(session, workspace, by, "workspace.create", f"workspace:{slack_team_id}", name)
    return workspace


def resolve_workspace(session: Session, slack_team_id: str | None) -> Workspace:
    """The named workspace, or the only one when none is named."""
    return Workspaces(session).named_or_only(slack_team_id)


def create_team(
    session: Session, workspace: Workspace, slug: str, name: str, *, by: Actor = OPERATOR
) -> Team:
    """Add a team to a workspace."""
    slug = rules.slug(slug)
    name = rules.content(name, "name", limit=200)
    if session.scalar(select(Team).where(Team.workspace_id == workspace.id, Team.slug == slug)):
        raise InvalidInput("team", f"team {slug} already exists")
    team = Team(workspace_id=workspace.id, slug=slug, name=name)
    session.add(team)
    session.flush()
    audit.record(session, workspace, by, "team.create", f"team:{slug}", name)
    return team


def get_team(session: Session, workspace: Workspace, slug: str) -> Team:
    """A team by slug; the error lists the known teams."""
    team = session.scalar(select(Team).where(Team.workspace_id == workspace.id, Team.slug == slug))
    if team is None:
        known = ", ".join(t.slug for t in list_teams(session, workspace)) or "none yet"
        raise NotFound(f"team {slug!r} not found; teams: {known}")
    return team


def list_teams(session: Session, workspace: Workspace) -> list[Team]:
    return list(
        session.scalars(select(Team).where(Team.workspace_id == workspace.id).order_by(Team.slug))
    )


def set_member(
    session: Session,
    workspace: Workspace,
    slack_user_id: str,
    role: str,
    teams: list[str] | tuple[str, ...] = (),
    *,
    display_name: str | None = None,
    by: Actor = OPERATOR,
) -> Member:
    """Give a Slack user a role; managers name the teams they manage."""
    slack_user_id = (slack_user_id or "").strip()
    if not slack_user_id:
        raise InvalidInput("user", "is empty")
    member_role = rules.choice(MemberRole, role, "role")
    managed = [get_team(session, workspace, slug) for slug in teams]
    if member_role is MemberRole.MANAGER and not managed:
        raise InvalidInput("team", "a manager needs at least one --team to manage")
    member = session.scalar(
        select(Member).where(
            Member.workspace_id == workspace.id, Member.slack_user_id == slack_user_id
        )
    )
    if member is None:
        member = Member(workspace_id=workspace.id, slack_user_id=slack_user_id, role=member_role)
        session.add(member)
    member.role = member_role
    member.managed_teams = managed if member_role is MemberRole.MANAGER else []
    if display_name:
        member.display_name = display_name
    session.flush()
    audit.record(
        session,
        workspace,
        by,
        "member.set",
        f"member:{slack_user_id}",
        f"{member_role.value} {' '.join(t.slug for t in member.managed_teams)}".strip(),
    )
    return member


def get_member(session: Session, workspace: Workspace, slack_user_id: str) -> Member | None:
    return session.scalar(
        select(Member).where(
            Member.workspace_id == workspace.id, Member.slack_user_id == slack_user_id
        )
    )


def list_members(session: Session, workspace: Workspace) -> list[Member]:
    return list(
        session.scalars(
            select(Member).where(Member.workspace_id == workspace.id).order_by(Member.slack_user_id)
        )
    )


def create_agent(
    session: Session,
    workspace: Workspace,
    handle: str,
    *,
    team: str,
    role: str,
    model: str | None = None,
    every: str | int | None = None,
    channel: str | None = None,
    objective: str | None = None,
    display_name: str | None = None,
    force: bool = False,
    by: Actor = OPERATOR,
) -> Agent:
    """Create an agent on a team; it is due for its first cycle at once. A retired or unknown
    model is refused; `force` allows an id newer than the installed SDK."""
    handle = rules.handle(handle)
    agent_role = rules.choice(AgentRole, role, "role")
    owning_team = get_team(session, workspace, team)
    if session.scalar(
        select(Agent).where(Agent.workspace_id == workspace.id, Agent.handle == handle)
    ):
        raise InvalidInput("handle", f"agent {handle} already exists")
    default_every = DIRECTOR_INTERVAL_MINUTES if agent_role is AgentRole.DIRECTOR else None
    agent = Agent(
        workspace_id=workspace.id,
        team_id=owning_team.id,
        team=owning_team,
        handle=handle,
        display_name=rules.content(display_name, "name", 200) if display_name else handle,
        role=agent_role,
        objective=rules.content(objective, "objective") if objective else "",
        model=_model_id(model, force) if model else DEFAULT_MODEL,
        report_channel=rules.channel_id(channel) if channel and channel.strip() else None,
        status=AgentStatus.ACTIVE,
        next_run_at=clock.now(),
    )
    if every is not None:
        agent.interval_minutes = rules.interval_minutes(every)
    elif default_every is not None:
        agent.interval_minutes = default_every
    session.add(agent)
    try:
        session.flush()
    except IntegrityError:
        raise InvalidInput("handle", f"agent {handle} already exists") from None
    audit.record(
        session, workspace, by, "agent.create", f"agent:{handle}", f"{agent_role.value} {team}"
    )
    return agent


def _model_id(value: str, force: bool) -> str:
    model = (value or "").strip()
    if not model or len(model) > 100 or any(c.isspace() for c in model):
        raise InvalidInput("model", f"{value!r} is not a model id (e.g. {DEFAULT_MODEL})")
    lifecycle.check_choosable(model, force=force)
    return model


def get_agent(session: Session, workspace: Workspace, handle: str) -> Agent:
    """An agent by handle (a leading @ is allowed); the error lists the known agents."""
    handle = (handle or "").strip().lstrip("@")
    agent = session.scalar(
        select(Agent).where(Agent.workspace_id == workspace.id, Agent.handle == handle)
    )
    if agent is None:
        raise NotFound(f"agent {handle!r} not found; agents: {known_agents(session, workspace)}")
    return agent


def known_agents(session: Session, workspace: Workspace, limit: int = 20) -> str:
    handles = list(
        session.scalars(
            select(Agent.handle)
            .where(Agent.workspace_id == workspace.id)
            .order_by(Agent.handle)
            .limit(limit + 1)
        )
    )
    if not handles:
        return "none yet"
    more = "" if len(handles) <= limit else f" and {_count_agents(session, workspace) - limit} more"
    return ", ".join(handles[:limit]) + more


def _count_agents(session: Session, workspace: Workspace) -> int:
    return (
        session.scalar(
            select(func.count()).select_from(Agent).where(Agent.workspace_id == workspace.id)
        )
        or 0
    )


def list_agents(session: Session, workspace: Workspace, team: str | None = None) -> list[Agent]:
    query = select(Agent).where(Agent.workspace_id == workspace.id).order_by(Agent.handle)
    if team:
        query = query.where(Agent.team_id == get_team(session, workspace, team).id)
    return list(session.scalars(query))


def update_agent(
    session: Session,
    workspace: Workspace,
    handle: str,
    *,
    model: str | None = None,
    every: str | int | None = None,
    channel: str | None = None,
    objective: str | None = None,
    force: bool = False,
    by: Actor = OPERATOR,
) -> Agent:
    """Change an agent's model, interval, report channel or objective. Memory is untouched.
    A retired or unknown model is refused; `force` allows an id newer than the installed SDK."""
    agent = get_agent(session, workspace, handle)
    changes: list[str] = []
    if model is not None:
        agent.model = _model_id(model, force)
        changes.append(f"model={agent.model}")
    if every is not None:
        agent.interval_minutes = rules.interval_minutes(every)
        changes.append(f"every={agent.interval_minutes}m")
    if channel is not None:
        agent.report_channel = rules.channel_id(channel) if channel.strip() else None
        changes.append(f"channel={agent.report_channel}")
    if objective is not None:
        agent.objective = rules.content(objective, "objective")
        changes.append("objective")
    if not changes:
        raise InvalidInput(
            "agent set", "nothing to change; pass --model, --every, --channel or --objective"
        )
    session.flush()
    audit.record(session, workspace, by, "agent.set", f"agent:{agent.handle}", " ".join(changes))
    return agent


def set_agent_status(
    session: Session,
    workspace: Workspace,
    handle: str,
    status: AgentStatus,
    *,
    by: Actor = OPERATOR,
) -> Agent:
    """Pause or resume an agent's heartbeat. A resumed agent is due at once."""
    agent = get_agent(session, workspace, handle)
    agent.status = status
    if status is AgentStatus.ACTIVE:
        agent.next_run_at = clock.now()
    session.flush()
    action = "agent.resume" if status is AgentStatus.ACTIVE else "agent.pause"
    audit.record(session, workspace, by, action, f"agent:{agent.handle}")
    return agent


def enrol_slack_user(
    session: Session,
    workspace: Workspace,
    slack_user_id: str,
    *,
    workspace_admin: bool,
    display_name: str | None = None,
) -> Member:
    """A Slack user seen for the first time: Slack's admins and owners become admins,
    everyone else a (read-only) member. A role set before is never changed here."""
    existing = get_member(session, workspace, slack_user_id)
    if existing is not None:
        return existing
    role = MemberRole.ADMIN if workspace_admin else MemberRole.MEMBER
    return set_member(
        session,
        workspace,
        slack_user_id,
        role.value,
        display_name=display_name,
        by=Actor.system("slack", origin="slack"),
    )


def assign_role(
    session: Session,
    workspace: Workspace,
    slack_user_id: str,
    role: str,
    teams: Sequence[str] = (),
    *,
    by: Actor,
) -> Member:
    """An admin gives a person a role: admin, member, or manager of the named teams."""
    check_admin(
        principal_for(session, workspace, by),
        "set roles",
        action="member.set",
        target=f"member:{slack_user_id}",
    )
    return set_member(session, workspace, slack_user_id, role, list(teams), by=by)


def mentioned_agent(
    session: Session,
    workspace: Workspace,
    text: str,
    by_handle: Mapping[str, Agent | None] | None = None,
) -> tuple[Agent, str]:
    """The agent a message starts with and the rest of the message.

    The agent is named by handle (`@sdr-emea`), by display name (`@Sam Carter`), or by a
    Slack mention of its bot persona (`<@U123|sam>`). `by_handle` holds the answers for
    handles looked up already (None: no agent has it), for many messages at once."""
    text = _named(text)
    first, _, rest = text.partition(" ")
    handle = first.lower()
    if by_handle is not None and handle in by_handle:
        agent = by_handle[handle]
    else:
        agent = session.scalar(
            select(Agent).where(Agent.workspace_id == workspace.id, Agent.handle == handle)
        )
    if agent is not None:
        return agent, rest.strip()
    by_name = _agent_by_display_name(session, workspace, text)
    if by_name is not None:
        return by_name
    raise NotFound(f"agent {first!r} not found; agents: {known_agents(session, workspace)}")


def _named(text: str) -> str:
    """The message with a mention of an agent's persona written as its name, without the @."""
    text = (text or "").strip()
    escaped = ESCAPED_MENTION.match(text)
    if escaped:
        name, rest = escaped.group(2) or escaped.group(1), text[escaped.end() :]
        text = f"{name} {rest}"
    text = text.lstrip("@").strip()
    if not text:
        raise InvalidInput("agent", "name an agent first, e.g. @sdr-emea")
    return text


def agents_by_handle(
    session: Session, workspace: Workspace, texts: Sequence[str]
) -> dict[str, Agent | None]:
    """The agents that the first words of these messages name by handle, in one query."""
    handles = set()
    for text in texts:
        with contextlib.suppress(InvalidInput):  # reported when the message is read
            handles.add(_named(text).partition(" ")[0].lower())
    found = session.scalars(
        select(Agent).where(Agent.workspace_id == workspace.id, Agent.handle.in_(handles))
    )
    agents: dict[str, Agent | None] = dict.fromkeys(handles)
    agents.update((agent.handle, agent) for agent in found)
    return agents


def _agent_by_display_name(
    session: Session, workspace: Workspace, text: str
) -> tuple[Agent, str] | None:
    """The agent whose display name starts the text (the longest such name wins)."""
    lowered = text.lower()
    best: tuple[Agent, str] | None = None
    longest = 0
    for agent in session.scalars(select(Agent).where(Agent.workspace_id == workspace.id)):
        for name in {agent.display_name.lower(), "-".join(agent.display_name.lower().split())}:
            if len(name) > longest and (lowered == name or lowered.startswith(name + " ")):
                best, longest = (agent, text[len(name) :].strip()), len(name)
    return best
