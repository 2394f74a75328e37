"""A pytest plugin: at the end of a run, what became of the hostile requests (tests/hostile)."""

from __future__ import annotations

from collections import Counter

import pytest

TALLIED = "hostile"
OUTCOMES = ("tried", "refused", "crashed", "applied twice")


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    counts: Counter[str] = Counter()
    for reports in terminalreporter.stats.values():
        for report in reports:
            if getattr(report, "when", None) != "call":
                continue
            counts.update(v for k, v in getattr(report, "user_properties", ()) if k == TALLIED)
    if counts:
        terminalreporter.section("hostile requests")
        terminalreporter.write_line(", ".join(f"{counts[o]} {o}" for o in OUTCOMES))
