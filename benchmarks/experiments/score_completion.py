"""Score completion before score fusion: does giving each retriever's score to the other
retriever's candidates (instead of 0 for "absent") help CombSUM? An experiment for issue 6.

For each query the BM25 and dense top-100 chunk lists are retrieved; then each BM25-only
candidate gets its exact dense cosine (stored vector) and each dense-only candidate its BM25
score (BM25 restricted to its document). Settings, all at document level: plain RRF (k=60),
the shipped default (CombSUM, min-max over each list), CombSUM over the completed lists (min-max
or z-score), and CombSUM normalised by each list's own top-100 range with completed scores
allowed below 0 (``range``), clipped at 0 (``range_clip``) or with a dense weight; and one
side completed only (``dense_side``: dense scores for BM25-only candidates; ``bm25_side``).

    .venv/bin/python benchmarks/experiments/score_completion.py  # -> results/score_completion.json
"""

import dataclasses
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
from ragfusion.stores.base import MetadataFilter
from ragfusion.types import Hit, RankedList

OUT = Path(__file__).resolve().parents[1] / "results" / "score_completion.json"


def collect(name, split):
    col = load_collection(DATA / name, split)
    out = {}
    with Pipeline.open(default_index_dir(col)) as pipe:
        pipe.ingest_records(col.corpus)
        view = pipe.with_config(
            dataclasses.replace(PipelineConfig(), dedup="chunk", candidates=DEPTH)
        )
        store = pipe.store
        for qid, text in col.queries.items():
            res = view.search(text, k=DEPTH)
            bm25 = next(x for x in res.lists if x.retriever == "bm25")
            dense = next(x for x in res.lists if x.retriever == "dense")
            qv = pipe.embedder.embed_queries([text])[0]
            b_ids = {h.chunk.chunk_id for h in bm25.hits}
            d_ids = {h.chunk.chunk_id for h in dense.hits}
            # dense scores for bm25-only chunks
            need = [h.chunk for h in bm25.hits if h.chunk.chunk_id not in d_ids]
            vecs = store.vectors_of([c.chunk_id for c in need])
            extra_dense = [Hit(chunk=c, score=float(np.dot(qv, vecs[c.chunk_id]))) for c in need]
            # bm25 scores for dense-only chunks
            need2 = [h.chunk for h in dense.hits if h.chunk.chunk_id not in b_ids]
            extra_bm25 = []
            if need2:
                docs = tuple(sorted({c.doc_id for c in need2}))
                got = store.search_bm25([text], 10 * len(need2) + 50, MetadataFilter(doc_ids=docs))[
                    0
                ]
                sc = {h.chunk.chunk_id: h.score for h in got}
                extra_bm25 = [Hit(chunk=c, score=sc.get(c.chunk_id, 0.0)) for c in need2]
            out[qid] = (bm25, dense, extra_bm25, extra_dense)
    return col, out


def run_of(col, data, f):
    run = {}
    for qid, lists in data.items():
        hits = f(*lists)
        run[qid] = {h.chunk.source: float(len(hits) - i) for i, h in enumerate(hits)}
    return float(np.mean(list(per_query(col.qrels, run)["ndcg@10"].values())))


def plain(b, d, eb, ed):
    return fuse("rrf", [b, d], k=60, dedup="document", limit=DEPTH)


def default(b, d, eb, ed):
    return fuse("combsum", [b, d], normalization="minmax", dedup="document", limit=DEPTH)


def completed(norm, wd=1.0):
    def f(b, d, eb, ed):
        bb = RankedList(b.query, "bm25", tuple(sorted(b.hits + tuple(eb), key=lambda h: -h.score)))
        dd = RankedList(d.query, "dense", tuple(sorted(d.hits + tuple(ed), key=lambda h: -h.score)))
        return fuse(
            "combsum",
            [bb, dd],
            normalization=norm,
            dedup="document",
            limit=DEPTH,
            retriever_weights={"bm25": 1.0, "dense": wd},
        )

    return f


def one_side(norm, side):
    """Only one list completed: ``dense`` scores for BM25-only candidates, or ``bm25`` ones."""

    def f(b, d, eb, ed):
        if side == "dense":
            d = RankedList(
                d.query, "dense", tuple(sorted(d.hits + tuple(ed), key=lambda h: -h.score))
            )
        else:
            b = RankedList(
                b.query, "bm25", tuple(sorted(b.hits + tuple(eb), key=lambda h: -h.score))
            )
        return fuse("combsum", [b, d], normalization=norm, dedup="document", limit=DEPTH)

    return f


def completed_range(wd=1.0, clip=False):
    """min-max by each leg's own top-100 range; completed scores may fall below 0."""

    def f(b, d, eb, ed):
        def norm(lst, extra):
            s = [h.score for h in lst.hits]
            lo, hi = min(s), max(s)
            span = (hi - lo) or 1.0
            vals = {}
            for h in list(lst.hits) + list(extra):
                v = (h.score - lo) / span
                if clip:
                    v = max(v, 0.0)
                key = h.chunk.doc_id
                if key not in vals or v > vals[key][0]:
                    vals[key] = (v, h)
            return vals

        nb, nd = norm(b, eb), norm(d, ed)
        tot = {}
        for key in set(nb) | set(nd):
            tot[key] = nb.get(key, (0, None))[0] + wd * nd.get(key, (0, None))[0]
            h = (nb.get(key) or nd.get(key))[1]
            tot[key] = (tot[key], h)
        return [h for _, h in sorted(tot.values(), key=lambda x: -x[0])][:DEPTH]

    return f


def main() -> None:
    settings = {
        "plain": plain,
        "default": default,
        "completed_minmax": completed("minmax"),
        "completed_zscore": completed("zscore"),
        "dense_side_minmax": one_side("minmax", "dense"),
        "bm25_side_minmax": one_side("minmax", "bm25"),
        "range": completed_range(),
        "range_clip": completed_range(clip=True),
        "range_wd1.2": completed_range(1.2),
        "range_wd0.8": completed_range(0.8),
    }
    res = {}
    for name, split in SETS:
        t = time.time()
        col, data = collect(name, split)
        res[f"{name}/{split}"] = {k: round(run_of(col, data, f), 4) for k, f in settings.items()}
        print(name, split, round(time.time() - t), res[f"{name}/{split}"], flush=True)
    OUT.write_text(json.dumps(res, indent=2) + "\n")


if __name__ == "__main__":
    main()
