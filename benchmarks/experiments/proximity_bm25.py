"""BM25 with term-pair proximity as the lexical leg: an experiment for issue 6 (not adopted).

The BM25 query plus a phrase clause (slop 1, 3 or 8; boost 0.25-1) for every pair of adjacent
analysed query terms, fused with dense by the default CombSUM, against the default and plain
RRF, on the train and test splits. Prints the nDCG@10 difference to the default per setting.

    .venv/bin/python benchmarks/experiments/proximity_bm25.py   # -> results/proximity_bm25.json
"""

import dataclasses
import itertools
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from splits import DATA, SETS

from ragfusion.config import PipelineConfig
from ragfusion.evaluation.beir import load_collection
from ragfusion.evaluation.metrics import per_query
from ragfusion.evaluation.runner import DEPTH, default_index_dir
from ragfusion.pipeline import Pipeline
from ragfusion.retrieval.fusion import fuse
from ragfusion.types import RankedList

OUT = Path(__file__).resolve().parents[1] / "results" / "proximity_bm25.json"
SETTINGS = [(slop, boost) for slop in (1, 3, 8) for boost in (0.25, 0.5, 1.0)]


def prox_query(bm, text, slop, boost):
    tv = bm._tv
    terms = bm._analyzer.analyze(text)
    clauses = [(tv.Occur.Should, tv.Query.term_query(bm._schema, "text", t)) for t in terms]
    for a, b in itertools.pairwise(terms):
        if a != b:
            clauses.append(
                (
                    tv.Occur.Should,
                    tv.Query.boost_query(
                        tv.Query.phrase_query(bm._schema, "text", [a, b], slop=slop), boost
                    ),
                )
            )
    return tv.Query.boolean_query(clauses) if clauses else None


def collect(name, split):
    col = load_collection(DATA / name, split)
    out = {}
    with Pipeline.open(default_index_dir(col)) as pipe:
        pipe.ingest_records(col.corpus)
        view = pipe.with_config(
            dataclasses.replace(PipelineConfig(), dedup="chunk", candidates=DEPTH)
        )
        store = pipe.store
        bm = store._bm25
        searcher = bm._index.searcher()
        for qid, text in col.queries.items():
            res = view.search(text, k=DEPTH)
            bm25 = next(x for x in res.lists if x.retriever == "bm25")
            dense = next(x for x in res.lists if x.retriever == "dense")
            prox = {}
            for slop, boost in SETTINGS:
                q = prox_query(bm, text, slop, boost)
                rows = bm._run(searcher, q, None, DEPTH) if q is not None else []
                prox[(slop, boost)] = RankedList(
                    text, "bm25", tuple(store._to_hits([rows], DEPTH)[0])
                )
            out[qid] = (bm25, dense, prox)
    return col, out


def ndcg(col, data, f):
    run = {}
    for qid, lists in data.items():
        hits = f(*lists)
        run[qid] = {h.chunk.source: float(len(hits) - i) for i, h in enumerate(hits)}
    return round(float(np.mean(list(per_query(col.qrels, run)["ndcg@10"].values()))), 4)


def cs(lists):
    return fuse("combsum", lists, normalization="minmax", dedup="document", limit=DEPTH)


def main() -> None:
    settings = {
        "plain": lambda b, d, p: fuse("rrf", [b, d], k=60, dedup="document", limit=DEPTH),
        "default": lambda b, d, p: cs([b, d]),
        "bm25_only": lambda b, d, p: fuse("rrf", [b], k=60, dedup="document", limit=DEPTH),
    }
    for key in SETTINGS:
        settings[f"prox{key}"] = lambda b, d, p, s=key: cs([p[s], d])
        settings[f"prox_only{key}"] = lambda b, d, p, s=key: fuse(
            "rrf", [p[s]], k=60, dedup="document", limit=DEPTH
        )
    res = {}
    for name, split in SETS:
        t = time.time()
        col, data = collect(name, split)
        res[f"{name}/{split}"] = {k: ndcg(col, data, f) for k, f in settings.items()}
        print(name, split, round(time.time() - t), flush=True)
        OUT.write_text(json.dumps(res, indent=2) + "\n")
    base = {s: res[s]["default"] for s in res}
    for k in settings:
        print(k, {s: round(res[s][k] - base[s], 4) for s in res})


if __name__ == "__main__":
    main()
