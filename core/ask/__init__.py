"""Ask the brain: a question in plain words, answered from salesbrain's own records.

Four questions are understood (`understand`): what an agent knows about something (the
context it would assemble), why a cycle did what it did (the cycle's record), which
coaching worked (coaching notes and their use), and what changed in a brain (its blocks
and their audit trail). `gather` retrieves the records the asker may read, each cited by
its id (`block 12`, `cycle 30`, `task 7`); a writer turns them into an answer: the template
here (offline), or the model (core/ask/model.py), which is given the records and nothing
else, each fenced as data.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Protocol

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from core import clock, impact
from core.context import assemble_context
from core.errors import InvalidInput
from core.heartbeat.config import HeartbeatSettings
from core.heartbeat.records import get_cycle
from core.models import (
    Agent,
    AuditEvent,
    BlockStatus,
    BlockType,
    Cycle,
    MemoryBlock,
    Task,
    Team,
    Tier,
    Workspace,
)
from core.permissions import Actor, Principal, may_read_coaching, principal_for
from core.settings import Settings

# The longest question read; Slack's own limit on a message is far longer.
MAX_QUESTION = 2000
# Records an answer cites at most; the surfaces show fewer when their limits say so.
MAX_RECORDS = 25
# Cycles read to count how often each coaching note informed one.
MAX_CYCLES_READ = 5000
WITHHELD = "(its words are for admins and the managers of its team)"

EXAMPLES = (
    "What does sdr-emea know about hospital CTOs?",
    "Why did cycle 30 hand off to ae-emea?",
    "Which coaching worked this month?",
    "What changed in the Team Brain this week?",
)


class Topic(StrEnum):
    KNOWS = "knows"
    CYCLE = "cycle"
    COACHING = "coaching"
    CHANGES = "changes"
    HELP = "help"


@dataclass(frozen=True)
class Question:
    """What was asked, as salesbrain understood it."""

    text: str
    topic: Topic
    agent: str | None = None  # the agent named, or the one of the channel in view
    about: str = ""  # what an agent should know about
    cycle_id: int | None = None
    to_agent: str | None = None  # a cycle's hand-off asked about
    days: int = 7  # how far back "this week/month" looks
    tiers: tuple[Tier, ...] = (Tier.TEAM, Tier.COMPANY)


@dataclass(frozen=True)
class Record:
    """One record an answer rests on, cited by `ref`."""

    kind: str  # block, cycle or task
    id: int
    label: str  # what it is: "coaching · personal · sdr-emea"
    text: str  # its words ("" when the asker may not read them)
    from_outside: bool = False  # prospect text: data, never instruction

    @property
    def ref(self) -> str:
        return f"{self.kind} {self.id}"


@dataclass(frozen=True)
class Grounds:
    """What the records say about a question: the facts (each citing its records), the
    records themselves, and what was left out."""

    question: Question
    title: str
    facts: list[str]
    records: list[Record]
    notes: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Answer:
    """The answer to a question: prose citing the records, the records, and who wrote it."""

    question: Question
    title: str
    text: str
    records: list[Record]
    notes: list[str]
    written_by: str


class AnswerWriter(Protocol):
    """Turns the grounds of a question into the answer's prose."""

    name: str

    def write(self, grounds: Grounds) -> str:
        """The answer, from the grounds only; raises nothing (falls back to the template)."""
        ...


class TemplateWriter:
    """The offline writer: the facts, one to a line, as retrieval found them."""

    name = "offline"

    def write(self, grounds: Grounds) -> str:
        return template(grounds)


def answer_writer(settings: Settings, heartbeat: HeartbeatSettings) -> AnswerWriter:
    """The writer SALESBRAIN_LLM names: the model (with a key), else the template."""
    if settings.llm_backend == "anthropic" and settings.anthropic_api_key is not None:
        # Imported here: the SDK takes seconds to import, which an offline server never pays.
        from core.ask.model import ModelWriter

        return ModelWriter.from_settings(settings, heartbeat)
    return TemplateWriter()


def template(grounds: Grounds) -> str:
    """The facts of the grounds, one to a line."""
    return "\n".join(grounds.facts)


CYCLE_ASKED = re.compile(r"\bcycle\s*#?\s*(\d{1,12})\b", re.IGNORECASE)
COACHING_ASKED = re.compile(r"\bcoach", re.IGNORECASE)
CHANGES_ASKED = re.compile(r"\b(chang|new\b|happen|updat|promot|archiv)", re.IGNORECASE)
KNOWS_ASKED = re.compile(r"\bknows?\b(?:\s+(?:about|of|on))?\s+(?P<about>.+)", re.IGNORECASE)
# How the audit log's actions read in an answer.
PAST = {"promote": "promoted", "archive": "archived", "refresh": "refreshed", "coach": "coached"}
PERIODS = (("today", 1), ("week", 7), ("month", 30), ("quarter", 91), ("year", 365))
HANDLE_CHARS = re.compile(r"[@a-z0-9][a-z0-9._-]*", re.IGNORECASE)


def understand(text: str, handles: Sequence[str], viewing: str | None = None) -> Question:
    """Which question the words ask; `handles` are the workspace's agents, `viewing` the
    agent of the channel the asker looks at (asked about when the question names none)."""
    text = " ".join(text.split())
    if len(text) > MAX_QUESTION:
        raise InvalidInput("question", f"is {len(text)} characters; ask in {MAX_QUESTION} or fewer")
    named = _handles_named(text, handles)
    agent = named[0] if named else viewing
    days = next((d for word, d in PERIODS if word in text.lower()), 7)
    cycle = CYCLE_ASKED.search(text)
    if cycle:
        return Question(
            text,
            Topic.CYCLE,
            agent,
            cycle_id=int(cycle.group(1)),
            to_agent=named[-1] if named else None,
        )
    knows = KNOWS_ASKED.search(text)
    if agent and knows:
        return Question(text, Topic.KNOWS, agent, about=knows.group("about").strip(" ?.!") or text)
    if COACHING_ASKED.search(text):
        return Question(text, Topic.COACHING, named[0] if named else None, days=days)
    if CHANGES_ASKED.search(text):
        lowered = text.lower()
        tiers = tuple(
            tier
            for tier, word in ((Tier.TEAM, "team"), (Tier.COMPANY, "company"))
            if word in lowered
        ) or (Tier.TEAM, Tier.COMPANY)
        return Question(text, Topic.CHANGES, named[0] if named else None, days=days, tiers=tiers)
    if named:  # an agent and other words: what it knows about them
        about = _without(text, named).strip(" ?.!")
        return Question(text, Topic.KNOWS, agent, about=about or "its objective")
    return Question(text, Topic.HELP, agent)


def _handles_named(text: str, handles: Sequence[str]) -> list[str]:
    """The agents' handles the text names, in the order it names them."""
    known = {handle.lower(): handle for handle in handles}
    words = (w.lstrip("@").rstrip(".,;:'s?!").lower() for w in HANDLE_CHARS.findall(text))
    return [known[w] for w in words if w in known]


def _without(text: str, handles: Sequence[str]) -> str:
    for handle in handles:
        text = re.sub(rf"@?{re.escape(handle)}('s)?", " ", text, flags=re.IGNORECASE)
    return " ".join(text.split())


def gather(
    session: Session, workspace: Workspace, text: str, by: Actor, viewing_channel: str | None
) -> Grounds:
    """The records of the workspace that answer the question, limited to what `by` may read."""
    agents = list(session.scalars(select(Agent).where(Agent.workspace_id == workspace.id)))
    viewing = next(
        (a.handle for a in agents if viewing_channel and a.report_channel == viewing_channel), None
    )
    question = understand(text, [a.handle for a in agents], viewing)
    principal = principal_for(session, workspace, by)
    by_handle = {a.handle: a for a in agents}
    if question.topic is Topic.KNOWS:
        return _knows(session, principal, question, by_handle[str(question.agent)])
    if question.topic is Topic.CYCLE:
        return _cycle(session, principal, question)
    if question.topic is Topic.COACHING:
        return _coaching(session, principal, question, by_handle.get(question.agent or ""))
    if question.topic is Topic.CHANGES:
        return _changes(session, principal, question)
    return Grounds(
        question,
        "What salesbrain can answer",
        ["Ask about the agents' memory, their cycles, coaching and the brains, for example:"]
        + [f"• {example}" for example in EXAMPLES]
        + ["To change memory: `/coach @agent <note>` coaches one; `/brain help` lists the rest."],
        [],
    )


class _Reading:
    """Blocks as records, their words shown only to who may read them."""

    def __init__(self, session: Session, principal: Principal) -> None:
        self.session = session
        self.principal = principal
        self.withheld = 0
        self._hidden: dict[str, int] = {}
        self._teams: dict[int, int] = {}

    def block(self, block: MemoryBlock, owner: str) -> Record:
        label = f"{block.type.value} · {block.tier.value} · {owner}"
        return self.described(
            block.id, block.type, block.tier, block.agent_id, label, block.content
        )

    def described(
        self,
        block_id: int,
        kind: BlockType,
        tier: Tier,
        agent_id: int | None,
        label: str,
        content: str,
        from_outside: bool = False,
    ) -> Record:
        if kind is BlockType.COACHING and tier is Tier.PERSONAL and not self._may_read(agent_id):
            self.withheld += 1
            self._hidden[content] = block_id
            return Record("block", block_id, label, "")
        return Record("block", block_id, label, content, from_outside)

    def _may_read(self, agent_id: int | None) -> bool:
        if agent_id is None:
            return True
        if agent_id not in self._teams:
            agent = self.session.get(Agent, agent_id)
            self._teams[agent_id] = agent.team_id if agent else -1
        return may_read_coaching(self.principal, self._teams[agent_id])

    def redacted(self, text: str) -> str:
        """Text with the words of the coaching notes withheld replaced by their ids."""
        for content, block_id in self._hidden.items():
            if content:
                text = text.replace(content, f"(coaching note block {block_id})")
        return text

    def notes(self) -> list[str]:
        if not self.withheld:
            return []
        notes = "1 coaching note" if self.withheld == 1 else f"{self.withheld} coaching notes"
        return [f"{notes} cited by id only: {WITHHELD.strip('()')}."]


def _words(record: Record) -> str:
    return f'"{_clip(record.text, 300)}"' if record.text else WITHHELD


def _clip(text: str, limit: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _knows(session: Session, principal: Principal, question: Question, agent: Agent) -> Grounds:
    assembled = assemble_context(session, agent, question.about)
    reading = _Reading(session, principal)
    records = []
    for b in assembled.blocks[:MAX_RECORDS]:
        owner = {Tier.PERSONAL: agent.handle, Tier.TEAM: agent.team.slug}.get(b.tier, "company")
        label = f"{b.type.value} · {b.tier.value} · {owner}"
        records.append(
            reading.described(
                b.id,
                b.type,
                b.tier,
                agent.id if b.tier is Tier.PERSONAL else None,
                label,
                b.content,
                b.from_outside,
            )
        )
    title = f"What {agent.handle} knows about {_clip(question.about, 80)}"
    if not records:
        return Grounds(
            question, title, [f"{agent.handle} holds nothing on {question.about!r} yet."], []
        )
    facts = [
        f"For {question.about!r}, {agent.handle} would see {len(records)} block(s), best first:"
    ] + [
        f"• [{r.ref}] {r.label} (score {b.score:.2f}): {_words(r)}"
        for r, b in zip(records, assembled.blocks, strict=False)
    ]
    return Grounds(question, title, facts, records, reading.notes())


def _cycle(session: Session, principal: Principal, question: Question) -> Grounds:
    assert question.cycle_id is not None
    cycle, handle = get_cycle(session, principal.workspace, question.cycle_id)
    reading = _Reading(session, principal)
    team = session.get(Team, session.get_one(Agent, cycle.agent_id).team_id)
    owners = {Tier.PERSONAL.value: handle, Tier.TEAM.value: team.slug if team else "team"}
    shaped = [
        reading.described(
            int(b["id"]),
            BlockType(b["type"]),
            Tier(b["tier"]),
            cycle.agent_id if b["tier"] == Tier.PERSONAL else None,
            f"{b['type']} · {b['tier']} · {owners.get(b['tier'], 'company')}",
            str(b.get("content", "")),
            bool(b.get("from_outside")),
        )
        for b in (cycle.context or {}).get("blocks", [])[:5]
    ]
    # The agent's own words (its report, its hand-offs) may quote the coaching it saw.
    said = reading.redacted(cycle.report)
    report = Record("cycle", cycle.id, f"{cycle.status.value} cycle of {handle}", said)
    facts = [
        f"[{report.ref}] {handle} worked on {_clip(cycle.task, 200)!r} "
        f"({cycle.status.value}, {cycle.started_at:%Y-%m-%d %H:%M} UTC)."
        + (f" Its report: {_clip(said, 400)!r}" if said else "")
    ]
    records = [report]
    handoffs = _handoffs(session, cycle)
    for task, to in handoffs:
        reason = _clip(reading.redacted(task.detail), 400) or "no reason given"
        records.append(Record("task", task.id, f"hand-off from {handle} to {to}", task.title))
        facts.append(
            f"It handed [task {task.id}] to {to}: {_clip(task.title, 200)!r}. Why: {reason!r}"
        )
    if question.to_agent not in (None, handle, *(to for _, to in handoffs)):
        facts.append(f"It handed nothing to {question.to_agent}.")
    if not handoffs and not question.to_agent:
        facts.append("It handed nothing off.")
    if shaped:
        facts.append("The memory that shaped it, best first:")
    facts.extend(f"• [{record.ref}] {record.label}: {_words(record)}" for record in shaped)
    title = f"Why cycle {cycle.id} of {handle} did what it did"
    return Grounds(question, title, facts, records + shaped, reading.notes())


def _handoffs(session: Session, cycle: Cycle) -> list[tuple[Task, str]]:
    ids = [int(i) for i in cycle.handoff_task_ids or []]
    if not ids:
        return []
    rows = session.execute(
        select(Task, Agent.handle)
        .join(Agent, Agent.id == Task.agent_id)
        .where(Task.id.in_(ids), Task.workspace_id == cycle.workspace_id)
        .order_by(Task.id)
    )
    return [(task, to) for task, to in rows]


@dataclass(frozen=True)
class CoachingOutcome:
    """What became of one coaching note over a period."""

    block: MemoryBlock
    agent: str
    cycles: list[int]  # the cycles of the period that saw it, newest first


def coaching_outcomes(
    session: Session, workspace: Workspace, since: datetime, agent: Agent | None = None
) -> list[CoachingOutcome]:
    """The active coaching notes and the cycles since `since` they informed, most used first.

    How often each note shaped a cycle; its effect on replies is core.impact's."""
    query = (
        select(MemoryBlock, Agent.handle)
        .join(Agent, Agent.id == MemoryBlock.agent_id)
        .where(
            MemoryBlock.workspace_id == workspace.id,
            MemoryBlock.type == BlockType.COACHING,
            MemoryBlock.tier == Tier.PERSONAL,
            MemoryBlock.status == BlockStatus.ACTIVE,
        )
    )
    if agent is not None:
        query = query.where(MemoryBlock.agent_id == agent.id)
    notes = list(session.execute(query))
    seen: dict[int, list[int]] = defaultdict(list)
    cycles = session.execute(
        select(Cycle.id, Cycle.context)
        .where(Cycle.workspace_id == workspace.id, Cycle.started_at >= since)
        .order_by(Cycle.id.desc())
        .limit(MAX_CYCLES_READ)
    )
    for cycle_id, context in cycles:
        for b in (context or {}).get("blocks", []):
            seen[int(b["id"])].append(cycle_id)
    outcomes = [CoachingOutcome(block, handle, seen.get(block.id, [])) for block, handle in notes]
    return sorted(outcomes, key=lambda o: (-len(o.cycles), -o.block.id))


def _coaching(
    session: Session, principal: Principal, question: Question, agent: Agent | None
) -> Grounds:
    since = clock.now() - timedelta(days=question.days)
    outcomes = coaching_outcomes(session, principal.workspace, since, agent)[:MAX_RECORDS]
    reading = _Reading(session, principal)
    title = f"Coaching since {since:%Y-%m-%d}" + (f" of {agent.handle}" if agent else "")
    if not outcomes:
        return Grounds(question, title, ["No active coaching notes."], [])
    facts = [
        "Each active coaching note: its measured impact on the agent's reply rate (sends "
        "written with it in context against without it and before it), and how often it "
        f"shaped a cycle since {since:%Y-%m-%d} (the notes that shaped the most cycles first):"
    ]
    records = []
    for outcome in outcomes:
        note = reading.block(outcome.block, outcome.agent)
        records.append(note)
        used = outcome.cycles[:3]
        records.extend(Record("cycle", c, f"cycle of {outcome.agent}", "") for c in used)
        example = f", e.g. {', '.join(f'[cycle {c}]' for c in used)}" if used else ""
        measured = impact.note_impact(session, principal.workspace, outcome.block)
        worked = f" Impact: {measured.headline()}" if measured else ""
        facts.append(
            f"• [{note.ref}] for {outcome.agent}: {len(outcome.cycles)} cycle(s) this period "
            f"({outcome.block.times_surfaced} in all){example}.{worked} {_words(note)}"
        )
    return Grounds(question, title, facts, _unique(records), reading.notes())


def _unique(records: list[Record]) -> list[Record]:
    return list({r.ref: r for r in records}.values())


def _changes(session: Session, principal: Principal, question: Question) -> Grounds:
    since = clock.now() - timedelta(days=question.days)
    workspace = principal.workspace
    blocks = list(
        session.scalars(
            select(MemoryBlock)
            .where(
                MemoryBlock.workspace_id == workspace.id,
                MemoryBlock.tier.in_(question.tiers),
                or_(MemoryBlock.created_at >= since, MemoryBlock.updated_at >= since),
            )
            .order_by(MemoryBlock.updated_at.desc(), MemoryBlock.id.desc())
            .limit(MAX_RECORDS)
        )
    )
    brains = " and ".join(f"{tier.value.title()} Brain" for tier in question.tiers)
    title = f"What changed in the {brains} since {since:%Y-%m-%d}"
    if not blocks:
        return Grounds(
            question, title, [f"Nothing changed in the {brains} since {since:%Y-%m-%d}."], []
        )
    events = _audit_trail(session, workspace, blocks, since)
    slugs = select(Team.id, Team.slug).where(Team.workspace_id == workspace.id)
    teams = {row.id: row.slug for row in session.execute(slugs)}
    reading = _Reading(session, principal)
    facts = [
        f"{len(blocks)} block(s) of the {brains} changed since {since:%Y-%m-%d}, newest first:"
    ]
    records = []
    for block in blocks:
        owner = teams.get(block.team_id or 0, "company") if block.tier is Tier.TEAM else "company"
        record = reading.block(block, owner)
        records.append(record)
        happened = _what_happened(block, events[f"block:{block.id}"], since)
        facts.append(f"• [{record.ref}] {record.label}: {happened}. {_words(record)}")
    return Grounds(question, title, facts, records, reading.notes())


def _audit_trail(
    session: Session, workspace: Workspace, blocks: list[MemoryBlock], since: datetime
) -> dict[str, list[AuditEvent]]:
    """The audit events of each block since `since`, by `block:ID`; a promotion is recorded
    on the original (`to team as block:ID`), so it is found through the copy's origin."""
    targets = {f"block:{b.id}" for b in blocks} | {
        f"block:{b.promoted_from_id}" for b in blocks if b.promoted_from_id
    }
    events: dict[str, list[AuditEvent]] = defaultdict(list)
    for event in session.scalars(
        select(AuditEvent)
        .where(
            AuditEvent.workspace_id == workspace.id,
            AuditEvent.at >= since,
            AuditEvent.outcome == "ok",
            AuditEvent.target.in_(targets),
        )
        .order_by(AuditEvent.id)
    ):
        copy = event.detail.rpartition(" as ")[2] if event.action == "promote" else ""
        events[copy or event.target].append(event)
    return events


def _done(event: AuditEvent) -> str:
    return PAST.get(event.action, event.action.replace("_", " "))


def _what_happened(block: MemoryBlock, events: list[AuditEvent], since: datetime) -> str:
    done = [
        f"{_done(e)} by {e.actor.partition(':')[2] or e.actor} on {e.at:%Y-%m-%d}" for e in events
    ]
    if block.promoted_from_id and block.created_at >= since and not done:
        done.append(
            f"promoted from [block {block.promoted_from_id}] on {block.created_at:%Y-%m-%d}"
        )
    if not done:
        done.append(
            ("new" if block.created_at >= since else "updated") + f" on {block.updated_at:%Y-%m-%d}"
        )
    if block.status is not BlockStatus.ACTIVE:
        done.append(f"now {block.status.value}")
    return "; ".join(done)


def written(grounds: Grounds, writer: AnswerWriter) -> Answer:
    """The answer to the grounds, in the writer's words (the template when there is
    nothing to write from: the model adds nothing to an empty record)."""
    if not grounds.records:
        return Answer(
            grounds.question, grounds.title, template(grounds), [], grounds.notes, "offline"
        )
    return Answer(
        grounds.question,
        grounds.title,
        writer.write(grounds),
        grounds.records,
        grounds.notes,
        writer.name,
    )
