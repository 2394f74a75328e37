"""Brain assembly: everything an agent knows at the start of a cycle, detached from the session.

The role and objective, the open tasks (handed-off ones included), the coaching written since
the last cycle, new signal findings, the outcomes of tasks it handed off, and the top memory
blocks for the task at hand (context assembly, with each block's score breakdown). The task
is the oldest open task, else the agent's objective.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, or_, select
from sqlalchemy.orm import Session

from core import clock, proposals
from core.context import AssembledContext, assemble_context, render_memory_section
from core.context.render import defuse, fenced, new_fence
from core.context.settings import ContextSettings
from core.heartbeat.config import HeartbeatSettings
from core.heartbeat.prompt import DEFAULT_OBJECTIVES, CompanyOrder, data_section, role_prompt
from core.heartbeat.tools import Standing
from core.lifecycle import ModelStatus, model_status
from core.models import (
    Agent,
    AgentRole,
    BlockStatus,
    BlockType,
    Finding,
    MemoryBlock,
    SourceKind,
    Task,
    TaskStatus,
    Tier,
    Workspace,
)
from core.proposals import CoachingLead, DirectorSettings
from core.signals import PromotionCandidate, StaleCopy, review_team, stale_copies
from core.tasks import open_tasks


@dataclass(frozen=True)
class TaskNote:
    """An open task as the agent sees it."""

    id: int
    title: str
    detail: str
    from_agent: str | None
    created_by: str

    @property
    def text(self) -> str:
        return f"{self.title}\n{self.detail}".strip()


@dataclass(frozen=True)
class Note:
    """A memory block the brain calls out on its own (new coaching, a new finding)."""

    id: int
    type: BlockType
    content: str
    importance: float
    by: str | None
    kind: SourceKind
    # For a signal finding: what it is about, e.g. ("subject_format", "question").
    subject: tuple[str, str] | None = None


@dataclass(frozen=True)
class Outcome:
    """A task this agent handed off, completed by the teammate since the last cycle."""

    task_id: int
    title: str
    done_by: str
    outcome: str


@dataclass(frozen=True)
class Brain:
    """What one agent knows at the start of one cycle."""

    workspace_id: int
    agent_id: int
    handle: str
    role: AgentRole
    team_id: int
    team_slug: str
    objective: str
    model: str
    task: TaskNote | None
    task_text: str
    open_tasks: tuple[TaskNote, ...]
    context: AssembledContext
    new_coaching: tuple[Note, ...]
    findings: tuple[Note, ...]
    outcomes: tuple[Outcome, ...]
    teammates: dict[str, str]
    # Directors: the team's learnings that qualify for the Team Brain, best supported first.
    candidates: tuple[PromotionCandidate, ...] = ()
    # Directors: the team's Team Brain copies whose finding moved on since they were copied.
    stale: tuple[StaleCopy, ...] = ()
    # The agent's own learnings, read when new findings might repeat one of them.
    own_learnings: frozenset[str] = frozenset()
    # Directors: findings a teammate could be coached with, the teammates' director notes in
    # the last 24 hours, and how many a day the workspace allows.
    coaching_leads: tuple[CoachingLead, ...] = ()
    notes_today: dict[str, int] = field(default_factory=dict)
    notes_per_day: int = proposals.DEFAULT_NOTES_PER_DAY
    assembled_at: datetime = field(default_factory=clock.now)
    # The model's state on the day of the cycle: a retired model is not called.
    model_status: ModelStatus | None = None
    # The Company Brain's standing orders, in the prompt's cached prefix (core/heartbeat/prompt.py).
    company_orders: tuple[CompanyOrder, ...] = ()
    # The id on this cycle's data fences: drawn per cycle, so no stored text can know it.
    fence: str = field(default_factory=new_fence)

    @property
    def standing(self) -> Standing:
        return Standing(
            agent_id=self.agent_id,
            handle=self.handle,
            role=self.role,
            team_id=self.team_id,
            team_slug=self.team_slug,
            teammates=dict(self.teammates),
            open_task_ids=frozenset(task.id for task in self.open_tasks),
            refreshable_ids=frozenset(c.block_id for c in self.stale if c.action == "refresh"),
            promotable_ids=frozenset(candidate.block_id for candidate in self.candidates),
            notes_today=dict(self.notes_today),
            notes_per_day=self.notes_per_day,
        )

    def surfaced_block_ids(self) -> list[int]:
        """Every block that reached the agent this cycle (for usage counts), once each."""
        ids = [block.id for block in self.context.blocks]
        ids += [note.id for note in (*self.new_coaching, *self.findings)]
        ids += [order.id for order in self.company_orders]
        return list(dict.fromkeys(ids))

    def as_record(self) -> dict[str, Any]:
        """The assembly as stored on the cycle: why the agent saw what it saw."""
        return {
            **self.context.as_dict(),
            "assembled_at": self.assembled_at.isoformat(),
            "open_tasks": [
                {"id": t.id, "title": t.title, "from_agent": t.from_agent} for t in self.open_tasks
            ],
            "new_coaching": [note.id for note in self.new_coaching],
            "findings": [note.id for note in self.findings],
            "outcomes": [outcome.task_id for outcome in self.outcomes],
            "candidates": [candidate.block_id for candidate in self.candidates],
            "stale": [copy.block_id for copy in self.stale],
            "company_orders": [order.id for order in self.company_orders],
            "coaching_leads": [lead.agent for lead in self.coaching_leads],
            # Everything else the model was given, as given: a replay reasons over it again.
            "brain": {
                "role": self.role.value,
                "team_id": self.team_id,
                "team_slug": self.team_slug,
                "objective": self.objective,
                "teammates": self.teammates,
                "task": asdict(self.task) if self.task else None,
                "open_tasks": [asdict(task) for task in self.open_tasks],
                "new_coaching": [asdict(note) for note in self.new_coaching],
                "findings": [asdict(note) for note in self.findings],
                "outcomes": [asdict(outcome) for outcome in self.outcomes],
                "candidates": [asdict(candidate) for candidate in self.candidates],
                "stale": [asdict(copy) for copy in self.stale],
                "own_learnings": sorted(self.own_learnings),
                "company_orders": [asdict(order) for order in self.company_orders],
                "coaching_leads": [asdict(lead) for lead in self.coaching_leads],
                "notes_today": self.notes_today,
                "notes_per_day": self.notes_per_day,
            },
        }


def recorded_brain(
    record: dict[str, Any], *, workspace_id: int, agent_id: int, handle: str, task_text: str
) -> Brain | None:
    """The brain a cycle recorded (see Brain.as_record), or None for a cycle recorded before
    the brain was kept whole. Its model is the cycle's: replace it to reason on another."""
    kept = record.get("brain")
    if kept is None:
        return None
    task = TaskNote(**kept["task"]) if kept["task"] else None
    return Brain(
        workspace_id=workspace_id,
        agent_id=agent_id,
        handle=handle,
        role=AgentRole(kept["role"]),
        team_id=kept["team_id"],
        team_slug=kept["team_slug"],
        objective=kept["objective"],
        model="",
        task=task,
        task_text=task_text,
        open_tasks=tuple(TaskNote(**t) for t in kept["open_tasks"]),
        context=AssembledContext.from_dict(record),
        new_coaching=tuple(_recorded_note(n) for n in kept["new_coaching"]),
        findings=tuple(_recorded_note(n) for n in kept["findings"]),
        outcomes=tuple(Outcome(**o) for o in kept["outcomes"]),
        teammates=dict(kept["teammates"]),
        candidates=tuple(PromotionCandidate(**c) for c in kept["candidates"]),
        stale=tuple(StaleCopy(**c) for c in kept["stale"]),
        own_learnings=frozenset(kept["own_learnings"]),
        company_orders=tuple(CompanyOrder(**o) for o in kept.get("company_orders", [])),
        # Cycles recorded before directors coached have none of these.
        coaching_leads=tuple(
            CoachingLead(**{**lead, "holders": tuple(lead["holders"])})
            for lead in kept.get("coaching_leads", [])
        ),
        notes_today=dict(kept.get("notes_today", {})),
        notes_per_day=kept.get("notes_per_day", proposals.DEFAULT_NOTES_PER_DAY),
    )


def _recorded_note(data: dict[str, Any]) -> Note:
    subject = data.get("subject")
    return Note(
        id=data["id"],
        type=BlockType(data["type"]),
        content=data["content"],
        importance=data["importance"],
        by=data["by"],
        kind=SourceKind(data["kind"]),
        subject=(subject[0], subject[1]) if subject else None,
    )


def assemble_brain(
    session: Session, workspace: Workspace, agent: Agent, settings: HeartbeatSettings
) -> Brain:
    """Brain assembly for one agent's cycle."""
    # Tasks come from teammates only (handoff_task stays in the team): one query names them.
    team = session.execute(_TEAM, {"team_id": agent.team_id}).all()
    handles = {agent_id: handle for agent_id, handle, _ in team}
    tasks = tuple(_task_note(task, handles) for task in open_tasks(session, agent))
    task = tasks[0] if tasks else None
    task_text = task.text if task else (agent.objective or DEFAULT_OBJECTIVES[agent.role])
    orders = company_orders(session, workspace)
    # The prompt's cached prefix holds the standing orders: their slots go to other blocks.
    context = assemble_context(
        session,
        agent,
        task_text,
        limit=settings.context_limit,
        token_budget=settings.context_token_budget,
        exclude={order.id for order in orders},
    )
    news = _new_blocks(session, agent)
    director = agent.role is AgentRole.DIRECTOR
    findings = _with_subjects(
        session, [note for note in news if note.kind is SourceKind.SIGNAL_ANALYSIS]
    )
    director_brain = _director_brain(session, workspace, agent) if director else {}
    return Brain(
        workspace_id=workspace.id,
        agent_id=agent.id,
        handle=agent.handle,
        role=agent.role,
        team_id=agent.team_id,
        team_slug=agent.team.slug,
        objective=agent.objective or DEFAULT_OBJECTIVES[agent.role],
        model=agent.model,
        task=task,
        task_text=task_text,
        open_tasks=tasks,
        context=context,
        new_coaching=tuple(note for note in news if note.type is BlockType.COACHING),
        findings=findings,
        outcomes=_handoff_outcomes(session, agent, handles),
        teammates={handle: AgentRole(role).value for id_, handle, role in team if id_ != agent.id},
        stale=tuple(stale_copies(session, workspace, agent.team)) if director else (),
        **director_brain,
        own_learnings=_own_learnings(session, agent) if findings else frozenset(),
        assembled_at=clock.now(),
        # Read here, outside any write transaction: the first read parses the SDK's files.
        model_status=model_status(agent.model),
        company_orders=orders,
    )


def company_orders(session: Session, workspace: Workspace) -> tuple[CompanyOrder, ...]:
    """The Company Brain blocks that people wrote as policy (importance at least the standing
    order threshold), most important first, within COMPANY_ORDERS_CHARS. Only people's words:
    a block copied from an agent's learning or an import is outside text, fenced in the memory
    section with the cycle's own fence id, which a cached prefix cannot hold."""
    threshold = ContextSettings.of(workspace).standing_order_min_importance
    rows = session.execute(_COMPANY_ORDERS, {"workspace_id": workspace.id, "least": threshold})
    orders, room = [], COMPANY_ORDERS_CHARS
    for block_id, block_type, content in rows:
        room -= len(content)
        if room < 0:
            break
        orders.append(CompanyOrder(block_id, BlockType(block_type).value, content))
    return tuple(orders)


def _director_brain(session: Session, workspace: Workspace, agent: Agent) -> dict[str, Any]:
    """What only a director sees: the team's promotion candidates (less those proposed
    before), the findings it could coach teammates with, and their notes of the day."""
    candidates = review_team(session, workspace, agent.team)
    proposed = proposals.proposed_block_ids(session, agent.team)
    limit = DirectorSettings.of(workspace).notes_per_day
    team = session.execute(_TEAM, {"team_id": agent.team_id}).all()
    return {
        "candidates": tuple(c for c in candidates if c.block_id not in proposed),
        "coaching_leads": tuple(proposals.coaching_leads(session, agent.team, candidates, limit)),
        "notes_today": {
            handle: proposals.notes_today(session, id_)
            for id_, handle, _ in team
            if id_ != agent.id
        },
        "notes_per_day": limit,
    }


def _task_note(task: Task, handles: dict[int, str]) -> TaskNote:
    return TaskNote(
        id=task.id,
        title=task.title,
        detail=task.detail,
        from_agent=_name(handles, task.from_agent_id) if task.from_agent_id else None,
        created_by=task.created_by,
    )


# Every cycle runs these: built once, with bind parameters (SQLAlchemy spends more building
# and keying a statement than SQLite spends running it).
_TEAM = select(Agent.id, Agent.handle, Agent.role).where(Agent.team_id == bindparam("team_id"))
_NEW_BLOCKS = (
    select(
        MemoryBlock.id,
        MemoryBlock.type,
        MemoryBlock.content,
        MemoryBlock.importance,
        MemoryBlock.source_by,
        MemoryBlock.source_kind,
    )
    .where(
        MemoryBlock.agent_id == bindparam("agent_id"),
        MemoryBlock.tier == Tier.PERSONAL,
        MemoryBlock.status == BlockStatus.ACTIVE,
        or_(
            MemoryBlock.type == BlockType.COACHING,
            MemoryBlock.source_kind == SourceKind.SIGNAL_ANALYSIS,
        ),
    )
    .order_by(MemoryBlock.importance.desc(), MemoryBlock.id)
    .limit(20)
)
_SUBJECTS = select(Finding.block_id, Finding.dimension, Finding.value).where(
    Finding.block_id.in_(bindparam("block_ids", expanding=True))
)
_OWN_LEARNINGS = (
    select(MemoryBlock.content)
    .where(
        MemoryBlock.agent_id == bindparam("agent_id"),
        MemoryBlock.status == BlockStatus.ACTIVE,
        MemoryBlock.source_kind == SourceKind.AGENT_CYCLE,
    )
    .order_by(MemoryBlock.id.desc())
    .limit(500)
)
_HANDOFFS_DONE = (
    select(Task.id, Task.title, Task.agent_id, Task.outcome)
    .where(Task.from_agent_id == bindparam("agent_id"), Task.status == TaskStatus.DONE)
    .order_by(Task.completed_at, Task.id)
    .limit(10)
)
# The Company Brain's standing orders: at most this much text (about 1,500 tokens) in all.
COMPANY_ORDERS_CHARS = 6000
_COMPANY_ORDERS = (
    select(MemoryBlock.id, MemoryBlock.type, MemoryBlock.content)
    .where(
        MemoryBlock.workspace_id == bindparam("workspace_id"),
        MemoryBlock.tier == Tier.COMPANY,
        MemoryBlock.status == BlockStatus.ACTIVE,
        MemoryBlock.source_kind == SourceKind.SLACK_USER,
        MemoryBlock.importance >= bindparam("least"),
    )
    .order_by(MemoryBlock.importance.desc(), MemoryBlock.id)
    .limit(50)
)
# Since the agent's last cycle (its first cycle sees them all).
_NEW_BLOCKS_SINCE = _NEW_BLOCKS.where(MemoryBlock.updated_at > bindparam("since"))
_HANDOFFS_DONE_SINCE = _HANDOFFS_DONE.where(Task.completed_at > bindparam("since"))


def _new_blocks(session: Session, agent: Agent) -> tuple[Note, ...]:
    """Coaching and signal findings on the agent's Personal Brain since its last cycle."""
    query = _NEW_BLOCKS if agent.last_cycle_at is None else _NEW_BLOCKS_SINCE
    rows = session.execute(query, {"agent_id": agent.id, "since": agent.last_cycle_at})
    return tuple(Note(*row) for row in rows)


def _with_subjects(session: Session, notes: list[Note]) -> tuple[Note, ...]:
    """Findings with what they are about (their dimension and value)."""
    if not notes:
        return ()
    found = session.execute(_SUBJECTS, {"block_ids": [note.id for note in notes]})
    subjects = {block_id: (dimension, value) for block_id, dimension, value in found}
    return tuple(replace(note, subject=subjects.get(note.id)) for note in notes)


def _own_learnings(session: Session, agent: Agent) -> frozenset[str]:
    return frozenset(session.scalars(_OWN_LEARNINGS, {"agent_id": agent.id}))


def _handoff_outcomes(
    session: Session, agent: Agent, handles: dict[int, str]
) -> tuple[Outcome, ...]:
    """Tasks this agent handed off that its teammates completed since its last cycle."""
    query = _HANDOFFS_DONE if agent.last_cycle_at is None else _HANDOFFS_DONE_SINCE
    rows = session.execute(query, {"agent_id": agent.id, "since": agent.last_cycle_at})
    return tuple(
        Outcome(task_id, title, _name(handles, agent_id), outcome or "")
        for task_id, title, agent_id, outcome in rows
    )


def memory_prompt(brain: Brain) -> str:
    """The per-agent part of the system prompt: who it is, its team, and its memory. Findings,
    candidates and copies quote imported data: their text is fenced like any outside text."""
    fence = brain.fence
    teammates = "\n".join(f"- {h} ({role})" for h, role in sorted(brain.teammates.items()))
    # Assembly leaves them out; a brain recorded before it did, and replayed, may hold them.
    in_prefix = {order.id for order in brain.company_orders}
    shown = [block for block in brain.context.blocks if block.id not in in_prefix]
    sections = [
        role_prompt(brain.role),
        f"# You\nYou are {brain.handle} on team {brain.team_slug}. "
        f"Objective: {defuse(brain.objective)}",
        "# Teammates\n" + (teammates or "- none"),
        render_memory_section(replace(brain.context, blocks=shown), fence),
    ]
    if brain.new_coaching:
        lines = ["# New coaching since your last cycle"]
        for note in brain.new_coaching:
            if note.kind is SourceKind.SLACK_USER:
                lines.append(f"- [block {note.id}] " + defuse(note.content).replace("\n", " "))
            else:
                lines += [f"- [block {note.id}]", *fenced(fence, f"block {note.id}", note.content)]
        sections.append("\n".join(lines))
    if brain.findings:
        lines = ["# New findings from your performance signals"]
        for note in brain.findings:
            lines += [f"- [block {note.id}]", *fenced(fence, f"finding {note.id}", note.content)]
        sections.append("\n".join(lines))
    if brain.candidates:
        lines = ["# Promotion candidates on your team"]
        for candidate in brain.candidates:
            quoted = f"{candidate.content}\n(why: {candidate.reason})"
            lines += [f"- [block {candidate.block_id}]"]
            lines += fenced(fence, f"block {candidate.block_id}", quoted)
        sections.append("\n".join(lines))
    if brain.coaching_leads:
        lines = ["# Findings a teammate could be coached with (coach_agent)"]
        for lead in brain.coaching_leads:
            holders = ", ".join(lead.holders)
            lines += [f"- [block {lead.block_id}] holds for {holders}; could help {lead.agent}"]
            lines += fenced(fence, f"block {lead.block_id}", lead.content)
        sections.append("\n".join(lines))
    if brain.stale:
        lines = ["# Team Brain copies whose finding moved on"]
        for copy in brain.stale:
            todo = (
                "refresh it with refresh_team_copy"
                if copy.action == "refresh"
                else f"ask a manager to archive it: /brain forget {copy.block_id}"
            )
            lines += [f"- [block {copy.block_id}] {todo}"]
            lines += fenced(
                fence, f"block {copy.block_id}", f"{copy.content}\n(now: {copy.reason})"
            )
        sections.append("\n".join(lines))
    return "\n\n".join(sections)


def task_prompt(brain: Brain) -> str:
    """The user turn: the task at hand, the other open tasks, and outcomes of handoffs. A task
    an agent handed on was written by a model that read outside text: all of it is fenced."""
    fence = brain.fence
    if brain.task is None:
        parts = [f"Task: work toward your objective: {defuse(brain.objective)}"]
    else:
        task = brain.task
        source = f"task {task.id}" + (f" from {task.from_agent}" if task.from_agent else "")
        if task.from_agent:
            parts = [f"Task: task {task.id} from {task.from_agent}, title and detail:"]
            parts.append("\n".join(fenced(fence, source, task.text)))
        else:
            parts = [f"Task: {_one_line(task.title)} (task {task.id})"]
            if task.detail:
                parts.append(data_section(fence, source, task.detail))
    others = [t for t in brain.open_tasks if brain.task is None or t.id != brain.task.id]
    if others:
        lines = ["Other open tasks:"]
        for other in others:
            if other.from_agent:
                lines.append(f"- [task {other.id}] (from {other.from_agent})")
                lines += fenced(fence, f"title of task {other.id}", other.title)
            else:
                lines.append(f"- [task {other.id}] {_one_line(other.title)}")
        parts.append("\n".join(lines))
    if brain.outcomes:
        lines = ["Tasks you handed off, now done:"]
        for outcome in brain.outcomes:
            quoted = f"{outcome.title}\n-> {outcome.done_by}: {outcome.outcome}"
            lines.append(f"- [task {outcome.task_id}]")
            lines += fenced(fence, f"outcome of task {outcome.task_id}", quoted)
        parts.append("\n".join(lines))
    parts.append("Work the task, then call finish_cycle.")
    return "\n\n".join(parts)


def _one_line(text: str) -> str:
    return defuse(text).replace("\n", " ")


def _name(handles: dict[int, str], agent_id: int) -> str:
    return handles.get(agent_id) or f"agent #{agent_id}"
