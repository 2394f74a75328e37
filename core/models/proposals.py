"""What a director agent proposed (or did at once) and who decided: promotions and coaching."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import Float, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from core.models.base import Base, enum_column, utcnow


class ProposalKind(StrEnum):
    PROMOTION = "promotion"
    COACHING = "coaching"


class ProposalStatus(StrEnum):
    # Waiting for a manager (the workspace's autonomy is `propose`).
    PENDING = "pending"
    # Applied: approved by a manager, or at once (autonomy `apply`); a manager may retract it.
    APPLIED = "applied"
    REJECTED = "rejected"
    RETRACTED = "retracted"


class Proposal(Base):
    """A director's promotion or coaching note: waiting for a manager, applied, rejected or
    retracted; with who proposed it, who decided, and the block it wrote."""

    __tablename__ = "proposals"
    __table_args__ = (
        Index("ix_proposals_workspace_status", "workspace_id", "status"),
        # The rate limit counts a director's recent notes per coached agent.
        Index("ix_proposals_agent_created", "agent_id", "created_at"),
        Index("ix_proposals_message", "workspace_id", "slack_channel", "slack_ts"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    workspace_id: Mapped[int] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"))
    kind: Mapped[ProposalKind] = mapped_column(enum_column(ProposalKind))
    status: Mapped[ProposalStatus] = mapped_column(enum_column(ProposalStatus))
    team_id: Mapped[int] = mapped_column(ForeignKey("teams.id", ondelete="CASCADE"))
    # Who proposed it: the director agent (an actor string such as "agent:dir-emea").
    proposed_by: Mapped[str] = mapped_column(String(100))
    cycle_id: Mapped[int | None] = mapped_column(ForeignKey("cycles.id", ondelete="SET NULL"))
    # Coaching: the agent coached. Promotion: empty.
    agent_id: Mapped[int | None] = mapped_column(ForeignKey("agents.id", ondelete="CASCADE"))
    # Promotion: the block to promote. Coaching: the finding the note rests on, if one.
    source_block_id: Mapped[int | None] = mapped_column(
        ForeignKey("memory_blocks.id", ondelete="SET NULL")
    )
    note: Mapped[str] = mapped_column(Text, default="")
    importance: Mapped[float | None] = mapped_column(Float)
    evidence: Mapped[dict[str, Any] | None]
    # The block the proposal wrote once applied (the coaching block or the Team Brain copy).
    block_id: Mapped[int | None] = mapped_column(
        ForeignKey("memory_blocks.id", ondelete="SET NULL")
    )
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    decided_by: Mapped[str | None] = mapped_column(String(100))
    decided_at: Mapped[datetime | None]
    retracted_by: Mapped[str | None] = mapped_column(String(100))
    retracted_at: Mapped[datetime | None]
    # The message that shows it in Slack (its buttons, the promote emoji on it).
    slack_channel: Mapped[str | None] = mapped_column(String(32))
    slack_ts: Mapped[str | None] = mapped_column(String(32))
