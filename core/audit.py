"""The audit log: every write, promotion, archive and refusal."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.errors import Refusal
from core.models import AuditEvent, Workspace
from core.permissions import Actor


def record(
    session: Session,
    workspace: Workspace,
    actor: Actor,
    action: str,
    target: str,
    detail: str = "",
) -> AuditEvent:
    """Record a successful write in the same transaction as the write itself."""
    event = AuditEvent(
        workspace_id=workspace.id,
        actor=str(actor),
        action=action,
        target=target,
        outcome="ok",
        detail=detail,
        origin=actor.origin,
    )
    session.add(event)
    return event


def refused(session: Session, refusal: Refusal) -> AuditEvent:
    """Record a refused action (its use case wrote nothing else)."""
    event = AuditEvent(
        workspace_id=refusal.workspace_id,
        actor=refusal.actor,
        action=refusal.action,
        target=refusal.target,
        outcome="refused",
        detail=refusal.message,
        origin=refusal.origin,
    )
    session.add(event)
    return event


def recent(session: Session, workspace: Workspace, limit: int = 50) -> list[AuditEvent]:
    """The workspace's latest audit events, newest first."""
    return list(
        session.scalars(
            select(AuditEvent)
            .where(AuditEvent.workspace_id == workspace.id)
            .order_by(AuditEvent.id.desc())
            .limit(limit)
        )
    )
