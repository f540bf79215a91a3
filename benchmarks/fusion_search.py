"""Choose the default fusion on train splits only, then report it on every test split.

For each labelled query, the BM25, RM3-expanded BM25 (PRF) and dense lists are retrieved
once; every fusion setting in the grid re-fuses those same lists. Settings are ranked by
their mean nDCG@10 gain over plain RRF (k=60, equal weights) across the train splits.
Collections without a train split (cranfield) are never used for choosing: they show how
the choice carries to a collection it has not seen.

    .venv/bin/python benchmarks/fusion_search.py            # writes results/fusion_search.json
"""

from __future__ import annotations

import dataclasses
import itertools
import json
import time
from pathlib import Path
from typing import Any

import numpy as np
from splits import DATA, TEST, TRAIN

from ragfusion.config import PipelineConfig
from ragfusion.evaluation.beir import Collection, load_collection
from ragfusion.evaluation.metrics import per_query
from ragfusion.evaluation.runner import DEPTH, default_index_dir
from ragfusion.pipeline import Pipeline
from ragfusion.retrieval.fusion import fuse
from ragfusion.types import RankedList

OUT = Path(__file__).resolve().parent / "results" / "fusion_search.json"

Lists = dict[str, list[RankedList]]


def collect(collection: Collection) -> Lists:
    """[bm25, prf, dense] lists per query, deduplicated to documents."""
    with Pipeline.open(default_index_dir(collection)) as pipe:
        pipe.ingest_records(collection.corpus)  # reuses the index when unchanged
        view = pipe.with_config(
            dataclasses.replace(PipelineConfig(), prf=True, dedup="document", candidates=DEPTH)
        )
        return {
            qid: list(view.search(text, k=DEPTH).lists) for qid, text in collection.queries.items()
        }


def settings() -> list[dict[str, Any]]:
    grid: list[dict[str, Any]] = []
    for k, w_dense, w_prf in itertools.product(
        (5, 10, 20, 30, 60, 100), (0.5, 0.75, 1.0, 1.5, 2.0), (0.0, 0.5, 1.0)
    ):
        grid.append({"method": "rrf", "k": k, "dense": w_dense, "prf": w_prf})
    for method, norm, w_dense, w_prf in itertools.product(
        ("combsum", "combmnz"), ("minmax", "zscore"), (0.5, 1.0, 1.5, 2.0), (0.0, 0.5, 1.0)
    ):
        grid.append({"method": method, "normalization": norm, "dense": w_dense, "prf": w_prf})
    for alpha, norm, w_prf in itertools.product(
        (0.3, 0.4, 0.5, 0.6, 0.7, 0.8), ("minmax", "zscore"), (0.0, 0.5)
    ):
        grid.append({"method": "convex", "normalization": norm, "dense": alpha, "prf": w_prf})
    for w_dense, w_prf in itertools.product((0.5, 1.0, 1.5, 2.0), (0.0, 0.5, 1.0)):
        grid.append({"method": "dbsf", "dense": w_dense, "prf": w_prf})
    return grid


def fuse_with(setting: dict[str, Any], lists: list[RankedList]) -> list[str]:
    bm25, prf, dense = lists
    chosen = [bm25, dense] + (
        [dataclasses.replace(prf, weight=setting["prf"])] if setting["prf"] > 0 else []
    )
    options: dict[str, Any] = {"dedup": "document", "limit": DEPTH}
    if setting["method"] == "convex":
        # convex: alpha on dense, 1 - alpha on BM25 (the PRF list counts as BM25)
        options["retriever_weights"] = {"bm25": 1 - setting["dense"], "dense": setting["dense"]}
    else:
        options["retriever_weights"] = {"bm25": 1.0, "dense": setting["dense"]}
    if setting["method"] == "rrf":
        options["k"] = setting["k"]
    if "normalization" in setting:
        options["normalization"] = setting["normalization"]
    return [hit.chunk.source for hit in fuse(setting["method"], chosen, **options)]


def ndcg(collection: Collection, lists: Lists, setting: dict[str, Any]) -> float:
    run = {
        qid: {s: float(DEPTH - i) for i, s in enumerate(fuse_with(setting, per_q))}
        for qid, per_q in lists.items()
    }
    return float(np.mean(list(per_query(collection.qrels, run)["ndcg@10"].values())))


def main() -> None:
    started = time.time()
    plain = {"method": "rrf", "k": 60, "dense": 1.0, "prf": 0.0}
    data = {}
    for name, split in dict.fromkeys(TRAIN + TEST):
        collection = load_collection(DATA / name, split)
        data[(name, split)] = (collection, collect(collection))
        print(f"collected {name}/{split}: {len(collection.queries)} queries", flush=True)
    grid = settings()
    train_rows = []
    for setting in grid:
        gains = {f"{n}/{s}": ndcg(*data[(n, s)], setting) for n, s in TRAIN}
        train_rows.append({"setting": setting, "train_ndcg@10": gains})
    base = {f"{n}/{s}": ndcg(*data[(n, s)], plain) for n, s in TRAIN}
    for row in train_rows:
        row["mean_gain_over_plain_rrf"] = float(
            np.mean([row["train_ndcg@10"][key] - base[key] for key in base])
        )
    train_rows.sort(key=lambda r: -r["mean_gain_over_plain_rrf"])
    best = train_rows[0]["setting"]
    test = {}
    for name, split in TEST:
        collection, lists = data[(name, split)]
        bm25 = {"method": "rrf", "k": 60, "dense": 0.0, "prf": 0.0}
        test[f"{name}/{split}"] = {
            "chosen": round(ndcg(collection, lists, best), 4),
            "plain_rrf": round(ndcg(collection, lists, plain), 4),
            "bm25_only": round(ndcg(collection, lists, bm25), 4),
        }
    result = {
        "chosen": best,
        "plain_rrf_train": base,
        "top_train": train_rows[:15],
        "n_settings": len(grid),
        "test": test,
        "seconds": round(time.time() - started),
    }
    OUT.parent.mkdir(exist_ok=True)
    OUT.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps({"chosen": best, "test": test}, indent=2))


if __name__ == "__main__":
    main()
