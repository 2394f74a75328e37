"""A pytest plugin: at the end of a run, how many tests passed on each database."""

from __future__ import annotations

from collections import Counter

import pytest

DIALECTS = ("sqlite", "postgresql")


def _dialect(nodeid: str) -> str | None:
    params = nodeid.partition("[")[2]
    for dialect in DIALECTS:
        if params.startswith(dialect) or f"-{dialect}" in params:
            return dialect
    return None


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    counts: Counter[tuple[str, str]] = Counter()
    for outcome in ("passed", "failed", "error", "skipped"):
        for report in terminalreporter.stats.get(outcome, []):
            nodeid = getattr(report, "nodeid", "")
            dialect = _dialect(nodeid)
            if dialect and (report.when == "call" or outcome != "passed"):
                counts[(dialect, outcome)] += 1
    if not counts:
        return
    terminalreporter.section("storage tests by database")
    for dialect in DIALECTS:
        parts = [f"{counts[(dialect, o)]} {o}" for o in ("passed", "failed", "error", "skipped")]
        terminalreporter.write_line(f"{dialect:>10}: " + ", ".join(parts))
