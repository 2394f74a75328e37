"""Charts as PNG images, drawn with matplotlib from what core.trends and core.impact read.

Figures are built directly (matplotlib.figure.Figure, rendered by the Agg canvas): no
display, and no pyplot global state shared between threads of the server.
"""

from __future__ import annotations

import io
from datetime import timedelta
from typing import Any

import matplotlib
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator, PercentFormatter

from core.chart_notices import Drawn
from core.impact import NoteImpact, Rate
from core.trends import FindingTrend, TeamWeeks

WIDTH, HEIGHT = 1200, 675  # pixels: 16:9, sharp in a Slack message and on a laptop screen
DPI = 150
BLUE, GREY, ORANGE, GREEN = "#1f6fb2", "#7a7a7a", "#e07b22", "#3a8f3a"

matplotlib.rcParams.update({"font.size": 9, "axes.titlesize": 11, "axes.titleweight": "bold"})


def chart(drawn: Drawn) -> bytes:
    """The chart of whatever core gave to draw: a finding's trend, a note's impact, a team's
    weeks."""
    if isinstance(drawn, FindingTrend):
        return finding_chart(drawn)
    if isinstance(drawn, NoteImpact):
        return note_chart(drawn)
    return team_chart(drawn)


def finding_chart(trend: FindingTrend) -> bytes:
    """The finding's cumulative rate by week, its interval band and the baseline."""
    figure, axes = _figure()
    weeks = [point.week for point in trend.points]
    band = f"{trend.confidence:.0%} interval"
    if len(weeks) > 1:
        lows, highs = [p.low for p in trend.points], [p.high for p in trend.points]
        axes.fill_between(weeks, lows, highs, color=BLUE, alpha=0.18, label=band)
    else:  # one week: a band one point wide is invisible, whiskers show the interval
        only = trend.points[0]
        whiskers = [[only.rate - only.low], [only.high - only.rate]]
        axes.errorbar(weeks, [only.rate], yerr=whiskers, color=BLUE, capsize=10, label=band)
        axes.set_xlim(weeks[0] - timedelta(days=7), weeks[0] + timedelta(days=7))
    axes.plot(weeks, [p.rate for p in trend.points], color=BLUE, marker="o", label=f"{trend.group}")
    baseline = "objection floor" if trend.metric == "objection share" else "baseline (all sends)"
    if len(weeks) > 1:
        axes.plot(weeks, [p.baseline for p in trend.points], color=GREY, ls="--", label=baseline)
    else:
        axes.axhline(trend.points[0].baseline, color=GREY, ls="--", label=baseline)
    last = trend.points[-1]
    axes.annotate(
        f"{last.rate:.0%} (n={last.n})",
        (last.week, last.rate),
        textcoords="offset points",
        xytext=(6, 6),
        color=BLUE,
    )
    axes.set_xticks(weeks, [f"{week:%b %d}" for week in weeks])
    axes.set_title(f"Finding #{trend.block_id}: {trend.metric}, {trend.group} ({trend.scope})")
    axes.set_ylabel(f"{trend.metric}, cumulative")
    axes.set_xlabel("week starting (UTC)")
    axes.yaxis.set_major_formatter(PercentFormatter(1.0, decimals=0))
    axes.set_ylim(0, min(1.0, max(p.high for p in trend.points) * 1.15 + 0.02))
    figure.autofmt_xdate()
    axes.legend(loc="best")
    return _png(figure)


def note_chart(note: NoteImpact) -> bytes:
    """The agent's reply rate before the note, then with and without it, with intervals."""
    figure, axes = _figure()
    bars: list[tuple[str, Rate, str]] = [
        ("before the note", note.before_note, GREY),
        ("since, without it", note.without_note, ORANGE),
        ("since, with it", note.with_note, GREEN),
    ]
    for position, (_, rate, colour) in enumerate(bars):
        if not rate.sends:
            axes.text(position, 0.005, "no sends", ha="center", va="bottom", color=GREY)
            continue
        axes.bar(position, rate.rate, width=0.6, color=colour, alpha=0.85)
        axes.errorbar(
            position,
            rate.rate,
            yerr=[[rate.rate - rate.low], [rate.high - rate.rate]],
            color="black",
            capsize=8,
        )
        axes.annotate(
            f"{rate.rate:.1%}\nn={rate.sends}",
            (position, rate.high),
            textcoords="offset points",
            xytext=(0, 6),
            ha="center",
        )
    axes.set_xticks(range(len(bars)), [label for label, _, _ in bars])
    axes.set_title(f"Coaching #{note.block_id} to {note.agent}: {_clip(note.content, 48)}")
    axes.set_ylabel(f"reply rate (whiskers: {note.with_note.confidence:.0%} interval)")
    axes.yaxis.set_major_formatter(PercentFormatter(1.0, decimals=0))
    top = max((rate.high for _, rate, _ in bars if rate.sends), default=0.1)
    axes.set_ylim(0, min(1.0, top * 1.25 + 0.02))
    axes.set_xlim(-0.6, len(bars) - 0.4)
    axes.set_xlabel(_clip(note.conclusion(), 150), color=GREY)
    return _png(figure)


def team_chart(team: TeamWeeks) -> bytes:
    """A team's cycles per week (top) and its learnings and promotions per week (bottom)."""
    figure, (above, below) = _figure(rows=2)
    labels = [f"{week.week:%b %d}" for week in team.weeks]
    positions = list(range(len(labels)))
    cycles = above.bar(positions, [w.cycles for w in team.weeks], color=BLUE, alpha=0.8)
    above.bar_label(cycles, [str(w.cycles) if w.cycles else "" for w in team.weeks], padding=2)
    above.set_title(
        f"Team {team.team}, last {len(labels)} weeks: cycles, learnings and promotions per week"
    )
    above.set_ylabel("heartbeat cycles")
    for offset, (counts, colour, label) in zip(
        (-0.2, 0.2),
        (
            ([w.learnings for w in team.weeks], GREEN, "learnings (from cycles and signals)"),
            ([w.promotions for w in team.weeks], ORANGE, "promotions to the Team Brain"),
        ),
        strict=True,
    ):
        bars = below.bar([p + offset for p in positions], counts, 0.4, color=colour, label=label)
        below.bar_label(bars, [str(c) if c else "" for c in counts], padding=2)
    below.set_ylabel("blocks")
    below.set_xlabel("week starting (UTC)")
    below.legend(loc="best")
    for axes, most, nothing in (
        (above, max(w.cycles for w in team.weeks), "no cycles in these weeks"),
        (below, max(max(w.learnings, w.promotions) for w in team.weeks), "no new blocks"),
    ):
        axes.set_xticks(positions, labels)
        axes.yaxis.set_major_locator(MaxNLocator(integer=True))
        # Counts start at 0; an empty panel says so rather than showing an axis around zero.
        axes.set_ylim(0, max(most, 1) * 1.25)
        if not most:
            axes.text(0.5, 0.5, nothing, transform=axes.transAxes, ha="center", color=GREY)
    return _png(figure)


def _figure(rows: int = 1) -> tuple[Figure, Any]:
    """A figure of the chart's size with `rows` axes, one above the other, sharing x."""
    figure = Figure(figsize=(WIDTH / DPI, HEIGHT / DPI), dpi=DPI, layout="constrained")
    FigureCanvasAgg(figure)
    axes = figure.subplots(rows, 1, sharex=True, squeeze=False)[:, 0]
    for one in axes:
        one.grid(axis="y", alpha=0.3)
        one.spines[["top", "right"]].set_visible(False)
    return figure, axes[0] if rows == 1 else tuple(axes)


def _png(figure: Figure) -> bytes:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=DPI)
    return buffer.getvalue()


def _clip(text: str, most: int) -> str:
    text = " ".join(text.split())
    if len(text) <= most:
        return text
    cut = text[: most - 1]
    # At a word's end where there is one: a word cut in two reads as a typo.
    return (cut.rsplit(" ", 1)[0] if " " in cut else cut).rstrip(",;:") + "…"
