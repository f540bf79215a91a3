"""Retrieval quality of every mode on every collection in ../shared/data, and the targets.

    .venv/bin/python benchmarks/quality.py                  # cheap modes, all queries
    .venv/bin/python benchmarks/quality.py --llm --limit 100  # + LLM modes (rewrites, HyDE)

Writes results/quality.json (or results/quality-llm.json with --llm) and prints a Markdown
table. Indexes are cached per collection (the same ones `ragfusion eval` uses).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

import numpy as np

from ragfusion import Pipeline
from ragfusion.evaluation.beir import load_collection
from ragfusion.evaluation.runner import default_index_dir, evaluate

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
RESULTS = Path(__file__).resolve().parent / "results"
COLLECTIONS = ("scifact", "cranfield", "pubmedqa_pqal")
CHEAP = ("bm25", "dense", "hybrid", "prf", "default", "oracle")
LLM_MODES = ("hybrid", "fusion", "hyde", "default")


def targets(reports: dict[str, dict[str, Any]]) -> dict[str, Any]:
    ndcg = {name: {m: r["modes"][m]["ndcg@10"] for m in r["modes"]} for name, r in reports.items()}
    gains = {name: round(v["default"] - v["hybrid"], 4) for name, v in ndcg.items()}
    return {
        "default_beats_both_singles": {
            n: v["default"] > max(v["bm25"], v["dense"]) for n, v in ndcg.items() if "bm25" in v
        },
        "default_minus_plain_rrf": gains,
        "p_default_vs_plain_rrf": {
            n: r["modes"]["default"].get("p_vs_hybrid") for n, r in reports.items()
        },
        "mean_gain_over_plain_rrf": round(float(np.mean(list(gains.values()))), 4),
        "never_below_plain_rrf_by_0.005": all(g >= -0.005 for g in gains.values()),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--llm", action="store_true", help="run the LLM modes instead")
    parser.add_argument("--limit", type=int, default=None, help="first N queries only")
    args = parser.parse_args()
    modes = LLM_MODES if args.llm else CHEAP
    reports = {}
    started = time.time()
    for name in COLLECTIONS:
        collection = load_collection(DATA / name, "test")
        with Pipeline.open(default_index_dir(collection)) as pipe:
            pipe.ingest_records(collection.corpus)
            reports[name] = evaluate(pipe, collection, modes, limit=args.limit)
        print(f"{name}: done", flush=True)
    result = {
        "modes": modes,
        "limit": args.limit,
        "seconds": round(time.time() - started),
        "collections": reports,
        "targets": targets(reports),
    }
    RESULTS.mkdir(exist_ok=True)
    out = RESULTS / ("quality-llm.json" if args.llm else "quality.json")
    out.write_text(json.dumps(result, indent=2) + "\n")
    print("| mode | " + " | ".join(COLLECTIONS) + " |")
    print("|---" * (len(COLLECTIONS) + 1) + "|")
    for mode in modes:
        cells = []
        for name in COLLECTIONS:
            m = reports[name]["modes"][mode]
            cells.append(f"{m['ndcg@10']:.4f}")
        print(f"| {mode} | " + " | ".join(cells) + " |")
    print(json.dumps(result["targets"], indent=2))


if __name__ == "__main__":
    main()
