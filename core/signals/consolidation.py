"""Consolidation, not accumulation: one block per finding, kept current, superseded at need.

Each finding has a stable key: its scope (an agent, or a team's pooled signals), metric,
dimension and value. The first time it holds, a block is written on the owner's Personal
Brain (the agent's learning; for a team, a pattern on its director agent's brain, which
the director may promote). While it keeps holding, the same block is updated in place
(content, evidence, importance, updated_at). When the data stops supporting it, the block
is superseded with the reason; should it hold again later, a new block supersedes that one.
A block a person archived is left archived.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from core import audit, clock, memory, restatements
from core.models import (
    Agent,
    BlockStatus,
    BlockType,
    Finding,
    MemoryBlock,
    Signal,
    SignalType,
    SourceKind,
    Team,
    Tier,
    Workspace,
)
from core.permissions import Actor, check_write_learning, principal_for
from core.signals.stats import Group, Stratum, Thresholds, Verdict, judge
from core.signals.tally import MEASURES, OBJECTIONS, Measure, Tally

# salesbrain's own analysis: it may write an agent's learnings, never coaching.
ANALYST = Actor.system("signals", origin="analysis")
# Inference stays below coaching; a finding starts at the floor and grows with its strength.
IMPORTANCE_FLOOR = 0.4
EXAMPLES = 3
EXAMPLE_CHARS = 280


@dataclass
class Scope:
    """Whose signals a finding is about, the brain it is written to, and their counts."""

    key: str  # "agent:<id>" or "team:<id>"
    label: str  # "sdr-emea" or "team emea"
    owner: Agent  # whose Personal Brain holds the blocks: the agent, or the team's director
    agent_ids: list[int]
    team: Team | None = None
    tally: Tally = field(default_factory=Tally)
    strata: list[Tally] = field(default_factory=list)  # each contributing agent's counts
    agents: int = 0  # how many agents' signals the counts pool
    holding: int = 0

    @property
    def block_type(self) -> BlockType:
        return BlockType.PATTERN if self.team is not None else BlockType.LEARNING


@dataclass(frozen=True)
class Change:
    """What analysis did to one finding's block: `new`, `updated` or `superseded`."""

    action: str
    block: MemoryBlock
    finding: str


def consolidate(
    session: Session, workspace: Workspace, scope: Scope, thresholds: Thresholds
) -> Iterator[Change]:
    """Bring the scope's finding blocks in line with its counts."""
    findings = _findings_of(session, workspace, scope)
    blocks = _blocks_of(session, findings.values())
    groups = {
        _key(scope, measure, value): (measure, value) for measure, value in _groups(scope.tally)
    }
    for known in findings.values():
        groups.setdefault(known.key, (_measure(known), known.value))
    keys = sorted(groups)
    # One family: Holm's correction runs across every group this analysis tests.
    verdicts = _judge(scope.tally, scope.strata, [groups[key] for key in keys], thresholds)
    for key, verdict in zip(keys, verdicts, strict=True):
        measure, value = groups[key]
        existing = findings.get(key)
        if verdict.holds:
            scope.holding += 1
        elif existing is None:
            continue  # a group that never held: nothing to keep
        block = blocks.get(existing.block_id or 0) if existing is not None else None
        change = _settle(session, workspace, scope, key, (measure, value), verdict, block)
        finding = existing or _new_finding(session, workspace, scope, key, measure, value)
        if existing is None or _moved(finding, verdict):
            _record(finding, verdict)
        if change is not None:
            finding.block_id = change.block.id
            yield change


def _settle(
    session: Session,
    workspace: Workspace,
    scope: Scope,
    key: str,
    group: tuple[Measure, str],
    verdict: Verdict,
    block: MemoryBlock | None,
) -> Change | None:
    """One finding's block: written, refreshed, superseded, or left as it is."""
    if block is not None and block.status is BlockStatus.ACTIVE:
        if not verdict.holds:
            _supersede(session, workspace, scope, block, group, verdict)
            return Change("superseded", block, key)
        if _evidence_moved(block, verdict):
            _refresh(session, workspace, scope, block, group, verdict)
            return Change("updated", block, key)
        return None
    if verdict.holds and (block is None or block.status is BlockStatus.SUPERSEDED):
        return Change("new", _write(session, workspace, scope, key, group, verdict, block), key)
    # A block a person archived stays archived, whatever the data says.
    return None


def _groups(tally: Tally) -> Iterator[tuple[Measure, str]]:
    for measure in MEASURES:
        for value in tally.values(measure):
            yield measure, value


def judge_tallies(
    strata: Sequence[Tally], thresholds: Thresholds
) -> dict[tuple[Measure, str], Verdict]:
    """Every group of some agents' counts, judged as one analysis would (for simulations)."""
    pooled = Tally.pooled(strata)
    groups = list(_groups(pooled))
    return dict(zip(groups, _judge(pooled, strata, groups, thresholds), strict=True))


def _judge(
    pooled: Tally,
    strata: Sequence[Tally],
    groups: list[tuple[Measure, str]],
    thresholds: Thresholds,
) -> list[Verdict]:
    return judge([_group(pooled, strata, *group, thresholds) for group in groups], thresholds)


def _group(
    pooled: Tally, strata: Sequence[Tally], measure: Measure, value: str, thresholds: Thresholds
) -> Group:
    """What the test of one group rests on: the pooled counts and each agent's own."""
    successes, n = pooled.observed(measure, value)
    parts = []
    for tally in strata:
        agent_successes, agent_n = tally.observed(measure, value)
        parts.append(Stratum(agent_successes, agent_n, *tally.overall(measure)))
    return Group(
        successes,
        n,
        _baseline(pooled, measure, thresholds),
        tuple(parts),
        pooled.span_days(measure, value),
        against_floor=measure is OBJECTIONS,
    )


def _measure(finding: Finding) -> Measure:
    return next(
        measure
        for measure in MEASURES
        if (measure.metric, measure.dimension) == (finding.metric, finding.dimension)
    )


def _baseline(tally: Tally, measure: Measure, thresholds: Thresholds) -> float:
    if measure is OBJECTIONS:
        return thresholds.objection_share
    successes, n = tally.overall(measure)
    return successes / n if n else 0.0


def _key(scope: Scope, measure: Measure, value: str) -> str:
    return f"{scope.key}/{measure.metric}/{measure.dimension}/{value}"


def _moved(finding: Finding, verdict: Verdict) -> bool:
    """The finding's stored numbers differ from the verdict's."""
    stored = (finding.holds, finding.n, finding.successes, finding.baseline)
    return stored != (verdict.holds, verdict.n, verdict.successes, verdict.baseline)


def _evidence_moved(block: MemoryBlock, verdict: Verdict) -> bool:
    evidence = block.evidence or {}
    stored = (evidence.get("n"), evidence.get("successes"), evidence.get("baseline"))
    return stored != (verdict.n, verdict.successes, round(verdict.baseline, 4))


def _findings_of(session: Session, workspace: Workspace, scope: Scope) -> dict[str, Finding]:
    owner = (
        Finding.team_id == scope.team.id
        if scope.team is not None
        else Finding.agent_id == scope.agent_ids[0]
    )
    query = select(Finding).where(Finding.workspace_id == workspace.id, owner)
    return {finding.key: finding for finding in session.scalars(query)}


def _blocks_of(session: Session, findings: Iterable[Finding]) -> dict[int, MemoryBlock]:
    ids = [finding.block_id for finding in findings if finding.block_id is not None]
    if not ids:
        return {}
    return {
        block.id: block
        for block in session.scalars(select(MemoryBlock).where(MemoryBlock.id.in_(ids)))
    }


def _new_finding(
    session: Session, workspace: Workspace, scope: Scope, key: str, measure: Measure, value: str
) -> Finding:
    finding = Finding(
        workspace_id=workspace.id,
        key=key,
        agent_id=None if scope.team is not None else scope.agent_ids[0],
        team_id=scope.team.id if scope.team is not None else None,
        metric=measure.metric,
        dimension=measure.dimension,
        value=value,
        created_at=clock.now(),
    )
    session.add(finding)
    return finding


def _record(finding: Finding, verdict: Verdict) -> None:
    finding.holds = verdict.holds
    finding.n, finding.successes = verdict.n, verdict.successes
    finding.baseline, finding.low, finding.high = verdict.baseline, verdict.low, verdict.high
    finding.updated_at = clock.now()


def _write(
    session: Session,
    workspace: Workspace,
    scope: Scope,
    key: str,
    group: tuple[Measure, str],
    verdict: Verdict,
    previous: MemoryBlock | None,
) -> MemoryBlock:
    measure, value = group
    block = memory.write_learning(
        session,
        workspace,
        scope.owner,
        statement(scope, group, verdict),
        by=ANALYST,
        importance=importance(verdict),
        type=scope.block_type,
        evidence=_evidence(session, scope, key, group, verdict),
        source_kind=SourceKind.SIGNAL_ANALYSIS,
        source_ref=f"finding:{key}",
        subject={"segment": value} if measure.dimension == "segment" else None,
    )
    if previous is not None:
        block.supersedes_id = previous.id
    return block


def _refresh(
    session: Session,
    workspace: Workspace,
    scope: Scope,
    block: MemoryBlock,
    group: tuple[Measure, str],
    verdict: Verdict,
) -> None:
    """The same finding on more data: the block says the new numbers and stays fresh."""
    _check_may_write(session, workspace, scope)
    key = (block.evidence or {}).get("finding", "")
    derived = _derived(session, workspace, scope, block)
    was = block.content
    block.content = statement(scope, group, verdict)
    block.evidence = _evidence(session, scope, key, group, verdict)
    block.importance = importance(verdict)
    block.updated_at = clock.now()
    audit.record(session, workspace, ANALYST, "signals.update", f"block:{block.id}", key)
    for learning in derived:
        quoted = learning.content.replace(was, block.content)
        if quoted == learning.content:  # a paraphrase: its figures follow the finding's
            quoted = restatements.with_figures_of(was, block.content, learning.content)
        learning.content = quoted
        learning.importance = min(learning.importance, block.importance)
        learning.updated_at = block.updated_at
        detail = f"follows block:{block.id}"
        audit.record(session, workspace, ANALYST, "signals.update", f"block:{learning.id}", detail)


def _supersede(
    session: Session,
    workspace: Workspace,
    scope: Scope,
    block: MemoryBlock,
    group: tuple[Measure, str],
    verdict: Verdict,
) -> None:
    """The data no longer supports the finding: the block stays on record, superseded."""
    _check_may_write(session, workspace, scope)
    block.status = BlockStatus.SUPERSEDED
    block.status_reason = f"No longer supported by the signals ({verdict.why_not}): " + statement(
        scope, group, verdict
    )
    block.updated_at = clock.now()
    audit.record(
        session, workspace, ANALYST, "signals.supersede", f"block:{block.id}", block.status_reason
    )
    for learning in _derived(session, workspace, scope, block):
        learning.status = BlockStatus.SUPERSEDED
        learning.status_reason = f"Its finding (block {block.id}) was superseded: " + (
            block.status_reason
        )
        learning.updated_at = block.updated_at
        audit.record(
            session,
            workspace,
            ANALYST,
            "signals.supersede",
            f"block:{learning.id}",
            f"follows block:{block.id}",
        )


def _derived(
    session: Session, workspace: Workspace, scope: Scope, block: MemoryBlock
) -> list[MemoryBlock]:
    """The owner's own active learnings that quote the finding's block whole (copies written
    before `core.restatements` confirmed such restatements instead), or that were linked to
    it as paraphrases when written: they follow it."""
    learnings = session.scalars(
        select(MemoryBlock).where(
            MemoryBlock.workspace_id == workspace.id,
            MemoryBlock.agent_id == scope.owner.id,
            MemoryBlock.tier == Tier.PERSONAL,
            MemoryBlock.status == BlockStatus.ACTIVE,
            MemoryBlock.source_kind == SourceKind.AGENT_CYCLE,
        )
    )
    return [
        learning
        for learning in learnings
        if block.content in learning.content
        or (learning.evidence or {}).get("derived_from") == block.id
    ]


def _check_may_write(session: Session, workspace: Workspace, scope: Scope) -> None:
    """Changing a finding's block is writing a learning: the same rule as writing one."""
    check_write_learning(principal_for(session, workspace, ANALYST), scope.owner)


def importance(verdict: Verdict) -> float:
    """From the floor up to the inferred ceiling (0.7) as the finding grows stronger."""
    ceiling = memory.MAX_INFERRED_IMPORTANCE
    return round(IMPORTANCE_FLOOR + (ceiling - IMPORTANCE_FLOOR) * min(1.0, verdict.strength), 3)


def percent(rate: float) -> str:
    """41 for 41%, 4.1 for 4.1%: whole percents, a decimal under ten."""
    value = rate * 100
    return f"{value:.0f}" if value >= 9.95 or value == 0 else f"{value:.1f}"


PHRASES = {
    "subject_format": 'subject lines in the "{value}" format open at {rate}',
    "segment": 'prospects in the "{value}" segment reply at {rate}',
    "industry": 'prospects in the "{value}" industry reply at {rate}',
    "template": 'the "{value}" template books meetings at {rate}',
}


# An imported category quoted in a finding's words: letters, digits and a little punctuation
# (no quotes, brackets or markers), at most this long; anything else becomes a space.
MAX_QUOTED_VALUE = 40
_NOT_QUOTABLE = re.compile(r"[^\w &+,./:%'-]+")


def quoted_value(value: str) -> str:
    """An imported categorical value (objection, segment, industry...) bounded in charset and
    length before it becomes block content: it names a group and can carry no instruction."""
    plain = _NOT_QUOTABLE.sub(" ", unicodedata.normalize("NFKC", value).replace("_", " "))
    words = " ".join(plain.split()) or "?"
    return words if len(words) <= MAX_QUOTED_VALUE else words[: MAX_QUOTED_VALUE - 1] + "…"


def statement(scope: Scope, group: tuple[Measure, str], verdict: Verdict) -> str:
    """The finding in plain words with its numbers."""
    measure, raw = group
    value = quoted_value(raw)
    interval = f"{verdict.confidence:.0%} CI {percent(verdict.low)}-{percent(verdict.high)}%"
    if measure is OBJECTIONS:
        text = (
            f'the "{value}" objection comes up in {percent(verdict.rate)}% of replies '
            f"({verdict.successes:,} of {verdict.n:,}, {interval})."
        )
    else:
        phrase = PHRASES[measure.dimension].format(value=value, rate=percent(verdict.rate) + "%")
        text = f"{phrase} vs {percent(verdict.baseline)}% overall (n={verdict.n:,}, {interval})."
    if scope.team is not None:
        return f"Across team {scope.team.slug} ({scope.agents} agents), {text}"
    return text[0].upper() + text[1:]


def _evidence(
    session: Session,
    scope: Scope,
    key: str,
    group: tuple[Measure, str],
    verdict: Verdict,
) -> dict[str, Any]:
    """What the finding rests on (n is also given as `observations`, DESIGN's word)."""
    measure, value = group
    evidence: dict[str, Any] = {
        "finding": key,
        "scope": scope.label,
        "metric": measure.metric,
        "dimension": measure.dimension,
        "value": value,
        "n": verdict.n,
        "observations": verdict.n,
        "successes": verdict.successes,
        "rate": round(verdict.rate, 4),
        "baseline": round(verdict.baseline, 4),
        "interval": [round(verdict.low, 4), round(verdict.high, 4)],
        "confidence": verdict.confidence,
        # One-sided, before Holm's correction across the `tested` groups of the analysis.
        "p_value": float(f"{verdict.p_value:.3g}"),
        "test": _test_name(measure, scope),
        "tested": verdict.tested,
        "span_days": round(verdict.span_days, 1),
        "agents": scope.agents,
        "signals_through": scope.tally.last_signal_id,
    }
    if measure is OBJECTIONS:
        evidence["baseline_kind"] = "floor"
        evidence["prospect_replies"] = _examples(session, scope, value)
    return evidence


def _test_name(measure: Measure, scope: Scope) -> str:
    if measure is OBJECTIONS:
        return "binomial"
    return "cochran-mantel-haenszel" if len(scope.strata) > 1 else "fisher"


def _examples(session: Session, scope: Scope, objection: str) -> list[dict[str, str]]:
    """The latest replies that raised the objection: prospect text, kept as data only."""
    rows = session.execute(
        select(Signal.external_id, Signal.reply_text)
        .where(
            Signal.agent_id.in_(scope.agent_ids),
            Signal.type == SignalType.EMAIL_REPLIED,
            Signal.objection == objection,
            Signal.reply_text.is_not(None),
        )
        .order_by(Signal.id.desc())
        .limit(EXAMPLES)
    )
    return [{"signal": signal, "text": (text or "")[:EXAMPLE_CHARS]} for signal, text in rows]
