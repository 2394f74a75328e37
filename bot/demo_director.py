"""The demo's director step: a manager approves what the director agent proposed.

`salesbrain demo` (bot/demo.py) runs the team on the offline backend, whose director turns a
finding of one agent into coaching for another and proposes its strongest learning for the
Team Brain; under the workspace's default autonomy (`propose`) both wait for a manager. This
step approves them as that manager, through the same use case as the Approve button, and says
what each wrote. As a demo event: `Event(2, 15, "Maya approves ...", approving(MANAGER))`.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy.engine import Engine

from core import use_cases
from core.db import UnitOfWork
from core.models import ProposalKind, Workspace
from core.permissions import Actor
from core.proposals import ProposalView


def approving(manager: str) -> Callable[[Engine, int], str]:
    """A demo event: `manager` approves every director proposal waiting, oldest first."""

    def approve(engine: Engine, workspace_id: int) -> str:
        return "\n        ".join(approve_waiting(engine, workspace_id, manager))

    return approve


def approve_waiting(engine: Engine, workspace_id: int, manager: str) -> list[str]:
    """Approve, as `manager`, the director proposals waiting in the workspace; a line each."""
    with UnitOfWork(engine, readonly=True) as uow:
        workspace = uow.session.get_one(Workspace, workspace_id)
        team_id = workspace.slack_team_id
    waiting = use_cases.director_proposals(UnitOfWork(engine, readonly=True), team_id, "pending")
    by = Actor.member(manager, origin="demo")
    lines = []
    for proposal in sorted(waiting, key=lambda p: p.id):
        approved = use_cases.approve_proposal(UnitOfWork(engine), team_id, proposal.id, by)
        lines.append(_line(approved, manager))
    return lines or ["no director proposal is waiting"]


def _line(proposal: ProposalView, manager: str) -> str:
    director = proposal.proposed_by.partition(":")[2]
    if proposal.kind is ProposalKind.PROMOTION:
        wrote = f"Team Brain block {proposal.block_id}"
    else:
        wrote = f"coaching block {proposal.block_id} on {proposal.agent}'s Personal Brain"
    return (
        f"{director} proposed to {proposal.summary} (proposal {proposal.id}); "
        f"{manager} approved it: {wrote}"
    )
