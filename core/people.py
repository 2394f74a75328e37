"""People in a workspace: Slack users as members, roles set by admins, tasks they give."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy.orm import Session

from core import directory, tasks
from core.models import Member, MemberRole, Task, Workspace
from core.permissions import Actor, check_admin, check_direct, principal_for


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
    existing = directory.get_member(session, workspace, slack_user_id)
    if existing is not None:
        return existing
    role = MemberRole.ADMIN if workspace_admin else MemberRole.MEMBER
    return directory.set_member(
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
    return directory.set_member(session, workspace, slack_user_id, role, list(teams), by=by)


def give_task(
    session: Session,
    workspace: Workspace,
    agent_handle: str,
    title: str,
    *,
    by: Actor,
    detail: str = "",
) -> Task:
    """A person gives an agent a task: admins and the managers of the agent's team may."""
    agent = directory.get_agent(session, workspace, agent_handle)
    check_direct(
        principal_for(session, workspace, by),
        agent,
        f"give {agent.handle} a task",
        action="task.add",
    )
    return tasks.add_task(session, workspace, agent.handle, title, detail=detail, by=by)
