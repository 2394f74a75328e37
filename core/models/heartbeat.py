"""What a heartbeat leaves behind: the cycle record and the report waiting in the outbox."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import Float, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from core.dialect import JSONDocument
from core.models.base import Base, enum_column, utcnow


class CycleStatus(StrEnum):
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    SKIPPED = "skipped"
    # The model never called finish_cycle (it hit the turn limit): nothing it asked is written.
    INCOMPLETE = "incomplete"


class CycleTrigger(StrEnum):
    SCHEDULE = "schedule"
    MANUAL = "manual"


class OutboxStatus(StrEnum):
    PENDING = "pending"
    DELIVERED = "delivered"
    FAILED = "failed"
    # Waiting for its destination to be fixed (the bot invited to the channel, a new token):
    # released in order when it is, never marked failed for it.
    BLOCKED = "blocked"


class Cycle(Base):
    """One heartbeat of one agent: what it worked on, what shaped it, what it did."""

    __tablename__ = "cycles"
    __table_args__ = (
        Index("ix_cycles_agent_started", "agent_id", "started_at"),
        Index("ix_cycles_workspace_id", "workspace_id", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    workspace_id: Mapped[int] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"))
    agent_id: Mapped[int] = mapped_column(ForeignKey("agents.id", ondelete="CASCADE"))
    status: Mapped[CycleStatus] = mapped_column(enum_column(CycleStatus))
    trigger: Mapped[CycleTrigger] = mapped_column(enum_column(CycleTrigger))
    # The task the cycle worked on: an open task, else the agent's objective (task_id empty).
    task_id: Mapped[int | None] = mapped_column(ForeignKey("tasks.id", ondelete="SET NULL"))
    task: Mapped[str] = mapped_column(Text)
    # Brain assembly: the scored blocks (with their breakdown), open tasks, new coaching.
    context: Mapped[dict[str, Any]] = mapped_column(default=dict)
    backend: Mapped[str] = mapped_column(String(32))
    model: Mapped[str] = mapped_column(String(100))
    input_tokens: Mapped[int] = mapped_column(Integer, default=0)
    output_tokens: Mapped[int] = mapped_column(Integer, default=0)
    cache_read_tokens: Mapped[int] = mapped_column(Integer, default=0)
    cache_write_tokens: Mapped[int] = mapped_column(Integer, default=0)
    model_calls: Mapped[int] = mapped_column(Integer, default=0)
    retries: Mapped[int] = mapped_column(Integer, default=0)
    # US dollars at the prices of the day (core/pricing.py); None when the model had no price.
    cost_usd: Mapped[float | None] = mapped_column(Float)
    # Every tool call the model made, with its input and outcome (applied or refused).
    tool_calls: Mapped[list[Any]] = mapped_column(JSONDocument, default=list)
    report: Mapped[str] = mapped_column(Text, default="")
    actions: Mapped[list[Any]] = mapped_column(JSONDocument, default=list)
    new_block_ids: Mapped[list[Any]] = mapped_column(JSONDocument, default=list)
    handoff_task_ids: Mapped[list[Any]] = mapped_column(JSONDocument, default=list)
    error: Mapped[str | None] = mapped_column(Text)
    worker: Mapped[str | None] = mapped_column(String(100))
    scheduled_for: Mapped[datetime | None]
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[datetime | None]
    duration_ms: Mapped[float] = mapped_column(Float, default=0.0)
    # Time spent waiting for the model; duration minus this is salesbrain's own overhead.
    model_ms: Mapped[float] = mapped_column(Float, default=0.0)
    # The Slack message the report was posted as (set when the outbox delivers it there).
    slack_channel: Mapped[str | None] = mapped_column(String(32))
    slack_ts: Mapped[str | None] = mapped_column(String(32))


class Delivered:
    """How far a message stored for delivery got: claimed, retried, delivered or failed."""

    status: Mapped[OutboxStatus] = mapped_column(
        enum_column(OutboxStatus), default=OutboxStatus.PENDING
    )
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(default=utcnow)
    claimed_by: Mapped[str | None] = mapped_column(String(100))
    claimed_until: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)
    delivered_ref: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    delivered_at: Mapped[datetime | None]


class OutboxMessage(Delivered, Base):
    """A cycle report stored before it is delivered, so an outage delays it and loses nothing."""

    __tablename__ = "outbox"
    __table_args__ = (Index("ix_outbox_due", "status", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    workspace_id: Mapped[int] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"))
    cycle_id: Mapped[int] = mapped_column(ForeignKey("cycles.id", ondelete="CASCADE"), unique=True)
    # Where the report goes: "slack:C0001" for the agent's channel, "console" without one.
    destination: Mapped[str] = mapped_column(String(64))
    text: Mapped[str] = mapped_column(Text)


class DeliveryProblem(Base):
    """Why a destination takes no reports (the bot is not in the channel, the token was
    revoked): one row per destination, open until it is fixed; its managers are told once."""

    __tablename__ = "delivery_problems"
    __table_args__ = (UniqueConstraint("workspace_id", "destination"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    workspace_id: Mapped[int] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"))
    destination: Mapped[str] = mapped_column(String(64))
    # Slack's error code (not_in_channel, token_revoked, ...), and its whole message.
    error: Mapped[str] = mapped_column(String(64))
    detail: Mapped[str] = mapped_column(Text, default="")
    opened_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_failed_at: Mapped[datetime] = mapped_column(default=utcnow)
    # When the agents' managers were told (once per opening), and when it was fixed.
    notified_at: Mapped[datetime | None]
    resolved_at: Mapped[datetime | None]
