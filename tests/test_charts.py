"""`salesbrain chart`: valid PNGs of the expected size from the records, on both databases;
a chart with nothing to draw says so and writes nothing."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from bot import charts
from core import clock, use_cases
from core.db import UnitOfWork
from core.signals.simulation import Campaign, as_csv, simulate
from tests.test_cli import Run, acme, run  # noqa: F401  (fixtures)

CAMPAIGN = Campaign(
    agents=("sdr-emea", "ae-emea"),
    sends_per_agent=600,
    days=35,
    effects={"subject_format": {"question": 0.5}},
    objections={},
)
AFTER = datetime(2026, 12, 8, 9, 0, tzinfo=UTC)  # the campaign ran Nov 1 - Dec 6


def png_size(path: Path) -> tuple[int, int]:
    """Width and height from a PNG's header (IHDR, the first chunk); fails if not a PNG."""
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    assert data[12:16] == b"IHDR"
    return int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")


@pytest.fixture
def team(acme: Run, tmp_path: Path) -> Run:  # noqa: F811
    """Team emea with two agents' month of signals, analysed (a pattern on the director's
    brain, promoted to the Team Brain), all as of AFTER."""
    path = tmp_path / "signals.csv"
    path.write_text("".join(as_csv(simulate(CAMPAIGN))))
    with clock.frozen_at(AFTER):
        for args in [
            ("agent", "create", "ae-emea", "--team", "emea", "--role", "account_executive"),
            ("agent", "create", "dir-emea", "--team", "emea", "--role", "director"),
            ("signals", "import", str(path)),
            ("signals", "analyze"),
        ]:
            assert (result := acme(*args)).code == 0, result.err
    return acme


def blocks(salesbrain: Run, kind: str) -> list[dict[str, Any]]:
    return [b for b in salesbrain("memory", "list", "--json").json()["blocks"] if b["type"] == kind]


def test_a_findings_chart_is_a_png_whose_last_week_matches_the_finding(
    team: Run, tmp_path: Path, uow: Callable[..., UnitOfWork]
) -> None:
    [pattern] = blocks(team, "pattern")
    out = tmp_path / "finding.png"

    result = team("chart", "finding", str(pattern["id"]), "--out", str(out))

    assert result.code == 0, result.err
    assert result.out.startswith(f"wrote {out} (")
    assert png_size(out) == (charts.WIDTH, charts.HEIGHT)
    trend = use_cases.finding_trend(uow(readonly=True), None, str(pattern["id"]))
    assert trend.group == "subject format = question" and trend.scope == "team emea"
    assert len(trend.points) == 6  # weeks from Oct 26 to Nov 30
    evidence = pattern["evidence"]
    assert (trend.points[-1].successes, trend.points[-1].n) == (
        evidence["successes"],
        evidence["n"],
    )
    assert [p.n for p in trend.points] == sorted(p.n for p in trend.points)  # cumulative


def test_a_coaching_notes_chart_is_a_png_even_with_no_sends_since_the_note(
    team: Run, tmp_path: Path
) -> None:
    with clock.frozen_at(AFTER):
        assert team("coach", "sdr-emea", "Ask a question in the subject", "--by", "U0001").code == 0
    [note] = blocks(team, "coaching")
    out = tmp_path / "note.png"

    result = team("chart", "coaching", str(note["id"]), "--out", str(out))

    assert result.code == 0, result.err
    assert png_size(out) == (charts.WIDTH, charts.HEIGHT)


def test_a_teams_chart_is_a_png_of_its_last_twelve_weeks(
    team: Run, tmp_path: Path, uow: Callable[..., UnitOfWork]
) -> None:
    [pattern] = blocks(team, "pattern")
    with clock.frozen_at(AFTER):
        promoted = team("promote", str(pattern["id"]), "--to", "team", "--by", "dir-emea")
        assert promoted.code == 0, promoted.err
        out = tmp_path / "team.png"
        result = team("chart", "team", "emea", "--out", str(out))
        weeks = use_cases.team_weeks(uow(readonly=True), None, "emea").weeks

    assert result.code == 0, result.err
    assert png_size(out) == (charts.WIDTH, charts.HEIGHT)
    assert len(weeks) == 12 and weeks[-1].week == datetime(2026, 12, 7, tzinfo=UTC)
    # Analysed and promoted on Monday Dec 8: two agents' learnings and the team's pattern.
    assert (weeks[-1].cycles, weeks[-1].learnings, weeks[-1].promotions) == (0, 3, 1)


@pytest.mark.parametrize(
    ("args", "code", "words"),
    [
        (("team", "emea"), 4, "team emea: no cycles, learnings or promotions in the last 12 weeks"),
        (("coaching", "1"), 4, "coaching note 1: its agent has no sends yet"),
        (("finding", "1"), 4, "no finding wrote block 1"),
        (("finding", "x1"), 2, "'x1' is not a finding id"),
        (("team", "nowhere"), 4, "team 'nowhere' not found"),
        (("graph", "1"), 2, "'graph' is not one of"),
    ],
)
def test_a_chart_with_nothing_to_draw_or_bad_input_says_so_and_writes_nothing(
    acme: Run,  # noqa: F811
    tmp_path: Path,
    args: tuple[str, ...],
    code: int,
    words: str,
) -> None:
    assert acme("coach", "sdr-emea", "Keep it short", "--by", "U0001").code == 0
    out = tmp_path / "chart.png"

    result = acme("chart", *args, "--out", str(out))

    assert (result.code, result.out) == (code, "")
    assert words in result.err and result.err.count("\n") == 1
    assert not out.exists()


@pytest.mark.parametrize(
    ("out", "words"), [("chart.txt", "is not a .png file"), ("nowhere/c.png", "no directory")]
)
def test_an_output_that_is_not_a_png_in_a_directory_is_bad_input(
    acme: Run,  # noqa: F811
    tmp_path: Path,
    out: str,
    words: str,
) -> None:
    result = acme("chart", "team", "emea", "--out", str(tmp_path / out))
    assert result.code == 2 and words in result.err
