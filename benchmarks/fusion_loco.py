"""Fusion settings chosen leave-one-collection-out: each collection is scored with the setting
chosen on all the others, so no figure comes from a setting tuned on its own collection.

Collections: the test splits in ../shared/data plus the classic ones that
``scripts/collections.py`` converts into benchmarks/.cache/collections (see
benchmarks/collections.md). For each query the BM25, RM3-expanded BM25 (PRF) and dense top-100
lists and the stored vectors of their chunks are retrieved once (cached in
benchmarks/.cache/loco/); every setting re-fuses those lists at document level, with the
shipped fusion and cluster feedback code.

    .venv/bin/python benchmarks/fusion_loco.py     # -> results/fusion_loco.json (+ a table)
"""

from __future__ import annotations

import argparse
import dataclasses
import itertools
import json
import pickle
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ragfusion.config import (
    DEFAULT_CLUSTER_FEEDBACK,
    DEFAULT_CLUSTER_NEIGHBOURS,
    DEFAULT_CLUSTER_TOP,
    PipelineConfig,
)
from ragfusion.evaluation.beir import Collection, load_collection
from ragfusion.evaluation.metrics import per_query
from ragfusion.evaluation.runner import DEPTH, default_index_dir
from ragfusion.pipeline import Pipeline
from ragfusion.retrieval.cluster_feedback import cluster_feedback
from ragfusion.retrieval.fusion import fuse
from ragfusion.types import Hit, RankedList

HERE = Path(__file__).resolve().parent
SHARED = HERE.parents[1] / "shared" / "data"
CLASSIC = HERE / ".cache" / "collections"
CACHE = HERE / ".cache" / "loco"
OUT = HERE / "results" / "fusion_loco.json"
SHARED_SETS = ("scifact", "pubmedqa_pqal", "cranfield")
# Never more than this below the better single retriever or plain RRF (issue 14's targets).
TOLERANCE = 0.003


@dataclasses.dataclass
class Query:
    bm25: RankedList
    prf: RankedList
    dense: RankedList
    vectors: dict[str, np.ndarray]


def collections() -> dict[str, Path]:
    found = {name: SHARED / name for name in SHARED_SETS if (SHARED / name).is_dir()}
    if CLASSIC.is_dir():
        found |= {p.name: p for p in sorted(CLASSIC.iterdir()) if (p / "corpus.jsonl").is_file()}
    return found


class _Unpickler(pickle.Unpickler):
    """Reads caches written as Query objects by an earlier run of this script as __main__."""

    def find_class(self, module: str, name: str) -> Any:
        if name == "Query":
            return Query
        return super().find_class(module, name)


def collect(name: str, collection: Collection) -> dict[str, Query]:
    """The three lists and the chunk vectors per query, cached after the first run."""
    cached = CACHE / f"{name}.pkl"
    if cached.is_file():
        with cached.open("rb") as handle:
            stored = _Unpickler(handle).load()
        data = {q: v if isinstance(v, Query) else Query(*v) for q, v in stored.items()}
        if set(data) == set(collection.queries):
            return data
    out: dict[str, Query] = {}
    with Pipeline.open(default_index_dir(collection)) as pipe:
        pipe.ingest_records(collection.corpus)  # reuses the index when unchanged
        config = dataclasses.replace(
            PipelineConfig(), prf=True, dedup="chunk", candidates=DEPTH, cluster_feedback=0.0
        )
        view = pipe.with_config(config)
        for qid, text in collection.queries.items():
            bm25, prf, dense = view.search(text, k=DEPTH).lists
            ids = {h.chunk_id for lst in (bm25, prf, dense) for h in lst.hits}
            out[qid] = Query(bm25, prf, dense, pipe.store.vectors_of(sorted(ids)))
    CACHE.mkdir(parents=True, exist_ok=True)
    # Plain tuples: the cache must not depend on the module that wrote it.
    rows = {qid: (q.bm25, q.prf, q.dense, q.vectors) for qid, q in out.items()}
    cached.write_bytes(pickle.dumps(rows))
    return out


Setting = dict[str, Any]


def grid() -> list[Setting]:
    base: list[Setting] = []
    for k, w_dense, w_prf in itertools.product((10, 30, 60), (0.5, 1.0, 2.0), (0.0, 0.5)):
        base.append({"method": "rrf", "k": k, "dense": w_dense, "prf": w_prf})
    for method, norm, w_dense, w_prf in itertools.product(
        ("combsum", "combmnz"), ("minmax", "zscore"), (0.5, 0.75, 1.0, 1.5, 2.0), (0.0, 0.5)
    ):
        base.append({"method": method, "normalization": norm, "dense": w_dense, "prf": w_prf})
    for w_dense, w_prf in itertools.product((0.5, 1.0, 1.5, 2.0), (0.0, 0.5)):
        base.append({"method": "dbsf", "dense": w_dense, "prf": w_prf})
    # Cluster feedback: off, or a weight with its neighbours and pool (5 of the best 10, the
    # setting chosen on the train splits before; 15 of the best 50).
    feedback: list[Setting] = [{"feedback": 0.0}]
    feedback += [
        {"feedback": f, "neighbours": n, "top": top}
        for f, (n, top) in ((0.25, (5, 10)), (0.5, (5, 10)), (0.5, (15, 50)), (0.6, (15, 50)))
    ]
    return [s | f for f in feedback for s in base]


PLAIN_RRF: Setting = {"method": "rrf", "k": 60, "dense": 1.0, "prf": 0.0, "feedback": 0.0}
SHIPPED: Setting = {
    "method": "combsum",
    "normalization": "minmax",
    "dense": 1.0,
    "prf": 0.0,
    "feedback": DEFAULT_CLUSTER_FEEDBACK,
    "neighbours": DEFAULT_CLUSTER_NEIGHBOURS,
    "top": DEFAULT_CLUSTER_TOP,
}


def fused(setting: Setting, query: Query) -> list[Hit]:
    lists = [query.bm25, dataclasses.replace(query.dense, weight=1.0)]
    if setting["prf"] > 0:
        lists.append(dataclasses.replace(query.prf, weight=setting["prf"]))
    options: dict[str, Any] = {
        "dedup": "document",
        "retriever_weights": {"bm25": 1.0, "dense": setting["dense"]},
    }
    if setting["method"] == "rrf":
        options["k"] = setting["k"]
    if "normalization" in setting:
        options["normalization"] = setting["normalization"]
    hits = fuse(setting["method"], lists, **options)
    if setting["feedback"] > 0:
        hits = cluster_feedback(
            hits,
            query.vectors,
            weight=setting["feedback"],
            neighbours=setting.get("neighbours", 5),
            top=setting.get("top", 10),
        )
    return hits[:DEPTH]


def single(retriever: str) -> Callable[[Query], list[Hit]]:
    def ranking(query: Query) -> list[Hit]:
        return fuse("rrf", [getattr(query, retriever)], dedup="document", limit=DEPTH)

    return ranking


def ndcg(
    collection: Collection, data: dict[str, Query], rank: Callable[[Query], list[Hit]]
) -> float:
    run = {
        qid: {h.chunk.source: float(DEPTH - i) for i, h in enumerate(rank(q))}
        for qid, q in data.items()
    }
    return float(np.mean(list(per_query(collection.qrels, run)["ndcg@10"].values())))


def choose(table: dict[str, dict[str, float]], names: Sequence[str], keys: Sequence[str]) -> str:
    """The setting with the best mean gain over plain RRF on ``names``, after a penalty for
    every collection where it falls more than TOLERANCE below RRF or the better retriever."""

    def merit(key: str) -> float:
        gains, shortfall = [], 0.0
        for name in names:
            row = table[name]
            floor = max(row["plain_rrf"], row["bm25"], row["dense"]) - TOLERANCE
            gains.append(row[key] - row["plain_rrf"])
            shortfall += max(0.0, floor - row[key])
        return float(np.mean(gains)) - 2.0 * shortfall / len(names)

    return max(keys, key=merit)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--only", help="comma-separated collection names")
    args = parser.parse_args()
    started = time.time()
    found = collections()
    if args.only:
        found = {n: p for n, p in found.items() if n in args.only.split(",")}
    settings = grid()
    keys = [json.dumps(s, sort_keys=True) for s in settings]
    table: dict[str, dict[str, float]] = {}
    for name, path in found.items():
        collection = load_collection(path, "test")
        t = time.time()
        data = collect(name, collection)
        row = {
            "bm25": ndcg(collection, data, single("bm25")),
            "dense": ndcg(collection, data, single("dense")),
            "plain_rrf": ndcg(collection, data, lambda q: fused(PLAIN_RRF, q)),
            "shipped": ndcg(collection, data, lambda q: fused(SHIPPED, q)),
        }
        for key, setting in zip(keys, settings, strict=True):
            row[key] = ndcg(collection, data, lambda q, s=setting: fused(s, q))  # type: ignore[misc]
        table[name] = row
        print(f"{name}: {len(data)} queries, {time.time() - t:.0f} s", flush=True)
    names = list(table)
    held_out = {}
    for name in names:
        others = [n for n in names if n != name]
        chosen = choose(table, others, keys)
        held_out[name] = {"setting": json.loads(chosen), "ndcg@10": table[name][chosen]}
    overall = choose(table, names, keys)
    rows = []
    for name in names:
        row = table[name]
        best_single = max(row["bm25"], row["dense"])
        loco = held_out[name]["ndcg@10"]
        rows.append(
            {
                "collection": name,
                "bm25": round(row["bm25"], 4),
                "dense": round(row["dense"], 4),
                "plain_rrf": round(row["plain_rrf"], 4),
                "shipped": round(row["shipped"], 4),
                "held_out_choice": round(loco, 4),
                "held_out_vs_rrf": round(loco - row["plain_rrf"], 4),
                "held_out_vs_best_single": round(loco - best_single, 4),
                "chosen_on_all": round(row[overall], 4),
                "held_out_setting": held_out[name]["setting"],
            }
        )
    mean = {
        col: round(float(np.mean([r[col] for r in rows])), 4)
        for col in ("bm25", "dense", "plain_rrf", "shipped", "held_out_choice", "chosen_on_all")
    }
    result = {
        "chosen_on_all": json.loads(overall),
        "rows": rows,
        "mean": mean,
        "held_out_mean_gain_over_rrf": round(
            float(np.mean([r["held_out_vs_rrf"] for r in rows])), 4
        ),
        "shipped_mean_gain_over_rrf": round(mean["shipped"] - mean["plain_rrf"], 4),
        "n_settings": len(settings),
        "ndcg@10": {n: {k: round(v, 4) for k, v in r.items()} for n, r in table.items()},
        "seconds": round(time.time() - started),
    }
    OUT.parent.mkdir(exist_ok=True)
    OUT.write_text(json.dumps(result, indent=2) + "\n")
    cols = [
        "bm25",
        "dense",
        "plain_rrf",
        "shipped",
        "held_out_choice",
        "held_out_vs_rrf",
        "held_out_vs_best_single",
    ]
    print("| collection | " + " | ".join(cols) + " |")
    print("|---" * (len(cols) + 1) + "|")
    for r in rows:
        print(f"| {r['collection']} | " + " | ".join(f"{r[c]:.4f}" for c in cols) + " |")
    print(json.dumps({k: v for k, v in result.items() if k not in ("rows", "ndcg@10")}, indent=2))


if __name__ == "__main__":
    main()
