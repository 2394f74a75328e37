"""The tools an agent answers through, with typed inputs, checks and the writes they cause.

A cycle runs in two steps. While the model reasons, each call is checked (its input
validated by pydantic, then against what the agent may do) and answered at once, accepted
or refused; nothing is written yet. When reasoning ends, the accepted calls are applied in
the cycle's one transaction through the memory and task services; a call refused there (a
race with a manager) rolls the transaction back and it is written again without that call,
so the rest stands. A refused call is recorded in the cycle and the audit log; the cycle
goes on.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from functools import cache
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from sqlalchemy.orm import Session

from core import memory, proposals, restatements, tasks
from core.errors import DomainError
from core.memory import MAX_INFERRED_IMPORTANCE
from core.models import Agent, AgentRole, AuditEvent, BlockStatus, SourceKind, Tier, Workspace
from core.permissions import Actor
from core.rules import MAX_CONTENT


class ToolInput(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class RecordLearning(ToolInput):
    """Store a learning on your own Personal Brain (never above the coaching band)."""

    content: str = Field(min_length=1, max_length=MAX_CONTENT, description="The learning.")
    importance: float = Field(
        ge=0, le=MAX_INFERRED_IMPORTANCE, description="0..0.7; coaching from people ranks higher."
    )
    evidence: str | None = Field(
        default=None, max_length=2000, description="What you observed that supports it."
    )


class HandoffTask(ToolInput):
    """Give a task to another agent of your team (e.g. a warm reply to the account executive)."""

    to_agent: str = Field(min_length=1, max_length=64, description="The teammate's handle.")
    title: str = Field(min_length=1, max_length=500)
    detail: str = Field(default="", max_length=MAX_CONTENT)


class CompleteTask(ToolInput):
    """Mark one of your open tasks done, with its outcome."""

    task_id: int = Field(ge=1)
    outcome: str = Field(min_length=1, max_length=MAX_CONTENT)


class ProposePromotion(ToolInput):
    """Directors only: promote a strong learning of your team to the Team Brain."""

    block_id: int = Field(ge=1)
    reason: str = Field(min_length=1, max_length=1000)


class CoachAgent(ToolInput):
    """Directors only: coach a teammate on its Personal Brain, citing the finding or figures
    it rests on. It ranks below a person's coaching, at most one note per agent per day; a
    manager approves it first unless the workspace lets directors apply at once."""

    agent: str = Field(min_length=1, max_length=64, description="The teammate's handle.")
    note: str = Field(min_length=1, max_length=MAX_CONTENT, description="The coaching note.")
    evidence: str = Field(
        min_length=1,
        max_length=2000,
        description="The finding or impact figures the note rests on, as you read them.",
    )
    finding: int | None = Field(
        default=None, ge=1, description="The block id of the finding it rests on, if one."
    )


class RefreshTeamCopy(ToolInput):
    """Directors only: bring a Team Brain copy of a finding up to date with the finding (one
    listed as to refresh under "Team Brain copies whose finding moved on")."""

    block_id: int = Field(ge=1, description="The copy on the Team Brain.")


class FinishCycle(ToolInput):
    """End the cycle with your report: a summary and the actions you took."""

    summary: str = Field(min_length=1, max_length=MAX_CONTENT)
    actions: list[str] = Field(default_factory=list, max_length=20)


TOOLS: dict[str, type[ToolInput]] = {
    "record_learning": RecordLearning,
    "handoff_task": HandoffTask,
    "complete_task": CompleteTask,
    "propose_promotion": ProposePromotion,
    "coach_agent": CoachAgent,
    "refresh_team_copy": RefreshTeamCopy,
    "finish_cycle": FinishCycle,
}
DIRECTORS_ONLY = frozenset({"propose_promotion", "coach_agent", "refresh_team_copy"})
# Learnings one cycle may record (HeartbeatSettings.max_learnings_per_cycle); more are refused.
DEFAULT_MAX_LEARNINGS = 3


@cache
def tool_definitions(role: AgentRole) -> tuple[dict[str, Any], ...]:
    """The tools as the Messages API takes them; the team's upkeep is offered to directors."""
    offered = [n for n in TOOLS if n not in DIRECTORS_ONLY or role is AgentRole.DIRECTOR]
    return tuple(_definition(name) for name in offered)


@cache
def every_tool_definition() -> tuple[dict[str, Any], ...]:
    """Every tool, whatever the role: what a cycle offers, so that the tools (the start of the
    cached prompt prefix) are the same for every agent; a call the role may not make is
    refused by the toolbox, as any call is checked."""
    return tuple(_definition(name) for name in TOOLS)


def _definition(name: str) -> dict[str, Any]:
    return {
        "name": name,
        "description": (TOOLS[name].__doc__ or name).strip(),
        "input_schema": TOOLS[name].model_json_schema(),
    }


class CallStatus(StrEnum):
    """What became of a tool call: checked while the model reasons, written (or not) after."""

    ACCEPTED = "accepted"  # checked; written when reasoning ends
    REFUSED = "refused"  # a rule said no, while reasoning or at the write
    APPLIED = "applied"  # written in the cycle's transaction
    DISCARDED = "discarded"  # accepted, but the cycle did not succeed: nothing written


@dataclass
class ToolCall:
    """One call the model made: its input, and what became of it."""

    name: str
    input: dict[str, Any]
    status: CallStatus
    result: str
    block_id: int | None = None
    task_id: int | None = None
    confirmed_id: int | None = None  # record_learning: the block it restated, not a new one
    parsed: ToolInput | None = field(default=None, repr=False, compare=False)

    def as_dict(self) -> dict[str, Any]:
        """The call as its cycle stores it (a JSON document of the cycle row)."""
        data: dict[str, Any] = {
            "name": self.name,
            "input": self.input,
            "status": self.status.value,
            "result": self.result,
        }
        if self.block_id is not None:
            data["block_id"] = self.block_id
        if self.task_id is not None:
            data["task_id"] = self.task_id
        if self.confirmed_id is not None:
            data["confirmed_block_id"] = self.confirmed_id
        return data

    @classmethod
    def stored(cls, data: dict[str, Any]) -> ToolCall:
        """A call as its cycle stored it (`as_dict`)."""
        return cls(
            name=data["name"],
            input=data.get("input") or {},
            status=CallStatus(data["status"]),
            result=data.get("result", ""),
            block_id=data.get("block_id"),
            task_id=data.get("task_id"),
            confirmed_id=data.get("confirmed_block_id"),
        )


@dataclass(frozen=True)
class BlockFacts:
    """What a promotion check needs to know about a block."""

    id: int
    tier: Tier
    status: BlockStatus
    team_id: int | None
    team_slug: str | None
    promoted_to_team: bool


@dataclass(frozen=True)
class Standing:
    """Who is calling the tools: the agent, its teammates and its open tasks."""

    agent_id: int
    handle: str
    role: AgentRole
    team_id: int
    team_slug: str
    teammates: dict[str, str]
    open_task_ids: frozenset[int]
    # Directors: the Team Brain copies whose finding was updated since they were copied.
    refreshable_ids: frozenset[int] = frozenset()
    # Directors: the blocks the team's review lists as promotion candidates this cycle. Only
    # these may be proposed: a learning some model wrote (perhaps talked into it by outside
    # text) reaches the Team Brain only when the evidence, or a person, puts it there.
    promotable_ids: frozenset[int] = frozenset()
    # Directors: the director notes each teammate had in the last 24 hours, and the limit.
    notes_today: dict[str, int] = field(default_factory=dict)
    notes_per_day: int = proposals.DEFAULT_NOTES_PER_DAY


class Toolbox:
    """Checks and answers one cycle's tool calls, and keeps them for the write step."""

    def __init__(
        self,
        standing: Standing,
        lookup_block: Callable[[int], BlockFacts | None],
        *,
        max_learnings: int = DEFAULT_MAX_LEARNINGS,
    ) -> None:
        self.standing = standing
        self.lookup_block = lookup_block
        self.max_learnings = max_learnings
        self.learnings = 0
        self.calls: list[ToolCall] = []
        self.report: FinishCycle | None = None
        self._completed: set[int] = set()
        self._proposed: set[int] = set()
        self._refreshed: set[int] = set()
        self._coached: dict[str, int] = {}

    @property
    def finished(self) -> bool:
        return self.report is not None

    def call(self, name: str, raw: Any) -> ToolCall:
        """Check one call and answer it: accepted (applied when the cycle ends) or refused."""
        arguments = raw if isinstance(raw, dict) else {"input": raw}
        kind = TOOLS.get(name)
        if kind is None:
            return self._answer(
                name, arguments, f"unknown tool {name!r}; tools: {', '.join(TOOLS)}"
            )
        try:
            parsed = kind.model_validate(arguments)
        except ValidationError as error:
            return self._answer(name, arguments, _validation_message(error))
        problem = getattr(self, f"_check_{name}")(parsed)
        return self._answer(name, arguments, problem, parsed)

    def refuse(self, name: str, raw: Any, reason: str) -> ToolCall:
        """Record a call that is not even checked (its answer was cut off), as refused."""
        arguments = raw if isinstance(raw, dict) else {"input": raw}
        return self._answer(name, arguments, reason)

    def _answer(
        self,
        name: str,
        arguments: dict[str, Any],
        problem: str | None,
        parsed: ToolInput | None = None,
    ) -> ToolCall:
        if problem is not None:
            call = ToolCall(name, arguments, CallStatus.REFUSED, f"refused: {problem}")
        else:
            call = ToolCall(name, arguments, CallStatus.ACCEPTED, _acceptance(name), parsed=parsed)
        self.calls.append(call)
        return call

    def _check_record_learning(self, _: RecordLearning) -> str | None:
        if self.learnings >= self.max_learnings:
            return (
                f"a cycle records at most {self.max_learnings} learnings and this one has; "
                "keep the strongest"
            )
        self.learnings += 1
        return None

    def _check_handoff_task(self, handoff: HandoffTask) -> str | None:
        me = self.standing
        target = handoff.to_agent.lstrip("@")
        if target == me.handle:
            return "hand off to a teammate, not to yourself"
        if target not in me.teammates:
            known = ", ".join(sorted(me.teammates)) or "none"
            return f"{target!r} is not an agent of team {me.team_slug}; teammates: {known}"
        return None

    def _check_complete_task(self, completion: CompleteTask) -> str | None:
        if completion.task_id in self._completed:
            return f"task {completion.task_id} is already completed in this cycle"
        if completion.task_id not in self.standing.open_task_ids:
            known = ", ".join(str(i) for i in sorted(self.standing.open_task_ids)) or "none"
            return f"task {completion.task_id} is not one of your open tasks (open: {known})"
        self._completed.add(completion.task_id)
        return None

    def _check_propose_promotion(self, proposal: ProposePromotion) -> str | None:
        me = self.standing
        if me.role is not AgentRole.DIRECTOR:
            return f"only director agents propose promotions; {me.handle} is {me.role.value}"
        if proposal.block_id in self._proposed:
            return f"block {proposal.block_id} is already proposed in this cycle"
        block = self.lookup_block(proposal.block_id)
        if block is None:
            return f"block {proposal.block_id} not found"
        if block.tier is not Tier.PERSONAL:
            return f"block {block.id} is on the {block.tier.value} brain already"
        if block.team_id != me.team_id:
            return f"block {block.id} belongs to team {block.team_slug}, not {me.team_slug}"
        if block.status is not BlockStatus.ACTIVE:
            return f"block {block.id} is {block.status.value}"
        if block.promoted_to_team:
            return f"block {block.id} is already on the team brain"
        if block.id not in me.promotable_ids:
            listed = ", ".join(str(i) for i in sorted(me.promotable_ids)) or "none"
            return (
                f"block {block.id} is not one of this cycle's promotion candidates "
                f"(listed: {listed}); a manager may promote it"
            )
        self._proposed.add(proposal.block_id)
        return None

    def _check_coach_agent(self, coaching: CoachAgent) -> str | None:
        me = self.standing
        if me.role is not AgentRole.DIRECTOR:
            return f"only director agents coach other agents; {me.handle} is {me.role.value}"
        target = coaching.agent.lstrip("@")
        if target == me.handle:
            return "coach your teammates, not yourself"
        if target not in me.teammates:
            known = ", ".join(sorted(me.teammates)) or "none"
            return f"{target!r} is not an agent of team {me.team_slug}; teammates: {known}"
        written = me.notes_today.get(target, 0) + self._coached.get(target, 0)
        if written >= me.notes_per_day:
            return (
                f"{target} already has {written} director note(s) in the last 24 hours; "
                f"at most {me.notes_per_day} per agent per day"
            )
        self._coached[target] = self._coached.get(target, 0) + 1
        return None

    def _check_refresh_team_copy(self, refresh: RefreshTeamCopy) -> str | None:
        me = self.standing
        if me.role is not AgentRole.DIRECTOR:
            return f"only director agents refresh team brain copies; {me.handle} is {me.role.value}"
        if refresh.block_id in self._refreshed:
            return f"block {refresh.block_id} is already refreshed in this cycle"
        if refresh.block_id not in me.refreshable_ids:
            listed = ", ".join(str(i) for i in sorted(me.refreshable_ids)) or "none"
            return (
                f"block {refresh.block_id} is not a team brain copy to refresh (listed: {listed})"
            )
        self._refreshed.add(refresh.block_id)
        return None

    def _check_finish_cycle(self, report: FinishCycle) -> str | None:
        if self.report is not None:
            return "the cycle is already finished"
        self.report = report
        return None


def _acceptance(name: str) -> str:
    if name == "finish_cycle":
        return "ok: report recorded; the cycle ends"
    return "ok: accepted; it is written when the cycle ends"


def _validation_message(error: ValidationError) -> str:
    problems = []
    for item in error.errors()[:3]:
        where = ".".join(str(part) for part in item["loc"]) or "input"
        problems.append(f"{where}: {item['msg']}")
    return "; ".join(problems)


class CallRefused(Exception):
    """An accepted call that the write step refused; it is marked refused."""


def apply_calls(
    session: Session, workspace: Workspace, agent: Agent, calls: list[ToolCall], cycle_id: int
) -> None:
    """Write the accepted calls and audit the refused ones, in the caller's transaction.

    A call refused here (a race: a manager archived the block, an operator completed the
    task) is marked refused and raises CallRefused: the caller rolls its transaction back
    and writes it again, the refused call left out. Such races are rare, and a savepoint
    per call would cost statements inside the transaction other cycles wait for."""
    actor = Actor.agent(agent.handle)
    applied: list[tuple[ToolCall, Applied]] = []
    for call in calls:
        if call.status is not CallStatus.ACCEPTED:
            continue
        try:
            applied.append((call, _apply(session, workspace, agent, actor, call, cycle_id)))
        except DomainError as error:
            call.status, call.result = CallStatus.REFUSED, f"refused: {error.message}"
            raise CallRefused(call.name) from error
    for call, outcome in applied:
        call.status, call.result = CallStatus.APPLIED, outcome.result
        call.block_id, call.task_id = outcome.block_id, outcome.task_id
        call.confirmed_id = outcome.confirmed_id
    audit_refusals(session, workspace, agent, calls, cycle_id)


def audit_refusals(
    session: Session, workspace: Workspace, agent: Agent, calls: list[ToolCall], cycle_id: int
) -> None:
    """An audit event for each refused call of a cycle, whatever became of the cycle."""
    actor = Actor.agent(agent.handle)
    for call in calls:
        if call.status is CallStatus.REFUSED:
            session.add(
                AuditEvent(
                    workspace_id=workspace.id,
                    actor=str(actor),
                    action=f"tool.{call.name}",
                    target=f"cycle:{cycle_id}",
                    outcome="refused",
                    detail=call.result,
                    origin=actor.origin,
                )
            )


@dataclass(frozen=True)
class Applied:
    """What writing a call did (kept off the call until every call is written)."""

    result: str
    block_id: int | None = None
    task_id: int | None = None
    confirmed_id: int | None = None  # a learning that restated this block


def _apply(
    session: Session,
    workspace: Workspace,
    agent: Agent,
    actor: Actor,
    call: ToolCall,
    cycle_id: int,
) -> Applied:
    parsed = call.parsed
    if isinstance(parsed, RecordLearning):
        restated = restatements.restated_block(session, workspace, agent, parsed.content)
        if restated is not None:
            restatements.confirm(session, workspace, restated, actor, f"cycle:{cycle_id}")
            return Applied(
                f"ok: block {restated.id} ({restated.tier.value} {restated.type.value}) already "
                "says this: confirmed it, no new block",
                confirmed_id=restated.id,
            )
        evidence: dict[str, Any] = {"note": parsed.evidence} if parsed.evidence else {}
        importance = parsed.importance
        finding = restatements.paraphrased_finding(session, workspace, agent, parsed.content)
        if finding is not None:  # it follows the finding, and never outranks it
            evidence["derived_from"] = finding.id
            importance = min(importance, finding.importance)
        block = memory.write_learning(
            session,
            workspace,
            agent,
            parsed.content,
            by=actor,
            importance=importance,
            evidence=evidence or None,
            source_kind=SourceKind.AGENT_CYCLE,
            source_ref=f"cycle:{cycle_id}",
        )
        linked = (
            f", linked to finding block {finding.id}: it follows the finding's figures"
            if finding is not None
            else ""
        )
        return Applied(f"ok: learning stored as block {block.id}{linked}", block_id=block.id)
    if isinstance(parsed, HandoffTask):
        task = tasks.add_task(
            session,
            workspace,
            parsed.to_agent,
            parsed.title,
            detail=parsed.detail,
            by=actor,
            from_agent=agent,
        )
        return Applied(f"ok: task {task.id} handed to {parsed.to_agent}", task_id=task.id)
    if isinstance(parsed, CompleteTask):
        tasks.complete_task(session, workspace, parsed.task_id, parsed.outcome, by=actor)
        return Applied(f"ok: task {parsed.task_id} done", task_id=parsed.task_id)
    if isinstance(parsed, ProposePromotion):
        proposal = proposals.director_promotes(
            session, workspace, agent, parsed.block_id, parsed.reason, cycle_id=cycle_id
        )
        if proposal.block_id is None:
            return Applied(
                f"ok: proposal {proposal.id} to promote block {parsed.block_id} waits for a "
                "manager's approval"
            )
        return Applied(
            f"ok: block {parsed.block_id} promoted to the team brain as {proposal.block_id}",
            block_id=proposal.block_id,
        )
    if isinstance(parsed, CoachAgent):
        proposal = proposals.director_coaches(
            session,
            workspace,
            agent,
            parsed.agent,
            parsed.note,
            evidence=parsed.evidence,
            cycle_id=cycle_id,
            finding=parsed.finding,
        )
        if proposal.block_id is None:
            return Applied(
                f"ok: proposal {proposal.id} to coach {parsed.agent} waits for a manager's approval"
            )
        return Applied(
            f"ok: coaching block {proposal.block_id} stored for {parsed.agent} (proposal "
            f"{proposal.id}; a manager may retract it)",
            block_id=proposal.block_id,
        )
    if isinstance(parsed, RefreshTeamCopy):
        copy = memory.refresh(session, workspace, parsed.block_id, by=actor)
        return Applied(
            f"ok: block {copy.id} on the team brain now says what block "
            f"{copy.promoted_from_id} says",
            block_id=copy.id,
        )
    return Applied("ok: report stored")  # finish_cycle: the report is the cycle's own
