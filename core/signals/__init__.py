"""Performance signals become learnings: ingestion, findings, consolidation, promotion review.

- `import_signals(engine, workspace, lines, fmt)`: CSV or JSON Lines, streamed in batches,
  idempotent by the sender's id (`salesbrain signals import`, `POST /signals`).
- `analyze_agent(session, workspace, agent)`: before an agent's cycle; cheap when nothing is
  new (`has_new_signals` says so in a read). `analyze(session, workspace, agent_handle=None)`:
  on demand, every agent and team.
- `review_team(session, workspace, team)`: promotion candidates for the director;
  `stale_copies(session, workspace, team)`: Team Brain copies whose finding moved on.
"""

from core.signals.analysis import AnalysisResult, analyze, analyze_agent, has_new_signals
from core.signals.consolidation import Change
from core.signals.ingest import BadRow, Format, ImportResult, import_signals
from core.signals.review import PromotionCandidate, StaleCopy, review_team, stale_copies
from core.signals.stats import Thresholds

__all__ = [
    "AnalysisResult",
    "BadRow",
    "Change",
    "Format",
    "ImportResult",
    "PromotionCandidate",
    "StaleCopy",
    "Thresholds",
    "analyze",
    "analyze_agent",
    "has_new_signals",
    "import_signals",
    "review_team",
    "stale_copies",
]
