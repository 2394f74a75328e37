"""The `offline` backend: deterministic reasoning over the assembled memory, no network.

It is the embedded default (the demo, the tests, a workspace without an API key), so it
reasons for real, only by rule instead of by model: it works the task the way the best
coaching in its context says, completes it, hands it on when the task is a teammate's to
finish, takes in new signal findings as rules to work by, and, as a director, proposes the
strongest of its team's learnings for the Team Brain and coaches a teammate with a finding
that holds for another agent. Change the memory and its answers change with it.

It records knowledge, never echoes: the outcome of a task it handed off is the task's
record (the next brain shows it), not a learning; and a rule taken from a finding quotes
the finding, so the write step confirms the finding's block instead of storing a copy
whose numbers would freeze (`core.restatements`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from core.heartbeat.backends import OFFLINE, Reasoning
from core.heartbeat.brain import Brain, Note
from core.heartbeat.tools import CallStatus, Toolbox
from core.models import AgentRole, BlockType
from core.rules import MAX_CONTENT
from core.signals.consolidation import quoted_value

# Work that belongs to a teammate: (the teammate's role, words in the task that say so).
ROUTES: dict[AgentRole, tuple[AgentRole, tuple[str, ...]]] = {
    AgentRole.SDR: (
        AgentRole.ACCOUNT_EXECUTIVE,
        ("replied", "reply", "interested", "meeting", "demo", "call back", "booked"),
    ),
    AgentRole.ACCOUNT_EXECUTIVE: (
        AgentRole.DIRECTOR,
        ("discount", "pricing exception", "contract terms", "legal review", "approval"),
    ),
    AgentRole.MARKETING_MANAGER: (
        AgentRole.AD_MANAGER,
        ("campaign", "ads", "audience", "paid", "budget"),
    ),
    AgentRole.AD_MANAGER: (
        AgentRole.MARKETING_MANAGER,
        ("landing page", "messaging", "copy", "content"),
    ),
    AgentRole.DIRECTOR: (AgentRole.SDR, ("outreach", "prospect list", "sequence")),
}

# How each role words the work it did on a task.
WORK = {
    AgentRole.SDR: "Wrote to the prospect",
    AgentRole.ACCOUNT_EXECUTIVE: "Ran the follow-up",
    AgentRole.MARKETING_MANAGER: "Drafted the plan",
    AgentRole.AD_MANAGER: "Set up the campaign change",
    AgentRole.DIRECTOR: "Reviewed it with the team",
}

HANDOFF_VERBS = {
    AgentRole.ACCOUNT_EXECUTIVE: "Follow up",
    AgentRole.DIRECTOR: "Approve",
    AgentRole.AD_MANAGER: "Run",
    AgentRole.MARKETING_MANAGER: "Rework",
    AgentRole.SDR: "Prospect",
}

# What an agent records from its own work stays well below coaching (0.9).
LEARNING_IMPORTANCE = 0.55


@dataclass(frozen=True)
class Guide:
    """The memory block that shapes how the task is worked."""

    id: int
    type: str
    content: str
    score: float

    def describe(self) -> str:
        return f"{self.type} #{self.id} (score {self.score:.2f}): “{gist(self.content)}”"


class OfflineBackend:
    """Rule-based reasoning over the brain; the same memory always gives the same answer."""

    name = OFFLINE

    def reason(self, brain: Brain, toolbox: Toolbox, *, seconds_left: float) -> Reasoning:
        guide = choose_guide(brain)
        approach = f"applying {guide.describe()}" if guide else "with no guidance in memory yet"
        if brain.task is not None:
            toolbox.call(
                "complete_task",
                {"task_id": brain.task.id, "outcome": f"{WORK[brain.role]}, {approach}"},
            )
            self._hand_on(brain, toolbox, guide)
        self._learn(brain, toolbox)
        if brain.role is AgentRole.DIRECTOR:
            self._promote(brain, toolbox)
            self._coach(brain, toolbox)
            self._refresh(brain, toolbox)
        subject = f"“{brain.task.title}”" if brain.task else f"the objective “{brain.objective}”"
        summary = f"Worked on {subject} {approach}." + "".join(
            f" Team brain block {copy.block_id} no longer matches its finding: a manager may"
            f" archive it (/brain forget {copy.block_id})."
            for copy in brain.stale
            if copy.action == "archive"
        )
        actions = [
            _action(c.name, c.input) for c in toolbox.calls if c.status is CallStatus.ACCEPTED
        ]
        toolbox.call("finish_cycle", {"summary": summary[:MAX_CONTENT], "actions": actions})
        return Reasoning(self.name, brain.model)

    def _hand_on(self, brain: Brain, toolbox: Toolbox, guide: Guide | None) -> None:
        assert brain.task is not None
        route = ROUTES.get(brain.role)
        if route is None:
            return
        target_role, words = route
        text = brain.task.text.lower()
        if not any(re.search(rf"\b{re.escape(word)}\b", text) for word in words):
            return
        if brain.task.from_agent and brain.teammates.get(brain.task.from_agent) == target_role:
            return  # it came from that teammate: do not send it straight back
        targets = sorted(h for h, role in brain.teammates.items() if role == target_role)
        if not targets:
            return
        detail = f"Handed on by {brain.handle}."
        if guide is not None:
            detail += f" Keep to {guide.describe()}."
        if brain.task.detail:
            detail += f"\n{brain.task.detail}"
        toolbox.call(
            "handoff_task",
            {
                "to_agent": targets[0],
                "title": f"{HANDOFF_VERBS[target_role]}: {brain.task.title}"[:500],
                "detail": detail[:4000],
            },
        )

    def _learn(self, brain: Brain, toolbox: Toolbox) -> None:
        known = {block.content for block in brain.context.blocks} | brain.own_learnings
        recorded = 0
        for content, evidence in _lessons(brain):
            # A finding that moved (new numbers) restates a rule already learned: skip it.
            rule = content.split(": ", 1)[0]
            if any(text == content or text.startswith(rule + ": ") for text in known):
                continue
            toolbox.call(
                "record_learning",
                {"content": content, "importance": LEARNING_IMPORTANCE, "evidence": evidence},
            )
            recorded += 1
            if recorded == toolbox.max_learnings:  # the strongest first, up to the cap
                return

    def _promote(self, brain: Brain, toolbox: Toolbox) -> None:
        for candidate in brain.candidates:  # best supported first
            call = toolbox.call(
                "propose_promotion", {"block_id": candidate.block_id, "reason": candidate.reason}
            )
            if call.status is CallStatus.ACCEPTED:
                return  # one promotion per cycle: the strongest that may go

    def _coach(self, brain: Brain, toolbox: Toolbox) -> None:
        """A rule a finding gives, for a teammate it does not hold for yet. The note names the
        rule and the finding, not its numbers: they would freeze while the finding moves on."""
        for lead in brain.coaching_leads:  # the strongest finding first
            if lead.dimension not in RULES:
                continue
            rule = RULES[lead.dimension].format(value=quoted_value(lead.value))
            holders = " and ".join(lead.holders)
            rule = rule[:1].lower() + rule[1:]
            note = f"From {holders}'s results (finding block {lead.block_id}): {rule}."
            arguments = {
                "agent": lead.agent,
                "note": note,
                "evidence": lead.evidence,
                "finding": lead.block_id,
            }
            if toolbox.call("coach_agent", arguments).status is CallStatus.ACCEPTED:
                return  # one note per cycle: a manager reads each

    def _refresh(self, brain: Brain, toolbox: Toolbox) -> None:
        for copy in brain.stale:
            if copy.action == "refresh":
                toolbox.call("refresh_team_copy", {"block_id": copy.block_id})


def choose_guide(brain: Brain) -> Guide | None:
    """The best coaching in context (coaching written since the last cycle counts even when
    the token budget left it out); without coaching, the best block of any type."""
    blocks = brain.context.blocks
    coaching = [
        Guide(b.id, str(b.type), b.content, b.score) for b in blocks if b.type == BlockType.COACHING
    ]
    seen = {block.id for block in blocks}
    coaching += [_note_guide(note) for note in brain.new_coaching if note.id not in seen]
    if coaching:
        return max(coaching, key=lambda guide: (guide.score, -guide.id))
    if blocks:
        best = blocks[0]
        return Guide(best.id, str(best.type), best.content, best.score)
    return None


def _note_guide(note: Note) -> Guide:
    return Guide(note.id, note.type.value, note.content, note.importance)


# What an agent resolves to do about a signal finding, by what the finding is about.
RULES = {
    "subject_format": 'Write "{value}" subject lines',
    "segment": 'Prioritise prospects in the "{value}" segment',
    "industry": 'Prioritise prospects in the "{value}" industry',
    "template": 'Ask for meetings with the "{value}" template',
    "objection": 'Answer the "{value}" objection up front',
}


def _lessons(brain: Brain) -> list[tuple[str, str]]:
    """What this cycle taught, strongest first: the rules its new findings give."""
    lessons = []
    for finding in sorted(brain.findings, key=lambda n: (-n.importance, n.id)):
        if finding.subject is None or finding.subject[0] not in RULES:
            continue
        dimension, value = finding.subject
        rule = RULES[dimension].format(value=quoted_value(value))
        lessons.append((f"{rule}: {finding.content}", f"signal finding block {finding.id}"))
    return lessons


def _action(name: str, arguments: dict[str, object]) -> str:
    if name == "complete_task":
        return f"completed task {arguments.get('task_id')}"
    if name == "handoff_task":
        return f"handed “{arguments.get('title')}” to {arguments.get('to_agent')}"
    if name == "record_learning":  # a new block, or a confirmation of one (when written)
        return f"learned: {gist(str(arguments.get('content')), 80)}"
    if name == "propose_promotion":
        return f"proposed block {arguments.get('block_id')} for the team brain"
    if name == "coach_agent":
        return f"coached {arguments.get('agent')}: {gist(str(arguments.get('note')), 80)}"
    if name == "refresh_team_copy":
        return f"refreshed team brain block {arguments.get('block_id')} from its finding"
    return name


def gist(text: str, width: int = 90) -> str:
    """The first sentence of a text, at most `width` characters, on one line."""
    line = " ".join(text.split())
    sentence = re.split(r"(?<=[.!?])\s", line, maxsplit=1)[0]
    return sentence if len(sentence) <= width else sentence[: width - 1].rstrip() + "…"
