"""What a person sees on salesbrain's home: the agents, the shared brains, their coaching."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from core.health import Health, home_health
from core.heartbeat.blocked import Problem, open_problems
from core.impact import coaching_impact
from core.lifecycle import upgrade_hint
from core.models import (
    Agent,
    BlockStatus,
    BlockType,
    MemberRole,
    MemoryBlock,
    SourceKind,
    Task,
    TaskStatus,
    Team,
    Tier,
    Workspace,
)
from core.permissions import Actor, Principal, principal_for
from core.usage import Bill, week_bill

TOP_BLOCKS = 5
MAX_AGENTS = 30
MAX_COACHING = 15


@dataclass(frozen=True)
class AgentLine:
    handle: str
    name: str
    role: str
    team: str
    status: str
    model: str
    last_cycle_at: datetime | None
    next_run_at: datetime | None
    open_tasks: int
    model_warning: str | None


@dataclass(frozen=True)
class BrainLine:
    id: int
    tier: str
    owner: str
    type: str
    content: str
    importance: float
    times_surfaced: int


@dataclass(frozen=True)
class Home:
    workspace: str
    role: str
    agents: list[AgentLine]
    more_agents: int
    team_blocks: list[BrainLine]
    company_blocks: list[BrainLine]
    # Only managers and admins coach; for everyone else this stays empty.
    coaching: list[BrainLine]
    is_coach: bool
    # Managers: their teams' token spend this week; admins: every team's. None for members.
    spend: Bill | None = None
    # The measured impact of each coaching note listed, by block id (core/impact.py).
    coaching_impact: dict[int, str] = field(default_factory=dict)
    # Destinations that take no reports now (the bot not in the channel), with their fix.
    deliveries: list[Problem] = field(default_factory=list)
    # What the viewer may tidy in memory (nothing for members).
    health: Health = field(default_factory=Health)


def home_for(session: Session, workspace: Workspace, actor: Actor) -> Home:
    """The agents with their last cycle, open tasks and next run; the top Team and Company
    Brain blocks; for managers and admins, their coaching notes and how often each surfaced."""
    principal = principal_for(session, workspace, actor)
    agents = list(
        session.scalars(
            select(Agent)
            .where(Agent.workspace_id == workspace.id)
            .order_by(Agent.handle)
            .limit(MAX_AGENTS + 1)
        )
    )
    total = len(agents)
    if total > MAX_AGENTS:
        total = (
            session.scalar(
                select(func.count()).select_from(Agent).where(Agent.workspace_id == workspace.id)
            )
            or total
        )
    agents = agents[:MAX_AGENTS]
    tasks = _open_task_counts(session, [agent.id for agent in agents])
    is_coach = principal.role in (MemberRole.ADMIN, MemberRole.MANAGER)
    coaching = _coaching_by(session, workspace, actor) if is_coach else []
    return Home(
        workspace=workspace.name,
        role=(principal.role or MemberRole.MEMBER).value,
        agents=[_agent_line(agent, tasks.get(agent.id, 0)) for agent in agents],
        more_agents=total - len(agents),
        team_blocks=_top(session, workspace, Tier.TEAM, principal.managed_team_ids),
        company_blocks=_top(session, workspace, Tier.COMPANY, frozenset()),
        coaching=coaching,
        is_coach=is_coach,
        spend=_spend(session, workspace, principal) if is_coach else None,
        coaching_impact=_impact_of(session, workspace, coaching),
        deliveries=open_problems(session, workspace),
        health=home_health(session, workspace, actor),
    )


def _spend(session: Session, workspace: Workspace, principal: Principal) -> Bill:
    teams = None if principal.role is MemberRole.ADMIN else principal.managed_team_ids
    return week_bill(session, workspace, teams)


def _agent_line(agent: Agent, open_tasks: int) -> AgentLine:
    return AgentLine(
        handle=agent.handle,
        name=agent.display_name,
        role=agent.role.value,
        team=agent.team.slug,
        status=agent.status.value,
        model=agent.model,
        last_cycle_at=agent.last_cycle_at,
        next_run_at=agent.next_run_at,
        open_tasks=open_tasks,
        model_warning=upgrade_hint(agent.handle, agent.model),
    )


def _open_task_counts(session: Session, agent_ids: list[int]) -> dict[int, int]:
    if not agent_ids:
        return {}
    rows = session.execute(
        select(Task.agent_id, func.count())
        .where(Task.agent_id.in_(agent_ids), Task.status == TaskStatus.OPEN)
        .group_by(Task.agent_id)
    )
    return {agent_id: count for agent_id, count in rows}


def _top(
    session: Session, workspace: Workspace, tier: Tier, team_ids: frozenset[int]
) -> list[BrainLine]:
    """The most important active blocks of a tier; a manager's own teams first."""
    query = select(MemoryBlock).where(
        MemoryBlock.workspace_id == workspace.id,
        MemoryBlock.tier == tier,
        MemoryBlock.status == BlockStatus.ACTIVE,
    )
    if team_ids:
        query = query.where(MemoryBlock.team_id.in_(team_ids))
    blocks = session.scalars(
        query.order_by(
            MemoryBlock.importance.desc(), MemoryBlock.times_surfaced.desc(), MemoryBlock.id
        ).limit(TOP_BLOCKS)
    )
    return [_brain_line(session, block) for block in blocks]


def _coaching_by(session: Session, workspace: Workspace, actor: Actor) -> list[BrainLine]:
    blocks = session.scalars(
        select(MemoryBlock)
        .where(
            MemoryBlock.workspace_id == workspace.id,
            MemoryBlock.type == BlockType.COACHING,
            MemoryBlock.source_kind == SourceKind.SLACK_USER,
            MemoryBlock.source_by == actor.ref,
            MemoryBlock.status == BlockStatus.ACTIVE,
        )
        .order_by(MemoryBlock.id.desc())
        .limit(MAX_COACHING)
    )
    return [_brain_line(session, block) for block in blocks]


def _impact_of(session: Session, workspace: Workspace, coaching: list[BrainLine]) -> dict[int, str]:
    """Each listed note's measured impact in one line (the agents' sends are read once)."""
    if not coaching:
        return {}
    listed = {line.id for line in coaching}
    handles = {line.owner for line in coaching}
    agents = session.scalars(
        select(Agent).where(Agent.workspace_id == workspace.id, Agent.handle.in_(handles))
    )
    return {
        note.block_id: note.headline()
        for note in coaching_impact(session, workspace, agents)
        if note.block_id in listed
    }


def _brain_line(session: Session, block: MemoryBlock) -> BrainLine:
    if block.agent_id is not None:
        owner = session.scalar(select(Agent.handle).where(Agent.id == block.agent_id)) or "?"
    elif block.team_id is not None:
        owner = session.scalar(select(Team.slug).where(Team.id == block.team_id)) or "?"
    else:
        owner = "company"
    return BrainLine(
        id=block.id,
        tier=block.tier.value,
        owner=owner,
        type=block.type.value,
        content=block.content,
        importance=block.importance,
        times_surfaced=block.times_surfaced,
    )
