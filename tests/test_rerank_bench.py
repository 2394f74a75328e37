"""The reranker measurement (bench/rerank.py) keeps its promises, on both databases, small.

The real models are not installed here (they live in a separate environment, see the
bench's docstring): the runs below use a deterministic embedding written for this test,
each word hashed to one of 64 dimensions. What it measures is in BENCHMARKS.md.
"""

from __future__ import annotations

import hashlib
import sqlite3
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy.engine import Engine

from bench import rerank
from bench.generated import NOW
from core import clock
from core.context import ScoredBlock, assemble_context
from core.db import UnitOfWork
from core.models import Agent, BlockType, SourceKind, Tier


class HashedWords(rerank.Model):
    """A bag of words, each word hashed to one of 64 dimensions, normalised (test only)."""

    name = "hashed"

    def _one(self, text: str) -> np.ndarray:
        vector = np.zeros(64, dtype=np.float32)
        for word in text.lower().split():
            vector[int(hashlib.sha256(word.encode()).hexdigest(), 16) % 64] += 1
        norm = float(np.linalg.norm(vector))
        return vector / norm if norm else vector

    def query(self, text: str) -> np.ndarray:
        return self._one(text)

    def passages(self, texts: Sequence[str]) -> np.ndarray:
        return np.stack([self._one(text) for text in texts])


def _block(block_id: int, score: float) -> ScoredBlock:
    return ScoredBlock(
        id=block_id,
        tier=Tier.PERSONAL,
        type=BlockType.LEARNING,
        content=f"block {block_id}",
        importance=0.5,
        recency=1.0,
        relevance=score,
        score=score,
        source_kind=SourceKind.SLACK_USER,
        tokens=2,
    )


def test_standing_orders_keep_their_slots_after_the_reranked_blocks() -> None:
    earned = [_block(i, 1.0 - i / 100) for i in range(1, 21)]
    cosines = {b.id: -b.id / 100 for b in earned}  # the similarity reverses the order
    for variant in rerank.VARIANTS:
        ranking = rerank.reranked(variant, earned, [], cosines, standing=[90, 91])
        assert len(ranking) == rerank.LIMIT
        assert ranking[-2:] == [90, 91]


def test_equal_similarities_keep_the_products_order() -> None:
    earned = [_block(i, 1.0 - i / 100) for i in range(1, 21)]
    cosines = dict.fromkeys((b.id for b in earned), 0.8)
    for variant in rerank.VARIANTS:
        assert rerank.reranked(variant, earned, [], cosines, standing=[]) == list(range(1, 11))


def test_only_the_pool_variant_brings_blocks_the_words_missed() -> None:
    earned = [_block(i, 1.0) for i in range(1, 4)]
    cosines = {1: 0.1, 2: 0.1, 3: 0.1, 50: 0.9}
    assert 50 in rerank.reranked("pool", earned, [50], cosines, standing=[])
    for variant in ("x2", "mix", "rrf"):
        assert 50 not in rerank.reranked(variant, earned, [50], cosines, standing=[])


@pytest.mark.parametrize("name", sorted(rerank.SETS))
def test_a_run_scores_the_product_as_it_answers_and_every_variant_per_task(
    engine: Engine, tmp_path: Path, name: str
) -> None:
    cases = rerank.SETS[name](engine, 5, True)
    model = HashedWords()
    texts = rerank.block_texts(engine)
    vectors = dict(zip(texts, model.passages(list(texts.values())), strict=True))
    store = sqlite3.connect(tmp_path / "vectors.db")
    store.execute("CREATE TABLE block_vector (block_id INTEGER PRIMARY KEY, vector BLOB)")
    store.executemany(
        "INSERT INTO block_vector VALUES (?, ?)", [(i, v.tobytes()) for i, v in vectors.items()]
    )
    result = rerank.run(engine, cases, model, vectors, store)
    store.close()

    assert set(result.per_variant) == {"product", *rerank.VARIANTS}
    assert all(len(rows) == len(cases) for rows in result.per_variant.values())
    assert len(result.embed_ms) == len(result.rerank_ms) == len(cases)
    with clock.frozen_at(NOW), UnitOfWork(engine, readonly=True) as uow:
        for case, row in zip(cases, result.per_variant["product"], strict=True):
            agent = uow.session.get(Agent, case.agent_id)
            assert agent is not None
            answer = assemble_context(
                uow.session, agent, case.text, limit=rerank.LIMIT, token_budget=rerank.NO_BUDGET
            )
            assert row == case.metrics([block.id for block in answer.blocks])
            assert all(0 <= value <= 1 for value in row.values())
