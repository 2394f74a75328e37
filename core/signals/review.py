"""The director's review: which learnings of a team's Personal Brains qualify for its Team Brain.

A finding qualifies when it holds for `promote_min_agents` or more agents of the team (the
same metric, dimension and value), or when one agent's finding (or the team's pooled
finding on the director's brain) has strong evidence: `strong_min_group` observations and
an interval at `strong_confidence` still above the baseline. For the team's pooled finding
that interval would mix the agents' baselines, so its evidence is its test within each
agent (Cochran-Mantel-Haenszel, `core.signals.stats`) at the matching level; a pooled
finding that only mixed baselines does not hold in the first place. A finding already on
the Team Brain (promoted from any of its blocks, even if that copy was archived since) is
not proposed again. Promotion itself is `core.memory.promote` with the director as actor.

The Team Brain's copy of a finding does not follow the finding (only promotion writes the
Team Brain): `stale_copies` lists the copies whose finding has moved on since, for the
director or a manager to refresh (`core.memory.refresh`) or archive.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from core.directory import get_team
from core.models import Agent, BlockStatus, Finding, MemoryBlock, SourceKind, Team, Tier, Workspace
from core.signals.consolidation import percent
from core.signals.stats import Thresholds, Verdict, one_sided, wilson, z_score


@dataclass(frozen=True)
class PromotionCandidate:
    """A block the director may promote to the Team Brain, why, and what it rests on."""

    block_id: int
    content: str
    reason: str
    evidence: dict[str, Any]


def review_team(
    session: Session,
    workspace: Workspace,
    team: Team | str,
    thresholds: Thresholds | None = None,
) -> list[PromotionCandidate]:
    """Promotion candidates for a team's Team Brain, the best supported first."""
    thresholds = thresholds or Thresholds.of(workspace)
    if isinstance(team, str):
        team = get_team(session, workspace, team)
    handles, findings = _team_findings(session, workspace, team)
    blocks = _blocks(session, (finding.block_id for finding in findings))
    promoted = _promoted_findings(session, workspace, findings)
    candidates: list[tuple[tuple[int, float], PromotionCandidate]] = []
    for group in _by_finding(findings).values():
        if any(finding.key in promoted for finding in group):
            continue
        live = [
            finding
            for finding in group
            if finding.holds
            and finding.block_id in blocks
            and blocks[finding.block_id].status is BlockStatus.ACTIVE
        ]
        chosen = _qualify(live, handles, team, thresholds, blocks)
        if chosen is not None:
            rank, finding, reason, evidence = chosen
            block = blocks[finding.block_id or 0]
            candidate = PromotionCandidate(block.id, block.content, reason, evidence)
            candidates.append(((rank, -_verdict(finding).strength), candidate))
    return [candidate for _, candidate in sorted(candidates, key=lambda pair: pair[0])]


@dataclass(frozen=True)
class StaleCopy:
    """A Team Brain block copied from one of the team's findings that has moved on since."""

    block_id: int
    content: str
    finding: str  # metric/dimension/value
    reason: str
    action: str  # "refresh" (the finding says something new) or "archive"
    current_id: int | None  # the finding's block now, while it holds


def stale_copies(session: Session, workspace: Workspace, team: Team | str) -> list[StaleCopy]:
    """The team's active Team Brain copies of findings that no longer say what the finding says."""
    if isinstance(team, str):
        team = get_team(session, workspace, team)
    _, findings = _team_findings(session, workspace, team)
    by_ref = {f"finding:{finding.key}": finding for finding in findings}
    if not by_ref:
        return []
    versions = {
        block.id: block
        for block in session.scalars(
            select(MemoryBlock).where(
                MemoryBlock.workspace_id == workspace.id,
                MemoryBlock.source_kind == SourceKind.SIGNAL_ANALYSIS,
                MemoryBlock.source_ref.in_(by_ref),
            )
        )
    }
    copies = session.scalars(
        select(MemoryBlock)
        .where(
            MemoryBlock.promoted_from_id.in_(versions),
            MemoryBlock.tier == Tier.TEAM,
            MemoryBlock.team_id == team.id,
            MemoryBlock.status == BlockStatus.ACTIVE,
        )
        .order_by(MemoryBlock.id)
    )
    stale = []
    for copy in copies:
        original = versions[copy.promoted_from_id or 0]
        finding = by_ref[original.source_ref or ""]
        current = versions.get(finding.block_id or 0)
        name = f"{finding.metric}/{finding.dimension}/{finding.value}"
        if current is None or current.status is not BlockStatus.ACTIVE:
            gone = current or original
            why = f": {gone.status_reason}" if gone.status_reason else ""
            reason = f"block {gone.id} of its finding is {gone.status.value}{why}"
            stale.append(StaleCopy(copy.id, copy.content, name, reason, "archive", None))
        elif current.id != original.id:
            reason = f"its finding holds again as block {current.id}: {current.content}"
            stale.append(StaleCopy(copy.id, copy.content, name, reason, "archive", current.id))
        elif current.content != copy.content:
            reason = f"its finding now says: {current.content}"
            stale.append(StaleCopy(copy.id, copy.content, name, reason, "refresh", current.id))
    return stale


def _team_findings(
    session: Session, workspace: Workspace, team: Team
) -> tuple[dict[int, str], list[Finding]]:
    """The team's agents (id -> handle) and the findings about them or the team's pool."""
    agents = session.execute(
        select(Agent.id, Agent.handle).where(
            Agent.workspace_id == workspace.id, Agent.team_id == team.id
        )
    )
    handles = {agent_id: handle for agent_id, handle in agents}
    findings = session.scalars(
        select(Finding)
        .where(
            Finding.workspace_id == workspace.id,
            or_(Finding.agent_id.in_(list(handles)), Finding.team_id == team.id),
        )
        .order_by(Finding.id)
    )
    return handles, list(findings)


def _qualify(
    live: list[Finding],
    handles: dict[int, str],
    team: Team,
    thresholds: Thresholds,
    blocks: dict[int, MemoryBlock],
) -> tuple[int, Finding, str, dict[str, Any]] | None:
    """(rank, the finding whose block to promote, reason, evidence), or None."""
    if not live:
        return None
    by_agents = sorted(
        (finding for finding in live if finding.agent_id is not None),
        key=lambda finding: -_verdict(finding).strength,
    )
    pooled = next((finding for finding in live if finding.team_id is not None), None)
    evidence = {
        "finding": f"{live[0].metric}/{live[0].dimension}/{live[0].value}",
        "agents": [_numbers(finding, handles[finding.agent_id or 0]) for finding in by_agents],
        "team": _numbers(pooled, f"team {team.slug}") if pooled is not None else None,
    }
    if len(by_agents) >= thresholds.promote_min_agents:
        listed = ", ".join(
            f"{handles[finding.agent_id or 0]} {_short(finding)}" for finding in by_agents
        )
        reason = f"holds for {len(by_agents)} agents of team {team.slug}: {listed}"
        return 0, pooled or by_agents[0], reason, {**evidence, "rule": "agents"}
    z = z_score(thresholds.strong_confidence)
    for finding in by_agents:
        verdict = _verdict(finding)
        if verdict.n >= thresholds.strong_min_group and verdict.clears(z):
            low, high = wilson(verdict.successes, verdict.n, z)
            reason = (
                f"strong evidence from {handles[finding.agent_id or 0]}: {_short(finding)}, "
                f"{thresholds.strong_confidence:.0%} CI {percent(low)}-{percent(high)}%"
            )
            return 1, finding, reason, {**evidence, "rule": "strong"}
    if pooled is not None and _strong_within_agents(pooled, blocks, thresholds):
        p_value = (blocks[pooled.block_id or 0].evidence or {})["p_value"]
        reason = (
            f"strong evidence from team {team.slug} pooled: {_short(pooled)}, "
            f"within each agent p={p_value:.2g}"
        )
        return 1, pooled, reason, {**evidence, "rule": "strong"}
    return None


def _strong_within_agents(
    pooled: Finding, blocks: dict[int, MemoryBlock], thresholds: Thresholds
) -> bool:
    """The pooled finding's stratified test clears `strong_confidence` (one-sided, as its
    interval's near edge would); a block written before that test was kept never does."""
    p_value = (blocks[pooled.block_id or 0].evidence or {}).get("p_value")
    return (
        pooled.n >= thresholds.strong_min_group
        and p_value is not None
        and p_value <= one_sided(thresholds.strong_confidence)
    )


def _verdict(finding: Finding) -> Verdict:
    return Verdict(
        finding.successes, finding.n, finding.baseline, finding.low, finding.high, finding.holds
    )


def _short(finding: Finding) -> str:
    verdict = _verdict(finding)
    return f"{percent(verdict.rate)}% vs {percent(verdict.baseline)}% (n={verdict.n:,})"


def _numbers(finding: Finding, who: str) -> dict[str, Any]:
    verdict = _verdict(finding)
    return {
        "who": who,
        "block": finding.block_id,
        "n": verdict.n,
        "successes": verdict.successes,
        "rate": round(verdict.rate, 4),
        "baseline": round(verdict.baseline, 4),
        "interval": [round(finding.low, 4), round(finding.high, 4)],
    }


def _by_finding(findings: Iterable[Finding]) -> dict[tuple[str, str, str], list[Finding]]:
    groups: dict[tuple[str, str, str], list[Finding]] = {}
    for finding in findings:
        groups.setdefault((finding.metric, finding.dimension, finding.value), []).append(finding)
    return groups


def _blocks(session: Session, ids: Iterable[int | None]) -> dict[int, MemoryBlock]:
    wanted = [block_id for block_id in ids if block_id is not None]
    if not wanted:
        return {}
    query = select(MemoryBlock).where(MemoryBlock.id.in_(wanted))
    return {block.id: block for block in session.scalars(query)}


def _promoted_findings(session: Session, workspace: Workspace, findings: list[Finding]) -> set[str]:
    """The keys of findings with a block (any version of it) copied to the Team Brain."""
    if not findings:
        return set()
    refs = {f"finding:{finding.key}": finding.key for finding in findings}
    rows = session.execute(
        select(MemoryBlock.id, MemoryBlock.source_ref).where(
            MemoryBlock.workspace_id == workspace.id,
            MemoryBlock.source_kind == SourceKind.SIGNAL_ANALYSIS,
            MemoryBlock.source_ref.in_(refs),
        )
    )
    versions = {block_id: ref for block_id, ref in rows}
    copied = session.scalars(
        select(MemoryBlock.promoted_from_id).where(
            MemoryBlock.promoted_from_id.in_(versions), MemoryBlock.tier == Tier.TEAM
        )
    )
    return {refs[versions[block_id] or ""] for block_id in copied if block_id is not None}
