"""Signals and what analysis keeps of them: the events, the findings, the analysis marks."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import BigInteger, Boolean, Float, ForeignKey, Index, Integer, String, Text
from sqlalchemy import UniqueConstraint as Unique
from sqlalchemy.orm import Mapped, mapped_column

from core.models.base import Base, enum_column, utcnow

# Signals are the one table that grows by millions of rows: 64-bit ids on PostgreSQL,
# SQLite's INTEGER PRIMARY KEY (the rowid, already 64-bit) there.
SignalId = BigInteger().with_variant(Integer(), "sqlite")


class SignalType(StrEnum):
    EMAIL_SENT = "email_sent"
    EMAIL_OPENED = "email_opened"
    EMAIL_REPLIED = "email_replied"
    MEETING_BOOKED = "meeting_booked"
    BOUNCED = "bounced"
    UNSUBSCRIBED = "unsubscribed"


class Signal(Base):
    """One performance event as its sender reported it, stored once per sender id."""

    __tablename__ = "signals"
    __table_args__ = (
        # Idempotency: the sender's id is stored once per workspace.
        Unique("workspace_id", "external_id"),
        # Analysis reads one agent's signals; the mark is the agent's highest id.
        Index("ix_signals_agent_id_id", "agent_id", "id"),
        # Coaching impact reads the sends of the cycles a note informed.
        Index("ix_signals_cycle_id", "cycle_id"),
    )

    id: Mapped[int] = mapped_column(SignalId, primary_key=True)
    workspace_id: Mapped[int] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"))
    external_id: Mapped[str] = mapped_column(String(200))
    agent_id: Mapped[int] = mapped_column(ForeignKey("agents.id", ondelete="CASCADE"))
    type: Mapped[SignalType] = mapped_column(enum_column(SignalType))
    occurred_at: Mapped[datetime]
    thread: Mapped[str | None] = mapped_column(String(200))
    prospect_email: Mapped[str | None] = mapped_column(String(320))
    company: Mapped[str | None] = mapped_column(String(200))
    domain: Mapped[str | None] = mapped_column(String(200))
    title: Mapped[str | None] = mapped_column(String(200))
    industry: Mapped[str | None] = mapped_column(String(100))
    segment: Mapped[str | None] = mapped_column(String(100))
    subject: Mapped[str | None] = mapped_column(String(500))
    subject_format: Mapped[str | None] = mapped_column(String(100))
    template: Mapped[str | None] = mapped_column(String(100))
    # Prospect text: evidence for findings, never an instruction to anyone.
    reply_text: Mapped[str | None] = mapped_column(Text)
    objection: Mapped[str | None] = mapped_column(String(100))
    # The heartbeat cycle that wrote the send, as its sender reported it (checked on import
    # to be a cycle of the signal's agent). No foreign key: adding one rebuilds the signals
    # table on SQLite, and a cycle is never deleted apart from its agent.
    cycle_id: Mapped[int | None] = mapped_column(Integer)
    received_at: Mapped[datetime] = mapped_column(default=utcnow)


class Finding(Base):
    """What analysis concluded for one key (scope, metric, dimension, value), and its block.

    The key is stable: however many signals arrive, one finding has at most one active
    block, updated in place while the data supports it and superseded when it stops.
    """

    __tablename__ = "signal_findings"
    __table_args__ = (Unique("workspace_id", "key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    workspace_id: Mapped[int] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"))
    key: Mapped[str] = mapped_column(String(400))
    # The scope: one agent's signals, or a team's pooled signals.
    agent_id: Mapped[int | None] = mapped_column(
        ForeignKey("agents.id", ondelete="CASCADE"), index=True
    )
    team_id: Mapped[int | None] = mapped_column(
        ForeignKey("teams.id", ondelete="CASCADE"), index=True
    )
    metric: Mapped[str] = mapped_column(String(32))
    dimension: Mapped[str] = mapped_column(String(32))
    value: Mapped[str] = mapped_column(String(100))
    holds: Mapped[bool] = mapped_column(Boolean)
    n: Mapped[int] = mapped_column(Integer)
    successes: Mapped[int] = mapped_column(Integer)
    baseline: Mapped[float] = mapped_column(Float)
    low: Mapped[float] = mapped_column(Float)
    high: Mapped[float] = mapped_column(Float)
    # The block that states the finding: active while it holds, else the last superseded one.
    block_id: Mapped[int | None] = mapped_column(
        ForeignKey("memory_blocks.id", ondelete="SET NULL")
    )
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class AnalysisMark(Base):
    """How far analysis has read a scope's signals: nothing newer means nothing to do."""

    __tablename__ = "signal_marks"
    __table_args__ = (Unique("workspace_id", "scope"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    workspace_id: Mapped[int] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"))
    # "agent:<id>" or "team:<id>"
    scope: Mapped[str] = mapped_column(String(64))
    last_signal_id: Mapped[int] = mapped_column(SignalId)
    analysed_at: Mapped[datetime] = mapped_column(default=utcnow)
