"""Tasks: work for an agent, given by a person or handed off by another agent."""

from __future__ import annotations

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from core import audit, clock, rules
from core.directory import OPERATOR, get_agent
from core.errors import InvalidInput, NotFound
from core.models import Agent, Task, TaskStatus, Workspace
from core.permissions import Actor, ActorKind, check_direct, principal_for


def add_task(
    session: Session,
    workspace: Workspace,
    agent_handle: str,
    title: str,
    *,
    detail: str = "",
    by: Actor = OPERATOR,
    from_agent: Agent | None = None,
) -> Task:
    """Give an agent a task; it is picked up by the agent's next cycle."""
    title = rules.content(title, "title", limit=500)
    detail = rules.content(detail, "detail") if detail and detail.strip() else ""
    agent = get_agent(session, workspace, agent_handle)
    task = Task(
        workspace_id=workspace.id,
        agent_id=agent.id,
        title=title,
        detail=detail,
        status=TaskStatus.OPEN,
        created_by=str(by),
        from_agent_id=from_agent.id if from_agent is not None else None,
    )
    session.add(task)
    session.flush()
    audit.record(session, workspace, by, "task.add", f"task:{task.id}", f"agent:{agent.handle}")
    return task


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
    agent = get_agent(session, workspace, agent_handle)
    check_direct(
        principal_for(session, workspace, by),
        agent,
        f"give {agent.handle} a task",
        action="task.add",
    )
    return add_task(session, workspace, agent.handle, title, detail=detail, by=by)


# Read by every heartbeat cycle: built once, with bind parameters (SQLAlchemy spends more
# building and keying a statement than SQLite spends running it).
_OPEN_TASKS = (
    select(Task)
    .where(Task.agent_id == bindparam("agent_id"), Task.status == TaskStatus.OPEN)
    .order_by(Task.created_at, Task.id)
    .limit(bindparam("limit"))
)


def open_tasks(session: Session, agent: Agent, limit: int = 20) -> list[Task]:
    """An agent's open tasks, oldest first."""
    return list(session.scalars(_OPEN_TASKS, {"agent_id": agent.id, "limit": limit}))


def list_tasks(
    session: Session,
    workspace: Workspace,
    *,
    agent: str | None = None,
    status: str | None = TaskStatus.OPEN,
    limit: int = 200,
) -> list[Task]:
    """Tasks of the workspace (or of one agent), oldest first."""
    query = select(Task).where(Task.workspace_id == workspace.id)
    if agent:
        query = query.where(Task.agent_id == get_agent(session, workspace, agent).id)
    if status:
        query = query.where(Task.status == rules.choice(TaskStatus, status, "status"))
    return list(session.scalars(query.order_by(Task.created_at, Task.id).limit(limit)))


def get_task(session: Session, workspace: Workspace, task_id: int | str) -> Task:
    """A task of this workspace by id."""
    task_id = rules.record_id(task_id, "task")
    task = session.scalar(select(Task).where(Task.id == task_id, Task.workspace_id == workspace.id))
    if task is None:
        raise NotFound(f"task {task_id} not found")
    return task


def complete_task(
    session: Session, workspace: Workspace, task_id: int, outcome: str, *, by: Actor
) -> Task:
    """Mark an open task done with its outcome (the task's own agent, or an operator)."""
    outcome = rules.content(outcome, "outcome")
    task = get_task(session, workspace, task_id)
    principal = principal_for(session, workspace, by)
    is_owner = principal.agent is not None and principal.agent.id == task.agent_id
    if not (is_owner or by.kind is ActorKind.SYSTEM):
        raise principal.refuse(
            f"{principal.describe()} may not complete task {task.id}: it belongs to another agent",
            action="task.complete",
            target=f"task:{task.id}",
        )
    if task.status is not TaskStatus.OPEN:
        raise InvalidInput("task", f"task {task.id} is already {task.status.value}")
    task.status = TaskStatus.DONE
    task.outcome = outcome
    task.completed_at = clock.now()
    session.flush()
    audit.record(session, workspace, by, "task.complete", f"task:{task.id}", outcome[:200])
    return task
