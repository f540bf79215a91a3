"""Cluster feedback (score regularisation by the cluster hypothesis): does pulling each fused
candidate's score towards that of its nearest neighbours among the top fused documents help?
Documents that resemble other highly ranked documents tend to be relevant too. Issue 6.

For each query the default fusion (CombSUM, min-max, document level) is computed from the
BM25 and dense top-100 lists. Then the shipped ``ragfusion.retrieval.cluster_feedback`` turns every
candidate's score into ``(1 - lam) * own + lam * neighbours``, where ``neighbours`` is the
cosine-weighted mean fused score of its ``k`` most similar documents among the ``top`` best
ones (stored vectors of each document's best chunk). Settings are ranked on the train splits
only: by the smaller of the two train gains (the target forbids losing on any collection),
then by the mean.

    .venv/bin/python benchmarks/cluster_feedback.py    # -> results/cluster_feedback.json (~2 min)
"""

import dataclasses
import itertools
import json
import time
from pathlib import Path

import numpy as np
from splits import DATA, TEST, TRAIN

from ragfusion.config import PipelineConfig
from ragfusion.evaluation.beir import Collection, load_collection
from ragfusion.evaluation.metrics import per_query
from ragfusion.evaluation.runner import DEPTH, default_index_dir
from ragfusion.pipeline import Pipeline
from ragfusion.retrieval.cluster_feedback import cluster_feedback
from ragfusion.retrieval.fusion import fuse
from ragfusion.types import Hit

OUT = Path(__file__).resolve().parent / "results" / "cluster_feedback.json"
GRID = list(itertools.product((0.1, 0.2, 0.3, 0.5), (3, 5, 10), (10, 20, 50)))

# per query: the plain-RRF order, the default's fused hits (before feedback), their vectors
Prepared = tuple[list[str], list[Hit], dict[str, np.ndarray]]


def collect(collection: Collection) -> dict[str, Prepared]:
    out: dict[str, Prepared] = {}
    with Pipeline.open(default_index_dir(collection)) as pipe:
        pipe.ingest_records(collection.corpus)
        view = pipe.with_config(
            dataclasses.replace(PipelineConfig(), dedup="chunk", candidates=DEPTH)
        )
        for qid, text in collection.queries.items():
            lists = [
                x for x in view.search(text, k=DEPTH).lists if x.retriever in ("bm25", "dense")
            ]
            plain = fuse("rrf", lists, k=60, dedup="document", limit=DEPTH)
            fused = fuse("combsum", lists, normalization="minmax", dedup="document")
            vectors = pipe.store.vectors_of([h.chunk_id for h in fused])
            out[qid] = ([h.chunk.source for h in plain], fused, vectors)
    return out


def regularised(
    fused: list[Hit], vectors: dict[str, np.ndarray], lam: float, k: int, top: int
) -> list[str]:
    """The shipped cluster feedback (ragfusion.retrieval.cluster_feedback) with these settings."""
    out = cluster_feedback(fused, vectors, weight=lam, neighbours=k, top=top)
    return [h.chunk.source for h in out[:DEPTH]]


def ndcg(collection: Collection, runs: dict[str, list[str]]) -> float:
    run = {q: {s: float(len(r) - i) for i, s in enumerate(r)} for q, r in runs.items()}
    return float(np.mean(list(per_query(collection.qrels, run)["ndcg@10"].values())))


def main() -> None:
    started = time.time()
    table: dict[str, dict[str, float]] = {}
    for name, split in TRAIN + TEST:
        collection = load_collection(DATA / name, split)
        data = collect(collection)
        row = {
            "plain_rrf": ndcg(collection, {q: p for q, (p, _, _) in data.items()}),
            "default": ndcg(
                collection, {q: regularised(f, s, 0.0, 1, 2) for q, (_, f, s) in data.items()}
            ),
        }
        for lam, k, top in GRID:
            row[f"lam={lam} k={k} top={top}"] = ndcg(
                collection, {q: regularised(f, s, lam, k, top) for q, (_, f, s) in data.items()}
            )
        table[f"{name}/{split}"] = {key: round(v, 4) for key, v in row.items()}
        print(f"{name}/{split}", table[f"{name}/{split}"]["default"], flush=True)
    train = [f"{n}/{s}" for n, s in TRAIN]
    test = [f"{n}/{s}" for n, s in TEST]

    def gains(setting: str, keys: list[str]) -> list[float]:
        return [table[key][setting] - table[key]["default"] for key in keys]

    ranked = sorted(
        (f"lam={lam} k={k} top={top}" for lam, k, top in GRID),
        key=lambda s: (-min(gains(s, train)), -float(np.mean(gains(s, train)))),
    )
    chosen = ranked[0]
    result = {
        "ndcg@10": table,
        "chosen_on_train": chosen,
        "train_gain_over_default": dict(zip(train, np.round(gains(chosen, train), 4), strict=True)),
        "test_gain_over_default": dict(zip(test, np.round(gains(chosen, test), 4), strict=True)),
        "test_gain_over_plain_rrf": {
            key: round(table[key][chosen] - table[key]["plain_rrf"], 4) for key in test
        },
        "seconds": round(time.time() - started),
    }
    OUT.write_text(json.dumps(result, indent=2, default=float) + "\n")
    print(json.dumps({k: v for k, v in result.items() if k != "ndcg@10"}, indent=2, default=float))


if __name__ == "__main__":
    main()
