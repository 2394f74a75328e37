"""What the Slack surface remembers: the events already handled, and the posted report
messages that show a learning (so that a reaction addresses exactly that block)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String
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
