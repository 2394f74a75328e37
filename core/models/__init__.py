"""Every table salesbrain stores, on one metadata with one naming convention.

One module per aggregate: the directory and memory (domain), the heartbeat's cycles and
outbox, signals and findings, directors' proposals, and what the Slack surface remembers.
Import from here.
"""

from core.models.base import NAMING_CONVENTION, Base, enum_column, utcnow
from core.models.domain import (
    DEFAULT_INTERVAL_MINUTES,
    DEFAULT_MODEL,
    DIRECTOR_INTERVAL_MINUTES,
    Agent,
    AgentRole,
    AgentStatus,
    AuditEvent,
    BlockStatus,
    BlockType,
    Member,
    MemberRole,
    MemberTeam,
    MemoryBlock,
    SourceKind,
    Task,
    TaskStatus,
    Team,
    Tier,
    Workspace,
)
from core.models.heartbeat import (
    Cycle,
    CycleStatus,
    CycleTrigger,
    DeliveryProblem,
    OutboxMessage,
    OutboxStatus,
)
from core.models.notices import Notice
from core.models.proposals import Proposal, ProposalKind, ProposalStatus
from core.models.signals import AnalysisMark, Finding, Signal, SignalId, SignalType
from core.models.slack import EventDelivery, Intake, ReportMessage

__all__ = [
    "DEFAULT_INTERVAL_MINUTES",
    "DEFAULT_MODEL",
    "DIRECTOR_INTERVAL_MINUTES",
    "NAMING_CONVENTION",
    "Agent",
    "AgentRole",
    "AgentStatus",
    "AnalysisMark",
    "AuditEvent",
    "Base",
    "BlockStatus",
    "BlockType",
    "Cycle",
    "CycleStatus",
    "CycleTrigger",
    "DeliveryProblem",
    "EventDelivery",
    "Finding",
    "Intake",
    "Member",
    "MemberRole",
    "MemberTeam",
    "MemoryBlock",
    "Notice",
    "OutboxMessage",
    "OutboxStatus",
    "Proposal",
    "ProposalKind",
    "ProposalStatus",
    "ReportMessage",
    "Signal",
    "SignalId",
    "SignalType",
    "SourceKind",
    "Task",
    "TaskStatus",
    "Team",
    "Tier",
    "Workspace",
    "enum_column",
    "utcnow",
]
