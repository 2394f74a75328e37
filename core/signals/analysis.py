"""Analysis: an agent's (and a team's) signals become findings with statistical support.

What is measured, per agent and per team, each group against the scope's overall rate:
- open rate by `subject_format`, reply rate by `segment` and by `industry`, meeting rate
  by `template`: over delivered sends (an `email_sent` that did not bounce). Opens, replies
  and meetings count toward the send of the same agent with the same `thread` (a signal
  without a thread is a thread of its own); a reply or a meeting means the email was
  opened, even when no open was tracked.
- objections: the share of the scope's replies that raised each objection category,
  against a floor (`Thresholds.objection_share`): a category that recurs.

Findings are the groups that do better than the baseline, by the rules of
`core.signals.stats`: enough observations over enough days, an interval above the
baseline (and by at least `min_lift`), and a test that survives Holm's correction across
every group of the scope's analysis; a team's are tested within each agent (agents'
baselines differ) and must not rest on one agent. Groups below the baseline are mostly
the mirror image of a finding in the same dimension (when one segment stands out, the
rest sit below the overall rate), so they are not written; a finding whose group falls
back is superseded.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import bindparam, func, select
from sqlalchemy.orm import Session

from core import clock
from core.directory import get_agent
from core.models import Agent, AgentRole, AnalysisMark, MemoryBlock, Signal, Team, Workspace
from core.signals.consolidation import Change, Scope, consolidate
from core.signals.stats import Thresholds
from core.signals.tally import Tally, tally_signals


@dataclass
class AnalysisResult:
    """The blocks analysis wrote, refreshed or superseded, and how many findings hold."""

    changes: list[Change] = field(default_factory=list)
    holding: int = 0
    scopes: int = 0
    skipped: bool = False

    def blocks(self, action: str) -> list[MemoryBlock]:
        return [change.block for change in self.changes if change.action == action]

    @property
    def created(self) -> list[MemoryBlock]:
        return self.blocks("new")

    @property
    def updated(self) -> list[MemoryBlock]:
        return self.blocks("updated")

    @property
    def superseded(self) -> list[MemoryBlock]:
        return self.blocks("superseded")


def analyze_agent(
    session: Session, workspace: Workspace, agent: Agent, thresholds: Thresholds | None = None
) -> AnalysisResult:
    """Bring an agent's findings up to date before its cycle; cheap when no signal is new.

    A director agent also brings its team's pooled findings up to date (they are patterns
    on its own Personal Brain, which it may then promote to the Team Brain).
    """
    thresholds = thresholds or Thresholds.of(workspace)
    stale = _stale_scopes(session, workspace, agent)
    if not stale:
        return AnalysisResult(skipped=True)
    return _analyze(session, workspace, stale, thresholds, everyone=False)


def has_new_signals(session: Session, workspace: Workspace, agent: Agent) -> bool:
    """Whether `analyze_agent` would find anything new: a read, so that a cycle with nothing
    new never opens a write transaction (SQLite's one writer) for it."""
    return bool(_stale_scopes(session, workspace, agent))


def _stale_scopes(session: Session, workspace: Workspace, agent: Agent) -> list[Scope]:
    scopes = _scopes_of(session, workspace, agent)
    return [scope for scope in scopes if _has_new_signals(session, workspace, scope)]


def analyze(
    session: Session,
    workspace: Workspace,
    agent_handle: str | None = None,
    thresholds: Thresholds | None = None,
) -> AnalysisResult:
    """Analyse now: one agent (and its team, for a director), or every agent and team."""
    thresholds = thresholds or Thresholds.of(workspace)
    if agent_handle:
        scopes = _scopes_of(session, workspace, get_agent(session, workspace, agent_handle))
        return _analyze(session, workspace, scopes, thresholds, everyone=False)
    return _analyze(session, workspace, _all_scopes(session, workspace), thresholds, everyone=True)


def _scopes_of(session: Session, workspace: Workspace, agent: Agent) -> list[Scope]:
    scopes = [_agent_scope(agent)]
    if agent.role is AgentRole.DIRECTOR:
        members = session.scalars(
            select(Agent.id).where(
                Agent.workspace_id == workspace.id, Agent.team_id == agent.team_id
            )
        )
        scopes.append(_team_scope(agent.team, agent, list(members)))
    return scopes


def _all_scopes(session: Session, workspace: Workspace) -> list[Scope]:
    agents = list(
        session.scalars(select(Agent).where(Agent.workspace_id == workspace.id).order_by(Agent.id))
    )
    scopes = [_agent_scope(agent) for agent in agents]
    teams: dict[int, list[Agent]] = {}
    for agent in agents:
        teams.setdefault(agent.team_id, []).append(agent)
    for members in teams.values():
        director = next((m for m in members if m.role is AgentRole.DIRECTOR), None)
        if director is not None:
            scopes.append(_team_scope(director.team, director, [m.id for m in members]))
    return scopes


def _agent_scope(agent: Agent) -> Scope:
    return Scope(f"agent:{agent.id}", agent.handle, agent, [agent.id])


def _team_scope(team: Team, director: Agent, member_ids: list[int]) -> Scope:
    """A team's pooled signals; its patterns go to its director's brain."""
    return Scope(f"team:{team.id}", f"team {team.slug}", director, member_ids, team)


# Before every cycle, so built once, with bind parameters (SQLAlchemy spends more building
# and keying a statement than SQLite spends answering it from an index).
# Agent ids belong to one workspace; a workspace condition here would steer SQLite away
# from the (agent_id, id) index that answers this from its last entry.
_LATEST_SIGNAL = select(func.max(Signal.id)).where(
    Signal.agent_id.in_(bindparam("agent_ids", expanding=True))
)
_MARK = select(AnalysisMark.last_signal_id).where(
    AnalysisMark.workspace_id == bindparam("workspace_id"),
    AnalysisMark.scope == bindparam("scope"),
)


def _has_new_signals(session: Session, workspace: Workspace, scope: Scope) -> bool:
    latest = session.scalar(_LATEST_SIGNAL, {"agent_ids": scope.agent_ids})
    if latest is None:
        return False
    mark = session.scalar(_MARK, {"workspace_id": workspace.id, "scope": scope.key})
    return mark is None or latest > mark


def _analyze(
    session: Session,
    workspace: Workspace,
    scopes: list[Scope],
    thresholds: Thresholds,
    *,
    everyone: bool,
) -> AnalysisResult:
    """Count the signals the scopes need (in one pass), then consolidate scope by scope.

    A team scope needs two agents with signals (else it would repeat one agent's findings).
    """
    agent_ids = sorted({agent_id for scope in scopes for agent_id in scope.agent_ids})
    tallies = tally_signals(session, workspace, None if everyone else agent_ids)
    result = AnalysisResult()
    for scope in scopes:
        contributing = [tallies[agent_id] for agent_id in scope.agent_ids if agent_id in tallies]
        if not contributing:
            continue
        scope.tally, scope.agents = Tally.pooled(contributing), len(contributing)
        scope.strata = contributing
        if scope.team is None or scope.agents >= 2:
            result.changes.extend(consolidate(session, workspace, scope, thresholds))
            result.holding += scope.holding
            result.scopes += 1
        _set_mark(session, workspace, scope.key, scope.tally.last_signal_id)
    return result


def _set_mark(session: Session, workspace: Workspace, scope: str, last_signal_id: int) -> None:
    mark = session.scalar(
        select(AnalysisMark).where(
            AnalysisMark.workspace_id == workspace.id, AnalysisMark.scope == scope
        )
    )
    if mark is None:
        mark = AnalysisMark(workspace_id=workspace.id, scope=scope, last_signal_id=0)
        session.add(mark)
    mark.last_signal_id = max(mark.last_signal_id, last_signal_id)
    mark.analysed_at = clock.now()
