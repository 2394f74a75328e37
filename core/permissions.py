"""Who may write which tier: actors, their standing in a workspace, and the rules.

| action                     | allowed                                                    |
| -------------------------- | ---------------------------------------------------------- |
| coach (personal tier)      | admins, managers of the agent's team, the team's director  |
|                            | (capped below a person's note, rate limited: proposals.py) |
| write learning (personal)  | the agent itself (and salesbrain's own signal analysis)    |
| promote personal -> team   | admins, managers of that team, the team's director agent   |
| promote / write -> company | admins only                                                |
| archive                    | admins; for personal and team blocks also the managers     |
|                            | (and the director agent) of the owning team                |
| direct an agent (a task,   | admins, managers of the agent's team, and salesbrain's     |
| running its cycle now)     | operator at the command line (no --by)                     |
| roles, settings            | admins only                                                |
| decide a director's        | admins and managers of the director's team (people only:   |
| proposal (approve, reject, | an agent never decides on an agent's proposal)             |
| retract)                   |                                                            |
| read a coaching note's     | admins and managers of the agent's team (everyone reads    |
| words (asking the brain)   | the shared brains, learnings and cycles of the workspace)  |
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from enum import StrEnum

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from core.errors import InvalidInput, PermissionDenied
from core.models import (
    Agent,
    AgentRole,
    Member,
    MemberRole,
    MemberTeam,
    MemoryBlock,
    Tier,
    Workspace,
)

SLACK_USER_ID = re.compile(r"[UW][A-Z0-9]{2,}")


class ActorKind(StrEnum):
    MEMBER = "member"
    AGENT = "agent"
    SYSTEM = "system"


@dataclass(frozen=True)
class Actor:
    """Who acts (a Slack user, an agent, or salesbrain itself) and through which surface."""

    kind: ActorKind
    ref: str
    origin: str = "cli"

    @classmethod
    def member(cls, slack_user_id: str, origin: str = "cli") -> Actor:
        return cls(ActorKind.MEMBER, slack_user_id, origin)

    @classmethod
    def agent(cls, handle: str, origin: str = "heartbeat") -> Actor:
        return cls(ActorKind.AGENT, handle, origin)

    @classmethod
    def system(cls, name: str, origin: str = "cli") -> Actor:
        return cls(ActorKind.SYSTEM, name, origin)

    @classmethod
    def parse(cls, by: str, origin: str = "cli") -> Actor:
        """A `--by` value: a Slack user id (U0001) or an agent handle (dir-emea)."""
        by = by.strip()
        if not by:
            raise InvalidInput("by", "is empty; give a Slack user id (U0001) or an agent handle")
        if SLACK_USER_ID.fullmatch(by):
            return cls.member(by, origin)
        return cls(ActorKind.AGENT, by, origin)

    def __str__(self) -> str:
        return f"{self.kind}:{self.ref}"


@dataclass(frozen=True)
class Principal:
    """An actor's standing in one workspace: its role, the teams it manages, its agent."""

    actor: Actor
    workspace: Workspace
    role: MemberRole | None = None
    managed_team_ids: frozenset[int] = field(default_factory=frozenset)
    agent: Agent | None = None

    @property
    def is_admin(self) -> bool:
        return self.role is MemberRole.ADMIN

    def manages(self, team_id: int) -> bool:
        """Managers of the team, and the team's director agent, act with manager rights."""
        if self.role is MemberRole.MANAGER and team_id in self.managed_team_ids:
            return True
        return (
            self.agent is not None
            and self.agent.role is AgentRole.DIRECTOR
            and self.agent.team_id == team_id
        )

    def describe(self) -> str:
        if self.agent is not None:
            return f"agent {self.agent.handle} ({self.agent.role.value})"
        if self.actor.kind is ActorKind.SYSTEM:
            return f"salesbrain ({self.actor.ref})"
        return f"{self.actor.ref} ({(self.role or MemberRole.MEMBER).value})"

    def refuse(self, message: str, *, action: str, target: str) -> PermissionDenied:
        return PermissionDenied(
            message,
            workspace_id=self.workspace.id,
            actor=str(self.actor),
            origin=self.actor.origin,
            action=action,
            target=target,
        )


# Every heartbeat cycle's writes resolve their agent: built once, with bind parameters
# (SQLAlchemy spends more building and keying a statement than SQLite spends running it).
_AGENT_BY_HANDLE = select(Agent).where(
    Agent.workspace_id == bindparam("workspace_id"), Agent.handle == bindparam("handle")
)


def principal_for(session: Session, workspace: Workspace, actor: Actor) -> Principal:
    """Resolve an actor in a workspace. Unknown Slack users are read-only members."""
    if actor.kind is ActorKind.AGENT:
        agent = session.scalar(
            _AGENT_BY_HANDLE, {"workspace_id": workspace.id, "handle": actor.ref}
        )
        if agent is None:
            # An agent of another workspace, or none at all, has no standing here.
            return Principal(actor, workspace)
        return Principal(actor, workspace, agent=agent)
    if actor.kind is ActorKind.SYSTEM:
        return Principal(actor, workspace)
    # The role and the managed teams in one statement (one row per team), without loading
    # the member: every write asks this, and the ORM's loading cost more than the query.
    rows = session.execute(
        select(Member.role, MemberTeam.team_id)
        .outerjoin(MemberTeam, MemberTeam.member_id == Member.id)
        .where(Member.workspace_id == workspace.id, Member.slack_user_id == actor.ref)
    ).all()
    if not rows:
        return Principal(actor, workspace, role=MemberRole.MEMBER)
    return Principal(
        actor,
        workspace,
        role=rows[0].role,
        managed_team_ids=frozenset(row.team_id for row in rows if row.team_id is not None),
    )


def check_coach(principal: Principal, agent: Agent) -> None:
    """Coaching an agent: admins, managers of its team, its team's director agent."""
    if principal.is_admin or principal.manages(agent.team_id):
        return
    raise principal.refuse(
        f"{principal.describe()} may not coach {agent.handle}: only admins, managers of "
        f"team {agent.team.slug} and its director agent may",
        action="coach",
        target=f"agent:{agent.handle}",
    )


def check_write_learning(principal: Principal, agent: Agent) -> None:
    """An agent's own learnings: the agent itself, or salesbrain's signal analysis."""
    is_self = principal.agent is not None and principal.agent.id == agent.id
    if is_self or principal.actor.kind is ActorKind.SYSTEM:
        return
    raise principal.refuse(
        f"{principal.describe()} may not write learnings for {agent.handle}: "
        "only the agent itself writes its learnings (managers coach instead)",
        action="write_learning",
        target=f"agent:{agent.handle}",
    )


def check_promote(principal: Principal, block: MemoryBlock, to: Tier, team_id: int | None) -> None:
    """Promotion to a Team Brain: admins, managers and the director of that team.
    Promotion to the Company Brain: admins only."""
    if principal.is_admin:
        return
    if to is Tier.TEAM and team_id is not None and principal.manages(team_id):
        return
    who = "admins" if to is Tier.COMPANY else "admins, managers of the team and its director agent"
    raise principal.refuse(
        f"{principal.describe()} may not promote block {block.id} to the {to.value} brain: "
        f"only {who} may",
        action="promote",
        target=f"block:{block.id}",
    )


def check_admin(principal: Principal, doing: str, *, action: str, target: str) -> None:
    """What only admins may do: company knowledge, roles and the workspace's settings."""
    if principal.is_admin:
        return
    raise principal.refuse(
        f"{principal.describe()} may not {doing}: only admins may", action=action, target=target
    )


def check_write_company(principal: Principal) -> None:
    """Company knowledge is written by admins only."""
    check_admin(
        principal, "write to the company brain", action="write_company", target="tier:company"
    )


def check_archive(principal: Principal, block: MemoryBlock, owning_team_id: int | None) -> None:
    """Archiving: admins; for personal and team blocks also the managers of the owning team."""
    if principal.is_admin:
        return
    if owning_team_id is not None and principal.manages(owning_team_id):
        return
    raise principal.refuse(
        f"{principal.describe()} may not archive block {block.id}: only admins"
        + (" and managers of the owning team" if owning_team_id is not None else "")
        + " may",
        action="archive",
        target=f"block:{block.id}",
    )


def check_direct(principal: Principal, agent: Agent, doing: str, *, action: str) -> None:
    """Directing an agent (giving it a task, running its cycle now): admins, the managers of
    its team, and salesbrain's operator (the command line without --by)."""
    if principal.is_admin or principal.manages(agent.team_id):
        return
    if principal.actor.kind is ActorKind.SYSTEM:
        return
    raise principal.refuse(
        f"{principal.describe()} may not {doing}: only admins and managers of team "
        f"{agent.team.slug} may",
        action=action,
        target=f"agent:{agent.handle}",
    )


def check_decide(
    principal: Principal, team_id: int, team_slug: str, proposal_id: int, doing: str
) -> None:
    """Deciding on a director's proposal: admins and the managers of its team, people only."""
    if principal.agent is None and (principal.is_admin or principal.manages(team_id)):
        return
    raise principal.refuse(
        f"{principal.describe()} may not {doing} proposal {proposal_id}: only admins and "
        f"managers of team {team_slug} may",
        action=f"proposal.{doing}",
        target=f"proposal:{proposal_id}",
    )


def may_read_coaching(principal: Principal, team_id: int) -> bool:
    """A personal coaching note's words: admins and the managers of the agent's team, as
    App Home shows coaching only to those who coach; others learn that it exists and how
    often it was used, not what it says. salesbrain's operator (the command line without
    --by) reads the database itself anyway."""
    if principal.actor.kind is ActorKind.SYSTEM:
        return True
    return principal.is_admin or principal.manages(team_id)
