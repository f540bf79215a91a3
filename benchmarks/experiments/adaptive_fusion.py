"""Query-adaptive fusion weights, chosen leave-one-collection-out.

For every query of every collection in ``benchmarks/fusion_loco.py`` (its cached lists, so run
that first), nDCG@10 is computed for CombSUM min-max with the dense list weighted ``w`` and
cluster feedback ``f``. A rule maps per-query signals that a search has at hand (query length,
agreement of the two top-10 lists, the dense top cosine and its gap, the BM25 score gap, how
alike the top hits of each list are) to a setting. Rules are chosen on 10 collections and
judged on the eleventh, with the merit of ``fusion_loco.choose``.

    .venv/bin/python benchmarks/experiments/adaptive_fusion.py   # -> results/adaptive_fusion.json
"""

from __future__ import annotations

import itertools
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import fusion_loco as loco

from ragfusion.evaluation.beir import load_collection
from ragfusion.evaluation.metrics import per_query
from ragfusion.stores.cosine import unit_rows

OUT = loco.HERE / "results" / "adaptive_fusion.json"
WEIGHTS = (0.33, 0.5, 0.7, 1.0, 1.4, 2.0, 3.0)
FEEDBACK = (0.0, 0.25, 0.5)
SETTINGS = [
    {"method": "combsum", "normalization": "minmax", "dense": w, "prf": 0.0, "feedback": f}
    for f, w in itertools.product(FEEDBACK, WEIGHTS)
]


def _coherence(query: loco.Query, hits: Any, top: int = 10) -> float:
    rows = [query.vectors[h.chunk_id] for h in hits[:top] if h.chunk_id in query.vectors]
    if len(rows) < 2:
        return 0.0
    m = unit_rows(np.stack(rows)).astype(np.float64)
    sims = m @ m.T
    n = len(rows)
    return float((sims.sum() - n) / (n * (n - 1)))


def signals(query: loco.Query) -> dict[str, float]:
    bm25 = [h.score for h in query.bm25.hits]
    dense = [h.score for h in query.dense.hits]
    top_b = {h.chunk.source for h in query.bm25.hits[:10]}
    top_d = {h.chunk.source for h in query.dense.hits[:10]}
    return {
        "words": float(len(query.bm25.query.split())),
        "overlap10": len(top_b & top_d) / 10.0,
        "dense_top": dense[0] if dense else 0.0,
        "dense_gap": (dense[0] - dense[min(9, len(dense) - 1)]) if dense else 0.0,
        "bm25_gap": (bm25[0] - bm25[min(9, len(bm25) - 1)]) / bm25[0] if bm25 and bm25[0] else 0.0,
        "coherence_dense": _coherence(query, query.dense.hits),
        "coherence_bm25": _coherence(query, query.bm25.hits),
    }


def main() -> None:
    names: list[str] = []
    table: dict[str, dict[str, Any]] = {}
    for name, path in loco.collections().items():
        collection = load_collection(path, "test")
        data = loco.collect(name, collection)
        qids = [q for q in collection.qrels if q in data]

        def ndcgs(rank: Any, c: Any = collection, d: Any = data, q: Any = qids) -> np.ndarray:
            run = {
                qid: {h.chunk.source: float(loco.DEPTH - i) for i, h in enumerate(rank(d[qid]))}
                for qid in q
            }
            values = per_query(c.qrels, run)["ndcg@10"]
            return np.array([values[qid] for qid in q])

        per_setting = np.stack([ndcgs(lambda x, s=s: loco.fused(s, x)) for s in SETTINGS])
        table[name] = {
            "settings": per_setting,
            "rrf": ndcgs(lambda x: loco.fused(loco.PLAIN_RRF, x)),
            "bm25": ndcgs(loco.single("bm25")),
            "dense": ndcgs(loco.single("dense")),
            "signals": [signals(data[q]) for q in qids],
        }
        names.append(name)
        print(name, len(qids), flush=True)

    # Every rule as its mean nDCG@10 on each collection: a fixed setting, or one setting below
    # a signal's threshold and another above it.
    count = len(SETTINGS)
    labels: list[str] = [f"fixed {s}" for s in SETTINGS]
    means = [
        np.array([table[n]["settings"][i].mean() for n in names]) for i in range(len(SETTINGS))
    ]
    for key in table[names[0]]["signals"][0]:
        values = np.array([s[key] for n in names for s in table[n]["signals"]])
        for cut in np.unique(np.quantile(values, np.linspace(0.1, 0.9, 9))):
            below = []
            above = []
            for n in names:
                mask = np.array([s[key] < cut for s in table[n]["signals"]])
                grid = table[n]["settings"]
                below.append(grid[:, mask].sum(axis=1) / mask.size)
                above.append(grid[:, ~mask].sum(axis=1) / mask.size)
            low = np.stack(below, axis=1)  # settings x collections
            high = np.stack(above, axis=1)
            for lo, hi in itertools.product(range(count), repeat=2):
                if lo != hi:
                    labels.append(f"{key}<{cut:.3f}: {SETTINGS[lo]} else {SETTINGS[hi]}")
                    means.append(low[lo] + high[hi])
    matrix = np.stack(means)  # rules x collections
    rrf = np.array([table[n]["rrf"].mean() for n in names])
    best = np.array([max(table[n]["bm25"].mean(), table[n]["dense"].mean()) for n in names])
    floor = np.maximum(rrf, best) - loco.TOLERANCE
    gain = matrix - rrf
    short = np.maximum(0.0, floor - matrix)
    print(len(labels), "rules", flush=True)

    def choose(on: np.ndarray) -> int:
        merit = gain[:, on].mean(axis=1) - 2.0 * short[:, on].sum(axis=1) / on.sum()
        return int(np.argmax(merit))

    # The default when this was run: CombSUM min-max, cluster feedback 0.5 over 5 of the best 10.
    shipped_index = SETTINGS.index(
        {"method": "combsum", "normalization": "minmax", "dense": 1.0, "prf": 0.0, "feedback": 0.5}
    )
    result_rows = []
    for c, name in enumerate(names):
        others = np.array([n != name for n in names])
        pick = choose(others)
        value = float(matrix[pick, c])
        result_rows.append(
            {
                "collection": name,
                "bm25": round(float(table[name]["bm25"].mean()), 4),
                "dense": round(float(table[name]["dense"].mean()), 4),
                "plain_rrf": round(float(rrf[c]), 4),
                "shipped": round(float(matrix[shipped_index, c]), 4),
                "held_out_rule": round(value, 4),
                "vs_rrf": round(value - float(rrf[c]), 4),
                "vs_best_single": round(value - float(best[c]), 4),
                "rule": labels[pick],
            }
        )
        print(json.dumps(result_rows[-1]), flush=True)
    overall = choose(np.ones(len(names), dtype=bool))
    result = {
        "rows": result_rows,
        "held_out_mean_gain_over_rrf": round(float(np.mean([r["vs_rrf"] for r in result_rows])), 4),
        "shipped_mean_gain_over_rrf": round(float(gain[shipped_index].mean()), 4),
        "chosen_on_all": labels[overall],
        "chosen_on_all_per_collection": dict(
            zip(names, [round(float(v), 4) for v in matrix[overall]], strict=True)
        ),
        "chosen_on_all_mean_gain_over_rrf": round(float(gain[overall].mean()), 4),
        "n_rules": len(labels),
    }
    OUT.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps({k: v for k, v in result.items() if k != "rows"}, indent=2))


if __name__ == "__main__":
    main()
