"""Who decides: a director's promotions and coaching wait for a manager, or apply at once.

A workspace's `autonomy` setting says which: `propose` (the default) stores the director's
action as a pending proposal that a manager approves (a button, or the promote emoji on its
message) or rejects; `apply` carries it out at once, and a manager may retract it. Either
way the proposal stays on record with who proposed it and who decided, and every step is
in the audit log.

A director's coaching goes through the one coaching service (`core.coaching.coach`), with
the director as its author: its importance is capped below a person's coaching, and a
director writes at most `notes_per_day` notes per agent per day (any decision counts).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from core import audit, clock, coaching, directory, memory, rules
from core.errors import AlreadyDone, DomainError, InvalidInput, NotFound, PermissionDenied
from core.memory import DIRECTOR_COACHING_IMPORTANCE
from core.models import (
    Agent,
    AgentRole,
    BlockStatus,
    MemoryBlock,
    Proposal,
    ProposalKind,
    ProposalStatus,
    Team,
    Tier,
    Workspace,
)
from core.permissions import (
    Actor,
    Principal,
    check_admin,
    check_coach,
    check_decide,
    principal_for,
)
from core.report_messages import promote_emoji
from core.signals import PromotionCandidate


class Autonomy(StrEnum):
    PROPOSE = "propose"
    APPLY = "apply"


DEFAULT_NOTES_PER_DAY = 1
MAX_NOTES_PER_DAY = 24
RATE_WINDOW = timedelta(days=1)


@dataclass(frozen=True)
class DirectorSettings:
    """How much a workspace's director agents may do on their own."""

    autonomy: Autonomy = Autonomy.PROPOSE
    notes_per_day: int = DEFAULT_NOTES_PER_DAY

    @classmethod
    def of(cls, workspace: Workspace) -> DirectorSettings:
        stored = (workspace.settings or {}).get("director") or {}
        return cls(
            Autonomy(stored.get("autonomy", Autonomy.PROPOSE)),
            int(stored.get("notes_per_day", DEFAULT_NOTES_PER_DAY)),
        )

    def as_json(self) -> dict[str, Any]:
        return {"autonomy": self.autonomy.value, "notes_per_day": self.notes_per_day}


def configure(
    session: Session,
    workspace: Workspace,
    *,
    by: Actor,
    autonomy: str | None = None,
    notes_per_day: int | str | None = None,
) -> DirectorSettings:
    """Change the directors' autonomy and coaching limit (admins only); the rest stays."""
    current = DirectorSettings.of(workspace)
    chosen = current.autonomy if autonomy is None else rules.choice(Autonomy, autonomy, "autonomy")
    limit = current.notes_per_day if notes_per_day is None else _notes_per_day(notes_per_day)
    check_admin(
        principal_for(session, workspace, by),
        "change the directors' autonomy",
        action="settings.director",
        target="workspace",
    )
    changed = DirectorSettings(chosen, limit)
    # A new dict, so that the JSON column sees the change.
    workspace.settings = {**(workspace.settings or {}), "director": changed.as_json()}
    session.flush()
    detail = f"autonomy {chosen.value}, {limit} note(s) per agent per day"
    audit.record(session, workspace, by, "settings.director", "workspace", detail)
    return changed


def _notes_per_day(value: int | str) -> int:
    try:
        number = int(value)
    except (TypeError, ValueError):
        number = -1
    if not 1 <= number <= MAX_NOTES_PER_DAY:
        raise InvalidInput("notes_per_day", f"give a whole number from 1 to {MAX_NOTES_PER_DAY}")
    return number


@dataclass(frozen=True)
class ProposalView:
    """A proposal as the surfaces show it, detached from the session."""

    id: int
    kind: ProposalKind
    status: ProposalStatus
    team: str
    proposed_by: str
    agent: str | None
    source_block_id: int | None
    note: str
    evidence: dict[str, Any] | None
    block_id: int | None
    cycle_id: int | None
    created_at: datetime
    decided_by: str | None
    retracted_by: str | None
    # Where its message goes: the coached agent's report channel (None: the cycle's).
    channel: str | None
    slack_channel: str | None
    slack_ts: str | None

    @property
    def summary(self) -> str:
        """One line: what the director proposes."""
        if self.kind is ProposalKind.PROMOTION:
            return f"promote block {self.source_block_id} to the {self.team} Team Brain"
        return f"coach {self.agent}: {rules.clip(self.note, 200)}"

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "kind": self.kind.value,
            "status": self.status.value,
            "team": self.team,
            "proposed_by": self.proposed_by,
            "agent": self.agent,
            "source_block_id": self.source_block_id,
            "note": self.note,
            "evidence": self.evidence,
            "block_id": self.block_id,
            "cycle_id": self.cycle_id,
            "created_at": self.created_at.isoformat(),
            "decided_by": self.decided_by,
            "retracted_by": self.retracted_by,
        }


# What a director does, from its cycle's write step.


def director_coaches(
    session: Session,
    workspace: Workspace,
    director: Agent,
    agent: str,
    note: str,
    *,
    evidence: str | None,
    cycle_id: int | None,
    finding: int | None = None,
) -> Proposal:
    """A director's coaching note for a teammate: a pending proposal, or (autonomy `apply`)
    stored at once through the coaching service. Refused outside its team and over the limit."""
    by = Actor.agent(director.handle)
    text = rules.content(note, "note")
    target = _coachable(session, workspace, director, agent, by)
    settings = DirectorSettings.of(workspace)
    written = notes_today(session, target.id)
    if written >= settings.notes_per_day:
        raise PermissionDenied(
            f"{target.handle} already has {written} director note(s) in the last 24 hours; "
            f"directors write at most {settings.notes_per_day} per agent per day",
            workspace_id=workspace.id,
            actor=str(by),
            origin=by.origin,
            action="coach",
            target=f"agent:{target.handle}",
        )
    rests_on = memory.get_block(session, workspace, finding).id if finding is not None else None
    proposal = _proposal(
        session,
        workspace,
        ProposalKind.COACHING,
        director,
        cycle_id,
        agent_id=target.id,
        source_block_id=rests_on,
        note=text,
        importance=DIRECTOR_COACHING_IMPORTANCE,
        evidence={"note": evidence} if evidence else None,
    )
    if settings.autonomy is Autonomy.APPLY:
        _apply(session, workspace, proposal, by, "proposal.apply")
    return proposal


def director_promotes(
    session: Session,
    workspace: Workspace,
    director: Agent,
    block_id: int,
    reason: str,
    *,
    cycle_id: int | None,
) -> Proposal:
    """A director's promotion of a team learning: a pending proposal, or (autonomy `apply`)
    promoted at once."""
    by = Actor.agent(director.handle)
    block = memory.get_block(session, workspace, block_id)
    pending = session.scalar(
        select(Proposal.id).where(
            Proposal.source_block_id == block.id,
            Proposal.kind == ProposalKind.PROMOTION,
            Proposal.status == ProposalStatus.PENDING,
        )
    )
    if pending is not None:
        raise AlreadyDone(
            f"block {block.id} already waits for a manager as proposal {pending}",
            workspace_id=workspace.id,
            actor=str(by),
            origin=by.origin,
            action="promote",
            target=f"block:{block.id}",
        )
    proposal = _proposal(
        session,
        workspace,
        ProposalKind.PROMOTION,
        director,
        cycle_id,
        source_block_id=block.id,
        note=reason,
    )
    if DirectorSettings.of(workspace).autonomy is Autonomy.APPLY:
        _apply(session, workspace, proposal, by, "proposal.apply")
    return proposal


def _coachable(
    session: Session, workspace: Workspace, director: Agent, handle: str, by: Actor
) -> Agent:
    """The agent a director may coach: a teammate (check_coach refuses other teams)."""
    principal = principal_for(session, workspace, by)
    if director.role is not AgentRole.DIRECTOR:
        raise principal.refuse(
            f"only director agents coach other agents; {director.handle} is {director.role.value}",
            action="coach",
            target=f"agent:{handle}",
        )
    target = directory.get_agent(session, workspace, handle.lstrip("@"))
    if target.id == director.id:
        raise principal.refuse(
            "a director coaches its teammates, not itself", action="coach", target="self"
        )
    check_coach(principal, target)
    return target


def notes_today(session: Session, agent_id: int) -> int:
    """Director notes for the agent in the last 24 hours, whatever became of them."""
    since = clock.now() - RATE_WINDOW
    return int(
        session.scalar(
            select(func.count(Proposal.id)).where(
                Proposal.agent_id == agent_id,
                Proposal.kind == ProposalKind.COACHING,
                Proposal.created_at > since,
            )
        )
        or 0
    )


def _proposal(
    session: Session,
    workspace: Workspace,
    kind: ProposalKind,
    director: Agent,
    cycle_id: int | None,
    **values: Any,
) -> Proposal:
    by = Actor.agent(director.handle)
    proposal = Proposal(
        workspace_id=workspace.id,
        kind=kind,
        status=ProposalStatus.PENDING,
        team_id=director.team_id,
        proposed_by=str(by),
        cycle_id=cycle_id,
        created_at=clock.now(),
        **values,
    )
    session.add(proposal)
    session.flush()
    audit.record(session, workspace, by, "proposal.create", f"proposal:{proposal.id}", kind.value)
    return proposal


def _apply(
    session: Session, workspace: Workspace, proposal: Proposal, by: Actor, action: str
) -> None:
    """Carry the proposal out as its director (the author of the note or the promotion);
    `by` is who let it apply: a manager who approved it, or the director under `apply`."""
    director = _director_actor(proposal, by.origin)
    if proposal.kind is ProposalKind.PROMOTION:
        assert proposal.source_block_id is not None
        copy = memory.promote(session, workspace, proposal.source_block_id, Tier.TEAM, by=director)
        proposal.block_id = copy.id
    else:
        agent = session.get(Agent, proposal.agent_id)
        if agent is None:
            raise NotFound(f"the agent of proposal {proposal.id} is gone")
        note = coaching.CoachingNote(
            proposal.note,
            director,
            agent.handle,
            importance=proposal.importance,
            source_ref=f"proposal:{proposal.id}",
            evidence=proposal.evidence,
        )
        [outcome] = coaching.coach(session, workspace, [note])
        if isinstance(outcome, DomainError):
            raise outcome
        assert outcome is not None  # no delivery, so never "stored before"
        proposal.block_id = outcome.block.id
    proposal.status = ProposalStatus.APPLIED
    proposal.decided_by, proposal.decided_at = str(by), clock.now()
    session.flush()
    audit.record(session, workspace, by, action, f"proposal:{proposal.id}", _wrote(proposal))


def _wrote(proposal: Proposal) -> str:
    return f"block:{proposal.block_id}, proposed by {proposal.proposed_by}"


def _director_actor(proposal: Proposal, origin: str) -> Actor:
    _, _, handle = proposal.proposed_by.partition(":")
    return Actor.agent(handle, origin)


# What a manager decides.


def approve(
    session: Session, workspace: Workspace, proposal_id: int | str, *, by: Actor
) -> Proposal:
    """Apply a pending proposal (admins and managers of its team)."""
    proposal = _decidable(session, workspace, proposal_id, by, "approve")
    _apply(session, workspace, proposal, by, "proposal.approve")
    return proposal


def reject(
    session: Session,
    workspace: Workspace,
    proposal_id: int | str,
    *,
    by: Actor,
    reason: str | None = None,
) -> Proposal:
    """Turn a pending proposal down; nothing is written (admins and managers of its team)."""
    proposal = _decidable(session, workspace, proposal_id, by, "reject")
    proposal.status = ProposalStatus.REJECTED
    proposal.decided_by, proposal.decided_at = str(by), clock.now()
    session.flush()
    detail = f"proposed by {proposal.proposed_by}" + (f": {reason.strip()}" if reason else "")
    audit.record(session, workspace, by, "proposal.reject", f"proposal:{proposal.id}", detail)
    return proposal


def retract(
    session: Session, workspace: Workspace, proposal_id: int | str, *, by: Actor
) -> Proposal:
    """Undo an applied proposal: its block is archived (admins and managers of its team)."""
    proposal = get_proposal(session, workspace, proposal_id)
    _check_decide(session, workspace, proposal, by, "retract")
    if proposal.status is not ProposalStatus.APPLIED:
        hint = ": reject it instead" if proposal.status is ProposalStatus.PENDING else ""
        raise _already(workspace, proposal, by, "retract", hint)
    block = session.get(MemoryBlock, proposal.block_id) if proposal.block_id else None
    if block is not None and block.status is BlockStatus.ACTIVE:
        memory.archive(
            session, workspace, block.id, by=by, reason=f"retracted proposal {proposal.id}"
        )
    proposal.status = ProposalStatus.RETRACTED
    proposal.retracted_by, proposal.retracted_at = str(by), clock.now()
    session.flush()
    audit.record(
        session, workspace, by, "proposal.retract", f"proposal:{proposal.id}", _wrote(proposal)
    )
    return proposal


def approve_by_reaction(
    session: Session, workspace: Workspace, *, channel: str, ts: str, emoji: str, by: Actor
) -> Proposal | None:
    """The promote emoji on a proposal's message approves it; None when the message shows
    no proposal or the emoji is another."""
    if emoji != promote_emoji(workspace):
        return None
    found = session.scalar(
        select(Proposal).where(
            Proposal.workspace_id == workspace.id,
            Proposal.slack_channel == channel,
            Proposal.slack_ts == ts,
        )
    )
    return None if found is None else approve(session, workspace, found.id, by=by)


def _decidable(
    session: Session, workspace: Workspace, proposal_id: int | str, by: Actor, doing: str
) -> Proposal:
    proposal = get_proposal(session, workspace, proposal_id)
    _check_decide(session, workspace, proposal, by, doing)
    if proposal.status is not ProposalStatus.PENDING:
        raise _already(workspace, proposal, by, doing, "")
    return proposal


def _check_decide(
    session: Session, workspace: Workspace, proposal: Proposal, by: Actor, doing: str
) -> Principal:
    principal = principal_for(session, workspace, by)
    team = session.get(Team, proposal.team_id)
    check_decide(principal, proposal.team_id, team.slug if team else "?", proposal.id, doing)
    return principal


def _already(
    workspace: Workspace, proposal: Proposal, by: Actor, doing: str, hint: str
) -> AlreadyDone:
    who = proposal.retracted_by or proposal.decided_by
    return AlreadyDone(
        f"proposal {proposal.id} is {proposal.status.value}"
        + (f" (by {who})" if who else "")
        + f"; it cannot be {_past(doing)}{hint}",
        workspace_id=workspace.id,
        actor=str(by),
        origin=by.origin,
        action=f"proposal.{doing}",
        target=f"proposal:{proposal.id}",
    )


def _past(doing: str) -> str:
    return {"approve": "approved", "reject": "rejected", "retract": "retracted"}[doing]


# Reads, and what the Slack surface remembers.


def get_proposal(session: Session, workspace: Workspace, proposal_id: int | str) -> Proposal:
    """A proposal of this workspace by id."""
    number = rules.record_id(proposal_id, "proposal")
    proposal = session.scalar(
        select(Proposal).where(Proposal.id == number, Proposal.workspace_id == workspace.id)
    )
    if proposal is None:
        raise NotFound(f"proposal {number} not found: `salesbrain proposals list` lists them")
    return proposal


def list_proposals(
    session: Session, workspace: Workspace, status: str | None = None, limit: int = 100
) -> list[ProposalView]:
    """The workspace's proposals, newest first; only those of one status when given."""
    query = select(Proposal).where(Proposal.workspace_id == workspace.id)
    if status is not None:
        query = query.where(Proposal.status == rules.choice(ProposalStatus, status, "status"))
    found = session.scalars(query.order_by(Proposal.id.desc()).limit(limit))
    return [view(session, proposal) for proposal in found]


def for_cycle(session: Session, workspace: Workspace, cycle_id: int) -> list[ProposalView]:
    """The proposals a cycle made, oldest first (its report posts them)."""
    found = session.scalars(
        select(Proposal)
        .where(Proposal.workspace_id == workspace.id, Proposal.cycle_id == cycle_id)
        .order_by(Proposal.id)
    )
    return [view(session, proposal) for proposal in found]


def remember_message(
    session: Session, workspace: Workspace, proposal_id: int, *, channel: str, ts: str
) -> None:
    """Remember the message that shows a proposal (its buttons, a reaction on it)."""
    proposal = get_proposal(session, workspace, proposal_id)
    proposal.slack_channel, proposal.slack_ts = channel, ts
    session.flush()


def proposed_block_ids(session: Session, team: Team) -> frozenset[int]:
    """Blocks a director of the team proposed for promotion already (whatever was decided:
    a rejected one is not proposed again)."""
    return frozenset(
        session.scalars(
            select(Proposal.source_block_id).where(
                Proposal.team_id == team.id,
                Proposal.kind == ProposalKind.PROMOTION,
                Proposal.source_block_id.is_not(None),
            )
        )
    )


def view(session: Session, proposal: Proposal) -> ProposalView:
    """The proposal as the surfaces show it."""
    team = session.get(Team, proposal.team_id)
    agent = session.get(Agent, proposal.agent_id) if proposal.agent_id else None
    return ProposalView(
        id=proposal.id,
        kind=proposal.kind,
        status=proposal.status,
        team=team.slug if team else "?",
        proposed_by=proposal.proposed_by,
        agent=agent.handle if agent else None,
        source_block_id=proposal.source_block_id,
        note=proposal.note,
        evidence=proposal.evidence,
        block_id=proposal.block_id,
        cycle_id=proposal.cycle_id,
        created_at=proposal.created_at,
        decided_by=proposal.decided_by,
        retracted_by=proposal.retracted_by,
        channel=agent.report_channel if agent else None,
        slack_channel=proposal.slack_channel,
        slack_ts=proposal.slack_ts,
    )


@dataclass(frozen=True)
class CoachingLead:
    """A finding of the team that holds for some agents, and a teammate whose work it fits."""

    agent: str
    block_id: int
    holders: tuple[str, ...]
    # What the finding is about, e.g. "subject_format" and "question".
    dimension: str
    value: str
    content: str
    evidence: str


# Who a finding from someone's outreach can help: those who write to prospects too.
OUTREACH = frozenset({AgentRole.SDR, AgentRole.ACCOUNT_EXECUTIVE})


def coaching_leads(
    session: Session, team: Team, candidates: list[PromotionCandidate], notes_per_day: int
) -> list[CoachingLead]:
    """For each promotion candidate (a finding that holds for some agents), the teammates
    of the same role or in outreach it does not hold for, who were not coached with it yet
    and have room under today's limit; the strongest finding first, the same role first."""
    agents = list(
        session.scalars(
            select(Agent)
            .where(Agent.team_id == team.id, Agent.role != AgentRole.DIRECTOR)
            .order_by(Agent.handle)
        )
    )
    given = {
        (agent_id, block_id)
        for agent_id, block_id in session.execute(
            select(Proposal.agent_id, Proposal.source_block_id).where(
                Proposal.team_id == team.id, Proposal.kind == ProposalKind.COACHING
            )
        )
    }
    room = {agent.id: notes_today(session, agent.id) < notes_per_day for agent in agents}
    leads = []
    for candidate in candidates:
        holders = tuple(str(a.get("who")) for a in candidate.evidence.get("agents") or [])
        _, dimension, value = (str(candidate.evidence.get("finding") or "") + "//").split("/")[:3]
        if not holders or not dimension:
            continue  # a team-wide finding: nobody to bring it to
        roles = {agent.role for agent in agents if agent.handle in holders}
        evidence = rules.clip(f"finding block {candidate.block_id}: {candidate.reason}", 2000)
        for agent in sorted(agents, key=lambda a: (a.role not in roles, a.handle)):
            if agent.handle in holders or (agent.role not in roles and agent.role not in OUTREACH):
                continue
            if (agent.id, candidate.block_id) in given or not room[agent.id]:
                continue
            leads.append(
                CoachingLead(
                    agent.handle,
                    candidate.block_id,
                    holders,
                    dimension,
                    value,
                    candidate.content,
                    evidence,
                )
            )
    return leads
