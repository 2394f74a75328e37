"""Workspaces, teams, members, agents, memory blocks, tasks and the audit log."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    CheckConstraint,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from core.models.base import Base, enum_column, utcnow


class Tier(StrEnum):
    PERSONAL = "personal"
    TEAM = "team"
    COMPANY = "company"


class BlockType(StrEnum):
    COACHING = "coaching"
    LEARNING = "learning"
    PATTERN = "pattern"
    OBJECTION_RESPONSE = "objection_response"
    ACCOUNT_CONTEXT = "account_context"


class BlockStatus(StrEnum):
    ACTIVE = "active"
    ARCHIVED = "archived"
    SUPERSEDED = "superseded"


class SourceKind(StrEnum):
    SLACK_USER = "slack_user"
    AGENT_CYCLE = "agent_cycle"
    SIGNAL_ANALYSIS = "signal_analysis"
    PROMOTION = "promotion"
    IMPORT = "import"


class MemberRole(StrEnum):
    ADMIN = "admin"
    MANAGER = "manager"
    MEMBER = "member"


class AgentRole(StrEnum):
    SDR = "sdr"
    ACCOUNT_EXECUTIVE = "account_executive"
    MARKETING_MANAGER = "marketing_manager"
    AD_MANAGER = "ad_manager"
    DIRECTOR = "director"


class AgentStatus(StrEnum):
    ACTIVE = "active"
    PAUSED = "paused"


class TaskStatus(StrEnum):
    OPEN = "open"
    DONE = "done"
    CANCELLED = "cancelled"


DEFAULT_MODEL = "claude-sonnet-5-5"
DEFAULT_INTERVAL_MINUTES = 60
DIRECTOR_INTERVAL_MINUTES = 180


class Workspace(Base):
    """One Slack workspace; everything else belongs to exactly one."""

    __tablename__ = "workspaces"

    id: Mapped[int] = mapped_column(primary_key=True)
    slack_team_id: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    settings: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Team(Base):
    """A group of agents and people inside a workspace."""

    __tablename__ = "teams"
    __table_args__ = (UniqueConstraint("workspace_id", "slug"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    workspace_id: Mapped[int] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"))
    slug: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class MemberTeam(Base):
    """A team a manager manages."""

    __tablename__ = "member_teams"

    member_id: Mapped[int] = mapped_column(
        ForeignKey("members.id", ondelete="CASCADE"), primary_key=True
    )
    team_id: Mapped[int] = mapped_column(
        ForeignKey("teams.id", ondelete="CASCADE"), primary_key=True
    )


class Member(Base):
    """A Slack user with a workspace role."""

    __tablename__ = "members"
    __table_args__ = (UniqueConstraint("workspace_id", "slack_user_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    workspace_id: Mapped[int] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"))
    slack_user_id: Mapped[str] = mapped_column(String(32))
    role: Mapped[MemberRole] = mapped_column(enum_column(MemberRole))
    display_name: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    managed_teams: Mapped[list[Team]] = relationship(
        secondary="member_teams", lazy="selectin", order_by="Team.slug"
    )


class Agent(Base):
    """An AI sales agent: its role, team, model and heartbeat schedule."""

    __tablename__ = "agents"
    __table_args__ = (
        UniqueConstraint("workspace_id", "handle"),
        Index("ix_agents_due", "status", "next_run_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    workspace_id: Mapped[int] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"))
    team_id: Mapped[int] = mapped_column(ForeignKey("teams.id"), index=True)
    handle: Mapped[str] = mapped_column(String(64))
    display_name: Mapped[str] = mapped_column(String(200))
    role: Mapped[AgentRole] = mapped_column(enum_column(AgentRole))
    objective: Mapped[str] = mapped_column(Text, default="")
    model: Mapped[str] = mapped_column(String(100), default=DEFAULT_MODEL)
    interval_minutes: Mapped[int] = mapped_column(Integer, default=DEFAULT_INTERVAL_MINUTES)
    report_channel: Mapped[str | None] = mapped_column(String(32))
    status: Mapped[AgentStatus] = mapped_column(
        enum_column(AgentStatus), default=AgentStatus.ACTIVE
    )
    next_run_at: Mapped[datetime | None]
    lease_owner: Mapped[str | None] = mapped_column(String(100))
    lease_expires_at: Mapped[datetime | None]
    last_cycle_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    team: Mapped[Team] = relationship(lazy="joined", innerjoin=True)


class MemoryBlock(Base):
    """A typed unit of memory on one tier: what an agent was coached, learned or was told."""

    __tablename__ = "memory_blocks"
    __table_args__ = (
        CheckConstraint("importance >= 0 AND importance <= 1", name="importance_range"),
        # The same block is promoted to a tier at most once.
        UniqueConstraint("promoted_from_id", "tier"),
        Index("ix_memory_blocks_personal", "agent_id", "status"),
        Index("ix_memory_blocks_team", "team_id", "status"),
        Index("ix_memory_blocks_workspace_tier", "workspace_id", "tier", "status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    workspace_id: Mapped[int] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"))
    tier: Mapped[Tier] = mapped_column(enum_column(Tier))
    # Owner: the agent for personal blocks, the team for team blocks, none for company.
    agent_id: Mapped[int | None] = mapped_column(ForeignKey("agents.id", ondelete="CASCADE"))
    team_id: Mapped[int | None] = mapped_column(ForeignKey("teams.id", ondelete="CASCADE"))
    type: Mapped[BlockType] = mapped_column(enum_column(BlockType))
    content: Mapped[str] = mapped_column(Text)
    importance: Mapped[float] = mapped_column(Float)
    source_kind: Mapped[SourceKind] = mapped_column(enum_column(SourceKind))
    source_ref: Mapped[str | None] = mapped_column(String(500))
    source_by: Mapped[str | None] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    status: Mapped[BlockStatus] = mapped_column(
        enum_column(BlockStatus), default=BlockStatus.ACTIVE
    )
    status_reason: Mapped[str | None] = mapped_column(Text)
    promoted_from_id: Mapped[int | None] = mapped_column(
        ForeignKey("memory_blocks.id", ondelete="SET NULL")
    )
    supersedes_id: Mapped[int | None] = mapped_column(
        ForeignKey("memory_blocks.id", ondelete="SET NULL")
    )
    promoted_by: Mapped[str | None] = mapped_column(String(100))
    evidence: Mapped[dict[str, Any] | None]
    times_surfaced: Mapped[int] = mapped_column(Integer, default=0)
    last_surfaced_at: Mapped[datetime | None]
    subject_company: Mapped[str | None] = mapped_column(String(200))
    subject_domain: Mapped[str | None] = mapped_column(String(200))
    subject_segment: Mapped[str | None] = mapped_column(String(100))


# Context assembly (core/context/search.py) reads each tier's active blocks from these indexes
# (migration 0004) alone: visiting the table rows of the ~500 blocks an agent reads would cost
# more than the rest.
_COVERED = (
    MemoryBlock.type,
    MemoryBlock.importance,
    MemoryBlock.updated_at,
    MemoryBlock.subject_company,
    MemoryBlock.subject_domain,
)
CONTEXT_INDEXES = (
    Index(
        "ix_memory_blocks_context_personal",
        MemoryBlock.agent_id,
        MemoryBlock.tier,
        MemoryBlock.status,
        MemoryBlock.workspace_id,
        *_COVERED,
    ),
    Index(
        "ix_memory_blocks_context_team",
        MemoryBlock.team_id,
        MemoryBlock.tier,
        MemoryBlock.status,
        MemoryBlock.workspace_id,
        *_COVERED,
    ),
    Index(
        "ix_memory_blocks_context_company",
        MemoryBlock.workspace_id,
        MemoryBlock.tier,
        MemoryBlock.status,
        *_COVERED,
    ),
)


class Task(Base):
    """Work for an agent: given by a person, or handed off by another agent."""

    __tablename__ = "tasks"
    __table_args__ = (Index("ix_tasks_agent_status", "agent_id", "status"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    workspace_id: Mapped[int] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"))
    agent_id: Mapped[int] = mapped_column(ForeignKey("agents.id", ondelete="CASCADE"))
    title: Mapped[str] = mapped_column(Text)
    detail: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[TaskStatus] = mapped_column(enum_column(TaskStatus), default=TaskStatus.OPEN)
    created_by: Mapped[str] = mapped_column(String(100))
    from_agent_id: Mapped[int | None] = mapped_column(ForeignKey("agents.id", ondelete="SET NULL"))
    outcome: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    completed_at: Mapped[datetime | None]


class AuditEvent(Base):
    """Every write, promotion, archive and refusal: who, what, when, from where."""

    __tablename__ = "audit_events"
    __table_args__ = (Index("ix_audit_events_workspace_at", "workspace_id", "at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    workspace_id: Mapped[int | None] = mapped_column(
        ForeignKey("workspaces.id", ondelete="CASCADE")
    )
    at: Mapped[datetime] = mapped_column(default=utcnow)
    actor: Mapped[str] = mapped_column(String(100))
    action: Mapped[str] = mapped_column(String(64))
    target: Mapped[str] = mapped_column(String(100))
    outcome: Mapped[str] = mapped_column(String(16))
    detail: Mapped[str] = mapped_column(Text, default="")
    origin: Mapped[str] = mapped_column(String(16))
