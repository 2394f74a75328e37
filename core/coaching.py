"""Coaching: notes written by people (or a director agent) on an agent's Personal Brain.

Every surface coaches through `coach`, a batch of notes: the command line and the form with
one note, /coach with the notes that arrived together. Each note is checked on its own (the
note's rules, the agent it names, its author's right to coach that agent); the good ones are
stored in one flush, each audited as its author's.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

from sqlalchemy.orm import Session

from core import audit, deliveries, rules
from core.directory import agents_by_handle, get_agent, mentioned_agent
from core.errors import DomainError
from core.memory import DEFAULT_IMPORTANCE, DIRECTOR_COACHING_IMPORTANCE, new_block, source_of
from core.models import Agent, BlockType, MemoryBlock, Tier, Workspace
from core.permissions import Actor, ActorKind, Principal, check_coach, principal_for


@dataclass(frozen=True)
class CoachingNote:
    """A note to store: for `agent` (a handle), or for the agent the text starts with
    (`@sdr-emea Lead with compliance`); a `delivery` (a Slack trigger id) is stored once."""

    text: str
    by: Actor
    agent: str | None = None
    type: str | BlockType = BlockType.COACHING
    importance: float | None = None
    source_ref: str | None = None
    delivery: str | None = None
    # What the note rests on (a director cites findings or impact figures).
    evidence: dict[str, Any] | None = None


class Coaching(NamedTuple):
    """A stored coaching note: its block, the agent it reaches, and who wrote it."""

    block: MemoryBlock
    agent: Agent
    by: Actor


Outcome = Coaching | DomainError | None


def coach(session: Session, workspace: Workspace, notes: Sequence[CoachingNote]) -> list[Outcome]:
    """Check each note and store the good ones together, in one flush.

    For each note: its coaching; None when its delivery was stored before (or comes twice
    here); or the error that refuses it, with nothing written for it (the caller audits
    refusals)."""
    delivered = deliveries.delivered(session, workspace, [n.delivery for n in notes if n.delivery])
    named = [note.text for note in notes if note.agent is None]
    by_handle = agents_by_handle(session, workspace, named) if named else {}
    principals: dict[Actor, Principal] = {}
    outcomes: list[Outcome] = []
    for note in notes:
        if note.delivery is not None and note.delivery in delivered:
            outcomes.append(None)
            continue
        if note.delivery is not None:
            delivered.add(note.delivery)  # the same delivery later in this batch
        if note.by not in principals:
            principals[note.by] = principal_for(session, workspace, note.by)
        outcomes.append(_checked(session, workspace, note, by_handle, principals[note.by]))
    stored = [(n, o) for n, o in zip(notes, outcomes, strict=True) if isinstance(o, Coaching)]
    session.add_all([coaching.block for _, coaching in stored])
    session.flush()
    for _, (block, agent, by) in stored:
        audit.record(session, workspace, by, "coach", f"block:{block.id}", f"agent:{agent.handle}")
    deliveries.remember_deliveries(
        session, workspace, [n.delivery for n, _ in stored if n.delivery]
    )
    return outcomes


def coach_one(
    session: Session,
    workspace: Workspace,
    agent: str,
    text: str,
    *,
    by: Actor,
    type: str | BlockType = BlockType.COACHING,
    importance: float | None = None,
    source_ref: str | None = None,
) -> MemoryBlock:
    """One note through `coach`, its error raised: for set-ups (the demo, tests)."""
    note = CoachingNote(text, by, agent, type, importance, source_ref)
    [outcome] = coach(session, workspace, [note])
    if isinstance(outcome, DomainError):
        raise outcome
    assert outcome is not None  # no delivery, so never "stored before"
    return outcome.block


def _checked(
    session: Session,
    workspace: Workspace,
    note: CoachingNote,
    by_handle: Mapping[str, Agent | None],
    principal: Principal,
) -> Coaching | DomainError:
    try:
        agent: Agent | None = None
        text = note.text
        if note.agent is None:
            agent, text = mentioned_agent(session, workspace, note.text, by_handle)
        block_type = rules.choice(BlockType, note.type, "type")
        content = rules.content(text, "note")
        default = DEFAULT_IMPORTANCE[block_type]
        weight = rules.importance(default if note.importance is None else note.importance)
        if note.by.kind is ActorKind.AGENT:  # a director's note ranks below a person's
            weight = min(weight, DIRECTOR_COACHING_IMPORTANCE)
        if agent is None:
            agent = get_agent(session, workspace, note.agent or "")
        check_coach(principal, agent)
    except DomainError as error:
        return error
    block = new_block(
        workspace,
        tier=Tier.PERSONAL,
        agent=agent,
        type=block_type,
        content=content,
        importance=weight,
        source=source_of(note.by, note.source_ref),
        evidence=note.evidence,
    )
    return Coaching(block, agent, note.by)
