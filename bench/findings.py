"""Simulation: how often analysis writes a false finding, and how often it finds a planted one.

    .venv/bin/python bench/findings.py [--analyses 2000] [--sends 400 1000 2000]

For each number of sends per agent, `--analyses` seeded one-agent analyses (counts from
`core.signals.simulation.tallies`, judged by `core.signals.consolidation.judge_tallies`
with the default thresholds, no database):
- with no effect planted: the share of analyses writing any finding (the family-wise error
  rate Holm's correction holds at `false_finding_rate`), with its 95% Wilson interval, and
  the same share for the rule analysis used before (each group alone: 30 observations,
  its 95% interval above the baseline and 10% above it, no correction);
- with "question" subject lines opening at 45% (25% otherwise): the share of analyses that
  find it (power), and the share that also write a false finding.
"""

from __future__ import annotations

import argparse
from dataclasses import replace

from core.signals import Thresholds
from core.signals.consolidation import judge_tallies
from core.signals.simulation import Campaign, tallies
from core.signals.stats import Verdict, wilson

NOISE = Campaign(agents=("noise",), objections={"timing": 0.04})
QUESTION = {"subject_format": {"question": 0.45}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--analyses", type=int, default=2_000)
    parser.add_argument("--sends", type=int, nargs="+", default=[400, 1_000, 2_000])
    args = parser.parse_args()
    thresholds = Thresholds()
    print(f"{args.analyses} analyses each; false_finding_rate {thresholds.false_finding_rate}")
    print("sends | false (Holm) [95% CI] | false (before) | power | power and a false one")
    for sends in args.sends:
        print(_row(replace(NOISE, sends_per_agent=sends), args.analyses, thresholds))


def _row(campaign: Campaign, analyses: int, thresholds: Thresholds) -> str:
    false = before = found = found_and_false = 0
    for seed in range(analyses):
        [tally] = tallies(replace(campaign, seed=seed)).values()
        verdicts = judge_tallies([tally], thresholds).values()
        false += any(verdict.holds for verdict in verdicts)
        before += any(_before(verdict, thresholds) for verdict in verdicts)
        [tally] = tallies(replace(campaign, seed=seed, effects=QUESTION)).values()
        planted = judge_tallies([tally], thresholds)
        found += any(v.holds for (_, value), v in planted.items() if value == "question")
        found_and_false += any(v.holds for (_, value), v in planted.items() if value != "question")
    low, high = wilson(false, analyses, 1.96)
    return (
        f"{campaign.sends_per_agent:>5} | {false / analyses:.2%} [{low:.2%}-{high:.2%}] "
        f"| {before / analyses:.1%} | {found / analyses:.1%} | {found_and_false / analyses:.2%}"
    )


def _before(verdict: Verdict, thresholds: Thresholds) -> bool:
    """The rule before Holm: enough observations, the 95% interval and the lift alone."""
    lifted = verdict.rate >= verdict.baseline * (1 + thresholds.min_lift)
    return verdict.n >= thresholds.min_group and verdict.low > verdict.baseline and lifted


if __name__ == "__main__":
    main()
