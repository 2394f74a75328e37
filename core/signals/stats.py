"""When a group's rate is a finding: Wilson intervals against a baseline, and thresholds."""

from __future__ import annotations

import math
from dataclasses import dataclass
from statistics import NormalDist
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from core.errors import InvalidInput
from core.models import Workspace


class Thresholds(BaseModel):
    """How much evidence a finding needs, per workspace (`settings["signals"]`)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    # A group needs this many observations (sends; replies for objections).
    min_group: int = Field(default=30, ge=1)
    # The group's interval at this confidence must lie above the baseline.
    confidence: float = Field(default=0.95, gt=0.5, lt=1)
    # ...and its rate at least this much above it (relative): with a team's tens of
    # thousands of sends, a 2% relative difference is significant and still not worth a block.
    min_lift: float = Field(default=0.1, ge=0)
    # An objection recurs when its share of replies lies above this.
    objection_share: float = Field(default=0.1, gt=0, lt=1)
    # Promotion: the same finding holding for this many agents of the team...
    promote_min_agents: int = Field(default=2, ge=2)
    # ...or one agent's finding on this many observations, clear of the baseline at
    # `strong_confidence`.
    strong_min_group: int = Field(default=300, ge=1)
    strong_confidence: float = Field(default=0.99, gt=0.5, lt=1)

    @classmethod
    def of(cls, workspace: Workspace) -> Thresholds:
        """The workspace's thresholds: the defaults, overridden by `settings["signals"]`."""
        configured: Any = (workspace.settings or {}).get("signals") or {}
        try:
            return cls.model_validate(configured)
        except ValidationError as error:
            problem = error.errors()[0]
            where = ".".join(str(part) for part in problem["loc"])
            raise InvalidInput(f"settings.signals.{where}", problem["msg"]) from None


def z_score(confidence: float) -> float:
    """The normal quantile of a two-sided interval at `confidence` (1.96 for 95%)."""
    return NormalDist().inv_cdf(0.5 + confidence / 2)


def wilson(successes: int, n: int, z: float) -> tuple[float, float]:
    """The Wilson score interval of a binomial rate: well-behaved near 0% and 100%."""
    if n <= 0:
        return 0.0, 1.0
    p = successes / n
    z2 = z * z
    centre = (p + z2 / (2 * n)) / (1 + z2 / n)
    half = z * math.sqrt(p * (1 - p) / n + z2 / (4 * n * n)) / (1 + z2 / n)
    return max(0.0, centre - half), min(1.0, centre + half)


@dataclass(frozen=True)
class Verdict:
    """A group's rate against its baseline, and whether that is a finding."""

    successes: int
    n: int
    baseline: float
    low: float
    high: float
    holds: bool
    why_not: str = ""
    confidence: float = 0.95

    @property
    def rate(self) -> float:
        return self.successes / self.n if self.n else 0.0

    @property
    def strength(self) -> float:
        """How far the interval's near edge clears the baseline, relative to the baseline:
        grows with the effect and with the evidence."""
        if self.baseline <= 0:
            return 1.0 if self.low > 0 else 0.0
        return max(0.0, (self.low - self.baseline) / self.baseline)

    def clears(self, z: float) -> bool:
        """True when the interval at `z` (a stricter confidence) still lies above the baseline."""
        return wilson(self.successes, self.n, z)[0] > self.baseline


def judge(successes: int, n: int, baseline: float, thresholds: Thresholds) -> Verdict:
    """Whether a group's rate is a finding: enough data, an interval above the baseline."""
    low, high = wilson(successes, n, z_score(thresholds.confidence))
    rate = successes / n if n else 0.0
    why_not = ""
    if n < thresholds.min_group:
        why_not = f"only {n} observations (a finding needs {thresholds.min_group})"
    elif low <= baseline:
        why_not = "the interval no longer lies above the baseline"
    elif rate < baseline * (1 + thresholds.min_lift):
        why_not = f"less than {thresholds.min_lift:.0%} above the baseline"
    return Verdict(
        successes,
        n,
        baseline,
        low,
        high,
        holds=not why_not,
        why_not=why_not,
        confidence=thresholds.confidence,
    )
