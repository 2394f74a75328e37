"""When a group's rate is a finding: exact and stratified tests, Holm's correction, thresholds.

One analysis of a scope (an agent's signals, or a team's) tests many groups at once: every
subject format, segment, industry and template, and every objection. Tested at 95% each,
one in twenty groups with no real effect would pass on noise alone, and a scope has about
twenty groups. So the groups of one scope's analysis are one family, and a finding must
pass Holm's step-down correction at `false_finding_rate` across that family.

Why Holm and not Benjamini-Hochberg: the groups of a dimension are tested against a rate
they make up together, so when one group sits above it the others must sit below:
their tests are negatively dependent, where Benjamini-Hochberg's guarantee needs positive
dependence; Holm holds under any dependence. Holm also controls the stronger, simpler
promise a manager can check: in a scope where nothing real is going on, the chance that an
analysis writes any finding at all is at most `false_finding_rate` (the family-wise error
rate). With about twenty groups a scope and the effects worth writing down (tens of
percent), Holm costs little power. The promise is per analysis: a scope analysed again as
signals arrive is looked at again, and the chance that some look writes a false finding
grows with the looks (a finding written on one look is superseded on a later one that no
longer supports it).

Each group's p-value (one-sided: better than the rest):
- an agent's rate: Fisher's exact test of the group against the agent's other sends;
- a team's rate: the Cochran-Mantel-Haenszel test with agents as strata (continuity
  corrected), so that a pooled rate that only mixes agents' different baselines is not an
  effect; and a team finding must still show among the team without its most contributing
  agent (at `confidence`), so that one strong agent does not pass as a team effect;
- an objection's share of replies: the exact binomial test against the floor.

Besides, a group needs `min_group` observations spread over at least `min_span_days` (from
the first to the last), so that one burst is not a finding; its Wilson interval at
`confidence` (the interval the finding states) must lie above the baseline, and its rate
at least `min_lift` above it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
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
    # ...from a first to a last one at least this many days apart: not a single burst.
    min_span_days: float = Field(default=7.0, ge=0)
    # The chance that an analysis of a scope with no real effect writes any finding (Holm).
    false_finding_rate: float = Field(default=0.05, gt=0, lt=0.5)
    # The interval a finding states, at this confidence, must lie above the baseline.
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


def one_sided(confidence: float) -> float:
    """The one-sided level matching a two-sided interval at `confidence` (0.025 for 95%)."""
    return (1 - confidence) / 2


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
class Stratum:
    """One agent's part of a group: its successes and size there, and the agent's totals
    for the metric (for an objection: its replies that raised it, and its replies)."""

    successes: int
    n: int
    total_successes: int
    total: int


@dataclass(frozen=True)
class Group:
    """What one tested group rests on: pooled counts, the baseline, the agents' own counts,
    and how many days lie between its first and last observation."""

    successes: int
    n: int
    baseline: float
    strata: tuple[Stratum, ...]
    span_days: float
    # An objection's share is tested against a fixed floor (the baseline), not the rest.
    against_floor: bool = False


def _log_choose(n: int, k: int) -> float:
    return math.lgamma(n + 1) - math.lgamma(k + 1) - math.lgamma(n - k + 1)


def _upper_tail(first: int, last: int, log_pmf: Any) -> float:
    """The sum of pmf(x) for x from `first` to `last`, past the mode (terms only shrink)."""
    total = 0.0
    for x in range(first, last + 1):
        term = math.exp(log_pmf(x))
        total += term
        if term <= total * 1e-15:
            break
    return min(1.0, total)


def fisher_above(stratum: Stratum) -> float:
    """One-sided p-value of Fisher's exact test: the group does better than the rest.

    At or below its expected count the group is not above the rest (p is at least a half,
    beyond any level a finding uses): 1.0 then, without summing the tail.
    """
    a, n1, m1, total = stratum.successes, stratum.n, stratum.total_successes, stratum.total
    if total <= 0 or a * total <= n1 * m1:
        return 1.0
    base = _log_choose(total, n1)

    def log_pmf(x: int) -> float:
        return _log_choose(m1, x) + _log_choose(total - m1, n1 - x) - base

    return _upper_tail(a, min(n1, m1), log_pmf)


def binomial_above(successes: int, n: int, floor: float) -> float:
    """One-sided p-value of the exact binomial test: the share lies above `floor`."""
    if n <= 0 or successes <= n * floor:
        return 1.0
    log_p, log_q = math.log(floor), math.log1p(-floor)

    def log_pmf(x: int) -> float:
        return _log_choose(n, x) + x * log_p + (n - x) * log_q

    return _upper_tail(successes, n, log_pmf)


def cmh_above(strata: Sequence[Stratum]) -> float:
    """One-sided p-value of the Cochran-Mantel-Haenszel test, continuity corrected: within
    each agent, the group does better than the agent's other sends."""
    excess = variance = 0.0
    for s in strata:
        total, rest = s.total, s.total - s.n
        if total < 2 or s.n == 0 or rest == 0:
            continue  # no comparison within this agent
        m1, m0 = s.total_successes, s.total - s.total_successes
        excess += s.successes - s.n * m1 / total
        variance += s.n * rest * m1 * m0 / (total * total * (total - 1))
    if variance <= 0 or excess <= 0.5:
        return 1.0
    return 1 - NormalDist().cdf((excess - 0.5) / math.sqrt(variance))


def p_above(group: Group, strata: Sequence[Stratum] | None = None) -> float:
    """The group's one-sided p-value (of the given strata; all of them by default)."""
    strata = group.strata if strata is None else strata
    if group.against_floor:
        return binomial_above(
            sum(s.successes for s in strata), sum(s.n for s in strata), group.baseline
        )
    if len(strata) == 1:
        return fisher_above(strata[0])
    return cmh_above(strata)


def without_strongest(group: Group) -> list[Stratum]:
    """The group's strata but the one agent that adds most to its excess."""

    def excess(s: Stratum) -> float:
        if group.against_floor:
            return s.successes - s.n * group.baseline
        return s.successes - s.n * s.total_successes / s.total if s.total else 0.0

    strongest = max(group.strata, key=excess)
    return [s for s in group.strata if s is not strongest]


def holm(p_values: Sequence[float], level: float) -> list[bool]:
    """Holm's step-down at `level`: the smallest p-value must meet level/m, the next
    level/(m-1), and so on; the first that fails stops it. Which of them passed."""
    order = sorted(range(len(p_values)), key=lambda i: p_values[i])
    passed = [False] * len(p_values)
    for rank, index in enumerate(order):
        if p_values[index] > level / (len(p_values) - rank):
            break
        passed[index] = True
    return passed


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
    p_value: float = 1.0
    tested: int = 0  # the groups tested with it (Holm's family)
    span_days: float = 0.0

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


def judge(groups: Sequence[Group], thresholds: Thresholds) -> list[Verdict]:
    """Which of one analysis's groups are findings, with Holm's correction across them."""
    eligible = [
        index
        for index, group in enumerate(groups)
        if group.n >= thresholds.min_group and group.span_days >= thresholds.min_span_days
    ]
    p_values = {index: p_above(groups[index]) for index in eligible}
    family = [p_values[index] for index in eligible]
    passed = dict(zip(eligible, holm(family, thresholds.false_finding_rate), strict=True))
    z = z_score(thresholds.confidence)
    verdicts = []
    for index, group in enumerate(groups):
        low, high = wilson(group.successes, group.n, z)
        p_value = p_values.get(index, 1.0)
        why_not = _why_not(group, low, p_value, passed.get(index, False), thresholds)
        verdicts.append(
            Verdict(
                group.successes,
                group.n,
                group.baseline,
                low,
                high,
                holds=not why_not,
                why_not=why_not,
                confidence=thresholds.confidence,
                p_value=p_value,
                tested=len(eligible),
                span_days=group.span_days,
            )
        )
    return verdicts


def _why_not(group: Group, low: float, p_value: float, passed: bool, thresholds: Thresholds) -> str:
    """Why the group is not a finding, or "" when it is one."""
    if group.n < thresholds.min_group:
        return f"only {group.n} observations (a finding needs {thresholds.min_group})"
    if group.span_days < thresholds.min_span_days:
        return (
            f"its observations span {group.span_days:.1f} days "
            f"(a finding needs {thresholds.min_span_days:g})"
        )
    if low <= group.baseline:
        return "the interval no longer lies above the baseline"
    if not passed:
        return f"p={p_value:.2g} does not survive Holm's correction over the groups tested"
    if len(group.strata) > 1 and p_above(group, without_strongest(group)) > one_sided(
        thresholds.confidence
    ):
        return "it rests on one agent: the rest of the team does not show it"
    if group.successes < group.n * group.baseline * (1 + thresholds.min_lift):
        return f"less than {thresholds.min_lift:.0%} above the baseline"
    return ""
