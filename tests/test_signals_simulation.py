"""Findings hold up: with no effect, few analyses find anything; planted effects are found.

"Rate of false findings" here is Holm's promise, the family-wise error rate: the share of
analyses (one scope's analysis tests all its groups at once) that write at least one
finding where nothing was planted. It must stay at or below the configured
`false_finding_rate`. A seeded run measures it over a bounded number of analyses, so the
assertion is a test, not a comparison of two numbers: the count of analyses with a false
finding must be one that a rate of `false_finding_rate` could plausibly give (the exact
binomial test rejects "rate <= level" only below 0.1%). The same check catches testing
each group at 95% with no correction, which gives about a third.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

from sqlalchemy import select
from sqlalchemy.engine import Engine

from core import directory
from core.db import UnitOfWork
from core.models import MemoryBlock
from core.signals import Thresholds, analyze, import_signals
from core.signals.consolidation import judge_tallies
from core.signals.simulation import Campaign, as_csv, simulate, tallies
from core.signals.stats import Verdict, binomial_above
from core.signals.tally import Measure, tally_signals
from tests.conftest import World

LEVEL = Thresholds().false_finding_rate
NOISE = Campaign(agents=("noise",), sends_per_agent=240, objections={"timing": 0.04})
QUESTION = {"subject_format": {"question": 0.45}}
ANALYSES = 250


def plausible_at_level(false: int, analyses: int, level: float = LEVEL) -> bool:
    """Whether `false` of `analyses` is consistent with a rate of at most `level`."""
    return binomial_above(false, analyses, level) > 0.001


def _analyses(campaign: Campaign, runs: int) -> list[dict[tuple[Measure, str], Verdict]]:
    """The verdicts of `runs` one-agent analyses of the campaign, one seed each."""
    analyses = []
    for seed in range(runs):
        [tally] = tallies(replace(campaign, seed=seed)).values()
        analyses.append(judge_tallies([tally], Thresholds()))
    return analyses


def _before(verdict: Verdict) -> bool:
    """The rule before Holm: 30 observations, the 95% interval and 10% above the baseline."""
    lifted = verdict.rate >= verdict.baseline * 1.1
    return verdict.n >= 30 and verdict.low > verdict.baseline and lifted


def test_with_no_effect_at_most_the_configured_share_of_analyses_finds_anything() -> None:
    analyses = _analyses(NOISE, ANALYSES)

    false = sum(1 for verdicts in analyses if any(v.holds for v in verdicts.values()))
    assert plausible_at_level(false, ANALYSES), f"{false} of {ANALYSES} analyses"
    assert false / ANALYSES <= LEVEL
    # The same check fails the rule analysis used before (each group alone at 95%).
    before = sum(1 for verdicts in analyses if any(map(_before, verdicts.values())))
    assert not plausible_at_level(before, ANALYSES), f"{before} of {ANALYSES} analyses"


def test_planted_effects_are_still_found_and_the_rest_stays_clean() -> None:
    analyses = _analyses(replace(NOISE, sends_per_agent=800, effects=QUESTION), 80)

    found = [{value for (_, value), v in verdicts.items() if v.holds} for verdicts in analyses]
    power = sum(1 for values in found if "question" in values) / len(found)
    false = sum(1 for values in found if values - {"question"})
    assert power >= 0.95, power
    assert plausible_at_level(false, len(found)), f"{false} of {len(found)}"


def test_a_burst_is_not_a_finding_until_it_spans_the_minimum() -> None:
    burst = replace(NOISE, effects=QUESTION, sends_per_agent=2_000, days=1)
    [tally] = tallies(burst).values()
    question = next(
        v for (m, value), v in judge_tallies([tally], Thresholds()).items() if value == "question"
    )

    assert not question.holds and question.low > question.baseline * 1.1
    assert question.why_not == "its observations span 1.0 days (a finding needs 7)"
    lenient = judge_tallies([tally], Thresholds(min_span_days=0.5))
    assert any(v.holds for (m, value), v in lenient.items() if value == "question")


def test_the_simulated_counts_are_the_counts_analysis_takes_from_the_database(
    engine: Engine, uow: Callable[..., UnitOfWork], world: World
) -> None:
    campaign = Campaign(agents=("sdr-emea", "ae-emea"), sends_per_agent=300, effects=QUESTION)
    assert import_signals(engine, "T0001", as_csv(simulate(campaign))).bad_total == 0

    with uow(readonly=True) as u:
        stored = tally_signals(u.session, world.workspace, [world.sdr.id, world.ae.id])
    simulated = tallies(campaign)

    for agent in (world.sdr, world.ae):
        assert stored[agent.id].counts == simulated[agent.handle].counts
        assert stored[agent.id].spans == simulated[agent.handle].spans


def _team_of(uow: Callable[..., UnitOfWork], world: World, size: int) -> tuple[str, ...]:
    handles = tuple(f"n{number}" for number in range(size))
    with uow() as u:
        directory.create_team(u.session, world.workspace, "noise", "Noise")
        for handle in handles:
            directory.create_agent(u.session, world.workspace, handle, team="noise", role="sdr")
        directory.create_agent(
            u.session, world.workspace, "dir-noise", team="noise", role="director"
        )
    return handles


def _analysed_owners(uow: Callable[..., UnitOfWork], world: World) -> tuple[int, set[int]]:
    with uow() as u:
        result = analyze(u.session, world.workspace)
        owners = set(u.session.scalars(select(MemoryBlock.agent_id)))
    return result.scopes, {owner for owner in owners if owner is not None}


def test_with_no_effect_few_stored_analyses_write_a_finding(
    engine: Engine, uow: Callable[..., UnitOfWork], world: World
) -> None:
    handles = _team_of(uow, world, 30)
    campaign = replace(NOISE, agents=handles, sends_per_agent=300, seed=5)
    assert import_signals(engine, "T0001", as_csv(simulate(campaign))).bad_total == 0

    scopes, owners = _analysed_owners(uow, world)

    assert scopes == 31  # 30 agents and their team
    assert plausible_at_level(len(owners), scopes), f"{len(owners)} of {scopes} analyses"


def test_a_planted_effect_is_found_for_the_agents_and_their_team_on_both_databases(
    engine: Engine, uow: Callable[..., UnitOfWork], world: World
) -> None:
    handles = _team_of(uow, world, 10)
    campaign = replace(NOISE, agents=handles, sends_per_agent=800, seed=6, effects=QUESTION)
    assert import_signals(engine, "T0001", as_csv(simulate(campaign))).bad_total == 0

    _analysed_owners(uow, world)

    with uow(readonly=True) as u:
        blocks = list(u.session.scalars(select(MemoryBlock)))
    about = {(b.agent_id, (b.evidence or {})["value"]) for b in blocks}
    with uow(readonly=True) as u:
        agents = {a.handle: a.id for a in directory.list_agents(u.session, world.workspace)}
    found = [h for h in handles if (agents[h], "question") in about]
    assert len(found) >= 9, found
    assert (agents["dir-noise"], "question") in about
    others = {(owner, value) for owner, value in about if value != "question"}
    assert plausible_at_level(len({owner for owner, _ in others}), 11), others
