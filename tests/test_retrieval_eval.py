"""The retrieval evaluation's harness keeps its promises, on both databases, at a reduced size.

Whether the product beats the baselines is measured by bench/retrieval_eval.py, not here.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine

from bench import retrieval_eval
from bench.retrieval_eval import BASELINES, PRODUCT, Memory
from core import schema
from core.db import make_engine

TOPICS, SCALE = 6, 0.2


def _labels(memory: Memory) -> dict[str, dict[str, int]]:
    """Each task's grades keyed by block content, comparable across builds."""
    out = {}
    for task in memory.tasks:
        grades = {}
        for block_id, group in task.group_of.items():
            written = memory.written[block_id]
            if group in task.grades and written.note is not None:
                grades[written.note.text] = task.grades[group]
        out[task.text] = grades
    return out


def test_labels_come_from_the_construction_not_from_ages_or_importances(
    engine: Engine, tmp_path: Path
) -> None:
    first = retrieval_eval.build(engine, seed=1, topics=TOPICS, scale=SCALE)
    url = f"sqlite:///{tmp_path / 'other_seed.db'}"
    schema.upgrade(url)
    other_engine = make_engine(url)
    try:
        second = retrieval_eval.build(other_engine, seed=2, topics=TOPICS, scale=SCALE)
    finally:
        other_engine.dispose()
    assert [w.days for w in first.written.values()] != [w.days for w in second.written.values()]
    assert _labels(first) == _labels(second)
    assert len(first.tasks) == 2 * TOPICS


def test_every_task_has_a_highly_relevant_block_the_agent_may_read(engine: Engine) -> None:
    memory = retrieval_eval.build(engine, seed=3, topics=TOPICS, scale=SCALE)
    rankings = retrieval_eval.rank_all(engine, memory.tasks)
    for task in memory.tasks:
        readable = rankings.readable[task.agent]
        # What the construction says the agent reads is what the database says it reads.
        assert set(task.group_of) == readable
        assert not task.never & readable
        best = {block for block, group in task.group_of.items() if task.grades.get(group) == 3}
        assert best, task.text
        assert any(task.grades.get(g, 0) >= 2 for g in task.group_of.values())


def test_a_perfect_ranking_scores_one_and_an_empty_one_zero(engine: Engine) -> None:
    memory = retrieval_eval.build(engine, seed=4, topics=TOPICS, scale=SCALE)
    for task in memory.tasks:
        perfect = retrieval_eval.task_metrics(task, retrieval_eval.ideal_ranking(task))
        assert perfect == {"ndcg@10": 1.0, "recall@10": 1.0, "success@10": 1.0}
        assert set(retrieval_eval.task_metrics(task, []).values()) == {0.0}
        # A near-duplicate of a block already shown gains nothing.
        ideal = retrieval_eval.ideal_ranking(task)
        twin = next(
            (b for b, g in task.group_of.items() if g == task.group_of[ideal[0]] and b != ideal[0]),
            None,
        )
        if twin is not None:
            repeated = retrieval_eval.task_metrics(task, [ideal[0], twin])
            alone = retrieval_eval.task_metrics(task, [ideal[0]])
            assert repeated == alone


def test_the_product_and_every_baseline_rank_every_task_with_intervals(
    db_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    retrieval_eval.main(["--url", db_url, "--topics", str(TOPICS), "--scale", str(SCALE), "--json"])
    report = json.loads(capsys.readouterr().out)
    assert set(report["methods"]) == {PRODUCT, *BASELINES}
    assert set(report["paired_difference"]) == set(BASELINES)
    for figures in report["methods"].values():
        for metric in ("ndcg@10", "recall@10", "success@10"):
            low, mean, high = (figures[metric][k] for k in ("low", "mean", "high"))
            assert 0 <= low <= mean <= high <= 1
    assert len(report["per_task"]) == 2 * TOPICS
    assert report["checks"]["outside_readable"] == 0
    assert report["checks"]["budget"]["over"] == 0


def test_a_database_that_is_not_empty_is_refused(
    db_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["--url", db_url, "--topics", "1", "--scale", "0.05"]
    retrieval_eval.main(args)
    capsys.readouterr()
    with pytest.raises(SystemExit) as exit_:
        retrieval_eval.main(args)
    assert exit_.value.code == 2
    assert "is not empty" in capsys.readouterr().err
