"""What the Slack surface remembers: the events already handled, the commands acknowledged
whose work follows the ack (the intake), and the posted report messages that show a learning
(so that a reaction addresses exactly that block)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from core.models.base import Base, utcnow


class EventDelivery(Base):
    """A chat event already handled: a retry or duplicate of it is acknowledged, not applied."""

    __tablename__ = "event_deliveries"
    __table_args__ = (Index("ix_event_deliveries_received", "workspace_id", "received_at"),)

    workspace_id: Mapped[int] = mapped_column(
        ForeignKey("workspaces.id", ondelete="CASCADE"), primary_key=True
    )
    event_id: Mapped[str] = mapped_column(String(100), primary_key=True)
    received_at: Mapped[datetime] = mapped_column(default=utcnow)


class Intake(Base):
    """A command acknowledged to chat whose work follows the ack (a /coach note, a cycle run
    now), stored inside the ack: a process that dies after acknowledging it loses nothing.

    The process that received it holds it (`claimed_by` until `claimed_until`) while it does
    the work; once that lease lapses, any process may claim it and do it. `done_at` marks it
    done. Keyed by the Slack team id as received: the ack resolves no workspace."""

    __tablename__ = "intake"
    __table_args__ = (
        UniqueConstraint("team_id", "delivery"),
        Index("ix_intake_open", "done_at", "claimed_until"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    team_id: Mapped[str] = mapped_column(String(32))
    # What the work is ("coach", "brain run"): the edge that stored it knows how to do it.
    kind: Mapped[str] = mapped_column(String(32))
    # The command's trigger id: a repeated delivery of the same command is stored once.
    delivery: Mapped[str] = mapped_column(String(100))
    # The raw command, as the edge needs it to do the work and answer.
    payload: Mapped[dict[str, Any]] = mapped_column()
    received_at: Mapped[datetime] = mapped_column(default=utcnow)
    claimed_by: Mapped[str | None] = mapped_column(String(100))
    claimed_until: Mapped[datetime | None]
    attempts: Mapped[int] = mapped_column(Integer, default=1)
    done_at: Mapped[datetime | None]


class ReportMessage(Base):
    """A posted message of a cycle report that shows one learning block."""

    __tablename__ = "report_messages"

    workspace_id: Mapped[int] = mapped_column(
        ForeignKey("workspaces.id", ondelete="CASCADE"), primary_key=True
    )
    channel: Mapped[str] = mapped_column(String(32), primary_key=True)
    ts: Mapped[str] = mapped_column(String(32), primary_key=True)
    thread_ts: Mapped[str | None] = mapped_column(String(32))
    block_id: Mapped[int] = mapped_column(
        ForeignKey("memory_blocks.id", ondelete="CASCADE"), index=True
    )
    posted_at: Mapped[datetime] = mapped_column(default=utcnow)
