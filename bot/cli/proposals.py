"""`salesbrain proposals list | approve | reject | retract`: the director agents'
promotions and coaching, decided by a manager (`salesbrain workspace set --autonomy`)."""

from __future__ import annotations

import click

from bot.cli import count_option, json_option, unit_of_work, workspace_option
from bot.cli.output import emit_json, shorten, table
from core import use_cases
from core.models import ProposalStatus
from core.permissions import Actor
from core.proposals import ProposalView

STATUSES = ", ".join(ProposalStatus)


def register(cli: click.Group) -> None:
    cli.add_command(proposals_group)


@click.group("proposals")
def proposals_group() -> None:
    """Director agents' promotions and coaching, waiting for a manager or applied."""


@proposals_group.command("list")
@click.option("--status", default="pending", show_default=True, help=f"{STATUSES}, or all.")
@count_option("--limit", 100, 10_000, "At most this many, newest first.")
@workspace_option
@json_option
def proposals_list(status: str, limit: int, workspace: str | None, as_json: bool) -> None:
    """List director proposals, newest first."""
    chosen = None if status == "all" else status
    found = use_cases.director_proposals(unit_of_work(readonly=True), workspace, chosen)[:limit]
    if as_json:
        emit_json({"proposals": [proposal.as_dict() for proposal in found]})
        return
    rows = [
        (p.id, p.status.value, p.kind.value, p.proposed_by.partition(":")[2], _what(p))
        for p in found
    ]
    click.echo(table(["id", "status", "kind", "by", "what"], rows))


def _what(proposal: ProposalView) -> str:
    block = f" -> block {proposal.block_id}" if proposal.block_id else ""
    return shorten(proposal.summary, 90) + block


def _decided(proposal: ProposalView, verb: str, as_json: bool) -> None:
    if as_json:
        emit_json({"proposal": proposal.as_dict()})
        return
    wrote = f": block {proposal.block_id}" if proposal.block_id else ""
    click.echo(f"proposal {proposal.id} {verb}{wrote} ({shorten(proposal.summary, 90)})")


_BY = click.option("--by", required=True, help="Who decides: a Slack user id (U0001).")


@proposals_group.command("approve")
@click.argument("proposal_id")
@_BY
@workspace_option
@json_option
def proposals_approve(proposal_id: str, by: str, workspace: str | None, as_json: bool) -> None:
    """Apply a waiting proposal (admins and managers of its team)."""
    decided = use_cases.approve_proposal(unit_of_work(), workspace, proposal_id, Actor.parse(by))
    _decided(decided, "approved", as_json)


@proposals_group.command("reject")
@click.argument("proposal_id")
@_BY
@click.option("--reason", default=None, help="Why (kept in the audit log).")
@workspace_option
@json_option
def proposals_reject(
    proposal_id: str, by: str, reason: str | None, workspace: str | None, as_json: bool
) -> None:
    """Turn a waiting proposal down; nothing is written."""
    decided = use_cases.reject_proposal(
        unit_of_work(), workspace, proposal_id, Actor.parse(by), reason
    )
    _decided(decided, "rejected", as_json)


@proposals_group.command("retract")
@click.argument("proposal_id")
@_BY
@workspace_option
@json_option
def proposals_retract(proposal_id: str, by: str, workspace: str | None, as_json: bool) -> None:
    """Undo an applied proposal: what it wrote is archived."""
    decided = use_cases.retract_proposal(unit_of_work(), workspace, proposal_id, Actor.parse(by))
    _decided(decided, "retracted", as_json)
