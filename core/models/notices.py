"""Messages salesbrain posts on its own, apart from cycle reports: a team's weekly digest, a
coaching note flagged to its author. Each has a key that is stored once, so that a second
scheduler tick or a second worker never posts the same digest twice."""

from __future__ import annotations

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from core.models.base import Base
from core.models.heartbeat import Delivered


class Notice(Delivered, Base):
    """A message waiting for delivery, or delivered: its key says what it is, once."""

    __tablename__ = "notices"
    __table_args__ = (
        UniqueConstraint("workspace_id", "key"),
        Index("ix_notices_due", "status", "next_attempt_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    workspace_id: Mapped[int] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"))
    # What it is, e.g. "digest:emea:2026-11-30" or "coaching-flag:block:12".
    key: Mapped[str] = mapped_column(String(200))
    # "slack:C0001" (a channel), "slack:U0001" (a direct message) or "console".
    destination: Mapped[str] = mapped_column(String(64))
    text: Mapped[str] = mapped_column(Text)
