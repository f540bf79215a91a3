"""LocalStore against MilvusStore (Milvus Lite) on the same chunks and vectors.

The scifact index that `ragfusion eval` builds is the source: its documents, chunks and
MiniLM vectors are copied into a Milvus Lite file (nothing is embedded again), so the two
stores differ only in their engines. Reported per store and retriever: nDCG@10 and R@100 on
the test queries, the overlap of the top 10 with the other store, latency of single queries
and of one batch; plus Milvus Lite's load throughput, first open and reopen times.

    .venv/bin/python benchmarks/stores.py          # writes results/stores.json
"""

from __future__ import annotations

import json
import statistics
import tempfile
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

from ragfusion.evaluation.beir import load_collection
from ragfusion.evaluation.metrics import per_query
from ragfusion.evaluation.runner import DEPTH, default_index_dir
from ragfusion.pipeline import Pipeline
from ragfusion.stores.base import Store
from ragfusion.stores.local import LocalStore
from ragfusion.stores.milvus import MilvusStore
from ragfusion.types import Chunk, Hit

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "scifact"
OUT = Path(__file__).resolve().parent / "results" / "stores.json"
SINGLE_QUERIES = 100  # timed one by one; all queries are also timed as one batch


def copy_into(local: LocalStore, target: MilvusStore) -> float:
    """Copy every document with its chunks and stored vectors; returns seconds."""
    started = time.perf_counter()
    by_doc: dict[str, list[tuple[Chunk, Any]]] = defaultdict(list)
    for _, chunk, vector in local._catalog.iter_chunks_with_vectors(dim=local.dim):
        by_doc[chunk.doc_id].append((chunk, vector))
    for doc_id, rows in by_doc.items():
        document = local.get_document(doc_id)
        assert document is not None
        rows.sort(key=lambda row: row[0].ordinal)
        target.upsert(document, [c for c, _ in rows], {c.chunk_id: v for c, v in rows})
    target.commit()
    return time.perf_counter() - started


def as_run(hits: list[Hit]) -> dict[str, float]:
    run: dict[str, float] = {}
    for i, hit in enumerate(hits):
        run.setdefault(hit.chunk.source, float(len(hits) - i))
    return run


def measure(store: Store, texts: list[str], vectors: Any) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, search in (
        ("bm25", lambda i, j: store.search_bm25(texts[i:j], DEPTH)),
        ("dense", lambda i, j: store.search_dense(vectors[i:j], DEPTH)),
    ):
        singles = []
        for i in range(min(SINGLE_QUERIES, len(texts))):
            started = time.perf_counter()
            search(i, i + 1)
            singles.append((time.perf_counter() - started) * 1000)
        started = time.perf_counter()
        lists = search(0, len(texts))
        batch_ms = (time.perf_counter() - started) * 1000
        out[name] = {
            "lists": lists,
            "p50_ms": round(statistics.median(singles), 2),
            "batch_ms_per_query": round(batch_ms / len(texts), 2),
        }
    return out


def main() -> None:
    collection = load_collection(DATA, "test")
    qids, texts = list(collection.queries), list(collection.queries.values())
    with Pipeline.open(default_index_dir(collection)) as pipe:
        pipe.ingest_records(collection.corpus)  # reuses the cached index when unchanged
        assert isinstance(pipe.store, LocalStore)
        local = pipe.store
        chunks = local.count_chunks()
        vectors = pipe.embedder.embed_queries(texts)
        with tempfile.TemporaryDirectory() as tmp:
            uri = str(Path(tmp) / "milvus.db")
            started = time.perf_counter()
            milvus = MilvusStore(uri, Path(tmp) / "index", local.dim)
            first_open_s = time.perf_counter() - started
            load_s = copy_into(local, milvus)
            milvus.close()
            started = time.perf_counter()
            milvus = MilvusStore(uri, Path(tmp) / "index", local.dim)
            reopen_s = time.perf_counter() - started
            results = {"local": measure(local, texts, vectors)}
            results["milvus-lite"] = measure(milvus, texts, vectors)
            assert milvus.check().ok
            milvus.close()
    report: dict[str, Any] = {
        "collection": f"scifact test ({len(texts)} queries)",
        "chunks": chunks,
        "milvus_lite": {
            "first_open_s": round(first_open_s, 3),
            "load_chunks_per_s": round(chunks / load_s),
            "reopen_s": round(reopen_s, 3),
        },
        "stores": {},
    }
    print(f"{report['chunks']} chunks; Milvus Lite: {report['milvus_lite']}")
    print(
        f"{'store':12} {'retriever':9} {'nDCG@10':>8} {'R@100':>7} {'top10 overlap':>14} "
        f"{'p50 ms':>8} {'batch ms/q':>11}"
    )
    for store_name, retrievers in results.items():
        other = results["milvus-lite" if store_name == "local" else "local"]
        report["stores"][store_name] = {}
        for retriever, row in retrievers.items():
            run = {qid: as_run(hits) for qid, hits in zip(qids, row["lists"], strict=True)}
            values = per_query(collection.qrels, run)
            overlaps = [
                len({h.chunk_id for h in a[:10]} & {h.chunk_id for h in b[:10]}) / 10
                for a, b in zip(row["lists"], other[retriever]["lists"], strict=True)
            ]
            entry = {
                "ndcg@10": round(statistics.mean(values["ndcg@10"].values()), 4),
                "recall@100": round(statistics.mean(values["recall@100"].values()), 4),
                "top10_overlap": round(statistics.mean(overlaps), 3),
                "p50_ms": row["p50_ms"],
                "batch_ms_per_query": row["batch_ms_per_query"],
            }
            report["stores"][store_name][retriever] = entry
            print(
                f"{store_name:12} {retriever:9} {entry['ndcg@10']:8.4f} "
                f"{entry['recall@100']:7.4f} {entry['top10_overlap']:14.3f} "
                f"{entry['p50_ms']:8.2f} {entry['batch_ms_per_query']:11.2f}"
            )
    OUT.write_text(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    main()
