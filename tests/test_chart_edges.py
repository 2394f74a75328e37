"""Charts at their edges stay readable PNGs of the expected size: a finding's first week (one
point: whiskers, not an invisible band), a team whose weeks had no cycle at all."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from bot import charts
from core.trends import FindingTrend, Point, TeamWeek, TeamWeeks

MONDAY = datetime(2026, 11, 23, tzinfo=UTC)


def png_size(data: bytes) -> tuple[int, int]:
    """Width and height from a PNG's header (IHDR, the first chunk); fails if not a PNG."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR"
    return int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")


def test_a_findings_first_week_is_a_chart_with_its_interval() -> None:
    week = Point(MONDAY, successes=45, n=100, low=0.36, high=0.55, baseline=0.31)
    trend = FindingTrend(7, "objection share", "objection = pricing", "sdr-emea", 0.95, (week,))

    assert png_size(charts.chart(trend)) == (charts.WIDTH, charts.HEIGHT)


def test_a_team_with_learnings_but_no_cycles_is_a_chart() -> None:
    weeks = tuple(
        TeamWeek(MONDAY - timedelta(weeks=11 - i), 0, 3 if i == 11 else 0, 0) for i in range(12)
    )

    assert png_size(charts.chart(TeamWeeks("emea", weeks))) == (charts.WIDTH, charts.HEIGHT)


def test_a_long_title_is_cut_at_a_word() -> None:
    assert charts._clip("Lead with the compliance angle when you write", 30) == (
        "Lead with the compliance…"
    )
