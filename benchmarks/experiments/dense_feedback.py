"""Dense pseudo-relevance feedback (Rocchio in the embedding space), chosen
leave-one-collection-out.

The question's vector moves towards the mean vector of the ``top`` best fused hits,
``q' = unit(q + beta * unit(mean(top)))``, and every candidate of the first search (the union of
the BM25, RM3 and dense top-100 lists, whose vectors are already read for cluster feedback) is
re-scored by its cosine with ``q'``. That list takes the dense list's place, and the two are
fused again. It carries the BM25 list's evidence into the dense scores, where cluster feedback
only moves scores between neighbours. Uses the cached lists of ``benchmarks/fusion_loco.py``
(run that first); the questions are embedded once here.

    .venv/bin/python benchmarks/experiments/dense_feedback.py   # -> results/dense_feedback.json
"""

from __future__ import annotations

import itertools
import json
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import fusion_loco as loco

from ragfusion.embedders import make_embedder
from ragfusion.evaluation.beir import load_collection
from ragfusion.evaluation.metrics import per_query
from ragfusion.retrieval.cluster_feedback import cluster_feedback
from ragfusion.retrieval.fusion import fuse
from ragfusion.stores.cosine import unit_rows
from ragfusion.types import Hit, RankedList

OUT = loco.HERE / "results" / "dense_feedback.json"
FIRST = {"method": "combsum", "normalization": "minmax", "dense": 1.0, "prf": 0.0, "feedback": 0.0}


def moved_dense(query: loco.Query, vector: np.ndarray, beta: float, top: int) -> RankedList:
    """The candidates re-scored by their cosine with the question's vector moved towards the
    mean of the ``top`` best fused hits (beta 0: the question's own vector)."""
    pool: dict[str, Hit] = {}
    for lst in (query.bm25, query.prf, query.dense):
        for hit in lst.hits:
            pool.setdefault(hit.chunk_id, hit)
    ids = [c for c in pool if c in query.vectors]
    matrix = unit_rows(np.stack([query.vectors[c] for c in ids])).astype(np.float64)
    q = unit_rows([vector])[0].astype(np.float64)
    if beta > 0:
        first = loco.fused(FIRST, query)[:top]
        rows = [query.vectors[h.chunk_id] for h in first if h.chunk_id in query.vectors]
        if rows:
            centre = unit_rows([np.mean(unit_rows(np.stack(rows)), axis=0)])[0]
            q = unit_rows([q + beta * centre])[0].astype(np.float64)
    scores = matrix @ q
    order = np.argsort(-scores, kind="stable")[: loco.DEPTH]
    hits = tuple(Hit(pool[ids[i]].chunk, float(scores[i])) for i in order)
    return RankedList(query.dense.query, "dense", hits)


def fused(setting: dict[str, Any], query: loco.Query, dense: RankedList) -> list[Hit]:
    lists = [query.bm25, dense]
    options: dict[str, Any] = {
        "dedup": "document",
        "retriever_weights": {"bm25": 1.0, "dense": setting["dense"]},
    }
    if setting["method"] == "rrf":
        options["k"] = 60
    else:
        options["normalization"] = "minmax"
    hits = fuse(setting["method"], lists, **options)
    if setting["feedback"] > 0:
        hits = cluster_feedback(
            hits, query.vectors, weight=setting["feedback"], neighbours=5, top=10
        )
    return hits[: loco.DEPTH]


def grid() -> list[dict[str, Any]]:
    out = []
    for method, w, beta, top, f in itertools.product(
        ("combsum", "combmnz", "rrf"), (1.0, 1.5, 2.0), (0.0, 0.5, 1.0, 2.0), (5, 10), (0.0, 0.5)
    ):
        if beta == 0 and top == 10:
            continue
        out.append({"method": method, "dense": w, "beta": beta, "top": top, "feedback": f})
    return out


def main() -> None:
    started = time.time()
    embedder = make_embedder()
    settings = grid()
    names: list[str] = []
    rows: list[dict[str, Any]] = []
    table: dict[str, dict[str, float]] = {}
    for name, path in loco.collections().items():
        collection = load_collection(path, "test")
        data = loco.collect(name, collection)
        qids = sorted(data)
        vectors = dict(
            zip(qids, embedder.embed_queries([collection.queries[q] for q in qids]), strict=True)
        )
        moved: dict[tuple[float, int], dict[str, RankedList]] = {}
        for beta, top in {(s["beta"], s["top"]) for s in settings}:
            moved[(beta, top)] = {q: moved_dense(data[q], vectors[q], beta, top) for q in qids}

        def ndcg(rank: Any, c: Any = collection, q: Any = qids) -> float:
            run = {
                qid: {h.chunk.source: float(loco.DEPTH - i) for i, h in enumerate(rank(qid))}
                for qid in q
            }
            return float(np.mean(list(per_query(c.qrels, run)["ndcg@10"].values())))

        row = {
            "bm25": ndcg(lambda q, d=data: loco.single("bm25")(d[q])),
            "dense": ndcg(lambda q, d=data: loco.single("dense")(d[q])),
            "plain_rrf": ndcg(lambda q, d=data: loco.fused(loco.PLAIN_RRF, d[q])),
            "shipped": ndcg(lambda q, d=data: loco.fused(loco.SHIPPED, d[q])),
        }
        for s in settings:
            key = json.dumps(s, sort_keys=True)
            lists = moved[(s["beta"], s["top"])]
            row[key] = ndcg(lambda q, d=data, s=s, m=lists: fused(s, d[q], m[q]))
        table[name] = row
        names.append(name)
        print(f"{name}: {time.time() - started:.0f} s", flush=True)
    keys = [json.dumps(s, sort_keys=True) for s in settings]
    for name in names:
        others = [n for n in names if n != name]
        chosen = loco.choose(table, others, keys)
        r = table[name]
        rows.append(
            {
                "collection": name,
                "plain_rrf": round(r["plain_rrf"], 4),
                "shipped": round(r["shipped"], 4),
                "held_out": round(r[chosen], 4),
                "vs_rrf": round(r[chosen] - r["plain_rrf"], 4),
                "vs_best_single": round(r[chosen] - max(r["bm25"], r["dense"]), 4),
                "setting": json.loads(chosen),
            }
        )
        print(json.dumps(rows[-1]), flush=True)
    overall = loco.choose(table, names, keys)
    result = {
        "rows": rows,
        "held_out_mean_gain_over_rrf": round(float(np.mean([r["vs_rrf"] for r in rows])), 4),
        "chosen_on_all": json.loads(overall),
        "chosen_on_all_gain_over_rrf": round(
            float(np.mean([table[n][overall] - table[n]["plain_rrf"] for n in names])), 4
        ),
        "chosen_on_all_worst_vs_floor": round(
            min(
                table[n][overall] - max(table[n][k] for k in ("plain_rrf", "bm25", "dense"))
                for n in names
            ),
            4,
        ),
        "ndcg@10": {n: {k: round(v, 4) for k, v in r.items()} for n, r in table.items()},
        "seconds": round(time.time() - started),
    }
    OUT.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps({k: v for k, v in result.items() if k not in ("rows", "ndcg@10")}, indent=2))


if __name__ == "__main__":
    main()
