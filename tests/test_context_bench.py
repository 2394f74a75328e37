"""The context benchmarks still run, on both databases, at a size that takes seconds.

No timing is asserted here (speed lives in the benchmarks' own figures); the retrieval
quality run does assert its verdict: the product's score beats every single-factor baseline.
"""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.engine import Engine

from bench import context_floor, context_scale, retrieval_quality


def test_the_scale_benchmark_measures_both_sides(
    db_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    context_scale.main(["--url", db_url, "--blocks", "5000", "--queries", "20"])
    out = capsys.readouterr().out
    assert "5,000 blocks" in out
    assert "assemble_context" in out and "naive baseline" in out and "speed-up" in out
    if db_url.startswith("postgresql"):
        # Measured as autovacuum leaves a database: the test cluster commits asynchronously,
        # and a VACUUM right after the build marked none of its pages.
        assert "pages all-visible (index-only scans need it): 100%" in out


def test_the_benchmark_waits_out_a_snapshot_older_than_its_build(
    engine: Engine, capsys: pytest.CaptureFixture[str]
) -> None:
    # VACUUM cannot mark pages whose rows are newer than a snapshot still open (autovacuum
    # analysing another table, another session): the bench vacuums again until it ends.
    if engine.dialect.name != "postgresql":
        pytest.skip("PostgreSQL's visibility map")
    holder = engine.connect().execution_options(isolation_level="REPEATABLE READ")
    holder.execute(text("SELECT 1"))  # the snapshot, held until the connection closes
    context_scale.build(engine, 5000, 7)
    context_scale.settle(engine, tries=1)
    assert "of the pages all-visible after 1 VACUUM:" in capsys.readouterr().err
    assert (context_scale.visible_share(engine) or 0.0) < 1.0
    release = threading.Timer(0.3, holder.close)
    release.start()
    try:
        context_scale.settle(engine, tries=20)
    finally:
        release.join()
    assert context_scale.visible_share(engine) == 1.0
    assert capsys.readouterr().err == ""


def test_the_large_brain_case_measures_agents_that_read_mostly_company_blocks(
    db_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["--url", db_url, "--large-brain", "--large-brain-scale", "0.02", "--queries", "8"]
    context_scale.main(args)
    out = capsys.readouterr().out
    assert "readable active blocks per agent: 400 on average" in out  # 300 Company, 60, 40
    assert "assemble_context" in out and "naive baseline" in out and "speed-up" in out


def test_the_product_beats_every_single_factor_baseline(
    db_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    retrieval_quality.main(["--url", db_url, "--agents", "3"])  # exits non-zero if not
    out = capsys.readouterr().out
    assert "recency only" in out and "relevance only" in out
    superseded = next(line for line in out.splitlines() if "superseded" in line)
    assert set(superseded.split()[1:]) == {"0.00"}  # never shown, by any method


def test_the_floor_benchmark_measures_all_three_on_sqlite(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"sqlite:///{tmp_path / 'floor.db'}"
    context_floor.main(["--url", url, "--blocks", "5000", "--queries", "20"])
    out = capsys.readouterr().out
    for side in ("floor pipeline", "assemble_context", "naive baseline", "20x would need"):
        assert side in out
    assert "same blocks as assemble_context where they did:" in out


def test_the_scale_benchmark_says_in_one_line_that_it_cannot_open_a_database(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit) as exit_:
        context_scale.main(["--url", "postgresql+psycopg://nobody@127.0.0.1:1/none"])
    message = str(exit_.value.code)
    assert message.startswith("context_scale: cannot open the benchmark database:")
    assert "\n" not in message


def test_the_floor_benchmark_refuses_postgresql(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        context_floor.main(["--url", "postgresql://127.0.0.1/nothing"])
    assert exit_.value.code == 2
    assert "give a sqlite:/// URL" in capsys.readouterr().err
