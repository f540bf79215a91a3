"""Retrieval quality of ragfusion's default mode next to two peers' hybrid (BM25 + dense)
retrievers, on the same chunks, the same vectors and the same k, in one run on one machine.

Systems compared, on every collection in ../shared/data (BEIR format, test split, all judged
queries), scored at document level with ir_measures (nDCG@10, Recall@100, MRR@10):

* ``ragfusion.default``: ``ragfusion eval``'s ``default`` mode over the cached eval index.
* ``llamaindex.fusion``: LlamaIndex ``QueryFusionRetriever(mode="reciprocal_rerank",
  num_queries=1, use_async=False)`` over ``BM25Retriever`` (llama-index-retrievers-bm25) and a
  default ``VectorStoreIndex`` retriever. An LLM that raises if called is passed, so no query
  is ever generated.
* ``langchain.ensemble``: LangChain ``EnsembleRetriever(weights=[0.5, 0.5])`` over
  ``langchain_community`` ``BM25Retriever`` and a FAISS (inner product) retriever.

Reference rows: each peer's two legs alone, and ragfusion's ``hybrid`` (plain RRF, k=60),
``bm25`` and ``dense`` modes. Nothing is embedded twice: the chunks, their BM25 texts and their
stored vectors are exported from ragfusion's index; query vectors come from ragfusion's embedder
(one query at a time, as a search does) and the peers look both up instead of embedding. Every
leg and fused list is cut at 100 chunks (ragfusion: 100 documents) and then collapsed to
documents at their first (best) rank.

Commands, from the repository root (the cached indexes are the ones ``ragfusion eval`` and
benchmarks/quality.py build; this script never ingests):

    bash benchmarks/peers-setup.sh                      # once: creates .venv-peers
    .venv/bin/python benchmarks/peers_quality.py        # export, peers (subprocess), score

or step by step (same options; --collections scifact cranfield ... picks collections):

    .venv/bin/python benchmarks/peers_quality.py --export        # main venv
    OMP_NUM_THREADS=1 .venv-peers/bin/python benchmarks/peers_quality.py --peers
    .venv/bin/python benchmarks/peers_quality.py --score         # main venv

Intermediate files go to --work (default /tmp/ragfusion-peers); the result is written to
benchmarks/results/peers_quality.json and a Markdown table is printed. Latencies are wall
clock per query, with every system held to one intra-op thread (--threads 1, the default:
torch, FAISS and BLAS thread pools) because on 2 cores shared with another job, 2-thread torch
query embedding was measured 10-25x slower than 1 thread; --threads 0 keeps library defaults.
Other jobs still slow every system: compare latencies only within one run, next to the load
average recorded with them.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data"
RESULTS = ROOT / "benchmarks" / "results" / "peers_quality.json"
WORK = Path(tempfile.gettempdir()) / "ragfusion-peers"
PEERS_PYTHON = ROOT / ".venv-peers" / "bin" / "python"
COLLECTIONS = ("scifact", "cranfield", "pubmedqa_pqal")
K = 100
RAGFUSION_MODES = ("default", "hybrid", "bm25", "dense")
COMPARED = ("ragfusion.default", "llamaindex.fusion", "langchain.ensemble")
REFERENCE = (
    "ragfusion.hybrid",
    "ragfusion.bm25",
    "ragfusion.dense",
    "llamaindex.bm25",
    "llamaindex.dense",
    "langchain.bm25",
    "langchain.dense",
)
PEER_PACKAGES = (
    "llama-index-core",
    "llama-index-retrievers-bm25",
    "bm25s",
    "langchain",
    "langchain-classic",
    "langchain-community",
    "langchain-core",
    "rank-bm25",
    "faiss-cpu",
    "numpy",
)
METRIC_NAMES = ("ndcg@10", "recall@100", "mrr@10")

Json = dict[str, Any]


# files ---------------------------------------------------------------------------------------
def _write_json(path: Path, data: object) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")


def _read_json(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


def _write_jsonl(path: Path, rows: Iterable[Json]) -> None:
    with path.open("w", encoding="utf-8") as handle:
        for row in rows:
            handle.write(json.dumps(row, ensure_ascii=False) + "\n")


def _read_jsonl(path: Path) -> list[Json]:
    with path.open(encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


def _write_run(
    folder: Path,
    system: str,
    unit: str,
    ranked: Mapping[str, Sequence[str]],
    latency_ms: Mapping[str, float],
    **extra: Any,
) -> None:
    """A run file: per query, the retrieved BEIR document ids in rank order (one per chunk
    when ``unit`` is "chunk", so a document can repeat), and the query's latency."""
    data = {"system": system, "unit": unit, "ranked": ranked, "latency_ms": latency_ms, **extra}
    _write_json(folder / "runs" / f"{system}.json", data)


def _timed(call: Callable[[], Any]) -> tuple[Any, float]:
    started = time.perf_counter()
    value = call()
    return value, (time.perf_counter() - started) * 1000


def _versions(names: Iterable[str]) -> dict[str, str]:
    found = {}
    for name in names:
        try:
            found[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            continue
    return found


def _machine(threads: int) -> Json:
    return {
        "cpus": os.cpu_count(),
        "load_avg_1m_at_start": round(os.getloadavg()[0], 2),
        "intra_op_threads": threads or "library default",
        "python": platform.python_version(),
    }


def _thread_env(threads: int) -> dict[str, str]:
    """Thread-pool sizes for a child process (read when its libraries load)."""
    if not threads:
        return {}
    names = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")
    return dict.fromkeys(names, str(threads))


# step 1: export (main venv) ------------------------------------------------------------------
def export(collections: Sequence[str], data: Path, work: Path, threads: int) -> None:
    """Chunks, BM25 and embedding texts, stored vectors, query vectors and ragfusion's runs."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    if threads:
        import torch

        torch.set_num_threads(threads)
    from ragfusion import Pipeline
    from ragfusion.config import read_tuned
    from ragfusion.evaluation.beir import load_collection
    from ragfusion.evaluation.runner import MODES, default_index_dir, run_mode
    from ragfusion.pipeline import embedding_text
    from ragfusion.stores.local import bm25_text

    for name in collections:
        machine = _machine(threads)
        collection = load_collection(data / name, "test")
        folder = work / name
        folder.mkdir(parents=True, exist_ok=True)
        index_dir = default_index_dir(collection)
        if not (index_dir / "manifest.json").is_file():
            raise SystemExit(
                f"No cached index for {name} at {index_dir}: build it first "
                "(e.g. .venv/bin/python benchmarks/quality.py); this benchmark never ingests."
            )
        with Pipeline.open(index_dir, create=False) as pipe:
            rows = list(pipe.store._catalog.iter_chunks_with_vectors(dim=pipe.store.dim))
            titles = pipe.store.titles(sorted({chunk.doc_id for _, chunk, _ in rows}))
            texts = [
                {
                    "key": key,
                    "source": chunk.source,
                    "bm25": bm25_text(titles.get(chunk.doc_id, ""), chunk),
                    "embed": embedding_text(titles.get(chunk.doc_id, ""), chunk),
                }
                for key, chunk, _ in rows
            ]
            vectors = np.stack([vector for _, _, vector in rows]).astype(np.float32)
            _write_jsonl(folder / "chunks.jsonl", texts)
            np.save(folder / "vectors.npy", vectors)

            # Sanity check that the exported embedding text is what was embedded: re-embed a
            # few chunks (embedding is slow here, so only a few) and compare.
            sample = np.linspace(0, len(rows) - 1, num=4, dtype=int)
            fresh = pipe.embedder.embed_documents([texts[i]["embed"] for i in sample])
            agreement = float(np.min(np.sum(fresh * vectors[sample], axis=1)))

            pipe.embedder.embed_queries(["warm-up"])  # model load is not a query's latency
            query_vectors, embed_ms = [], []
            for text in collection.queries.values():
                vector, ms = _timed(lambda t=text: pipe.embedder.embed_queries([t]))
                query_vectors.append(np.asarray(vector, dtype=np.float32)[0])
                embed_ms.append(round(ms, 3))
            np.save(folder / "query_vectors.npy", np.stack(query_vectors))
            _write_jsonl(
                folder / "queries.jsonl",
                (
                    {"qid": qid, "text": text, "embed_ms": ms}
                    for (qid, text), ms in zip(collection.queries.items(), embed_ms, strict=True)
                ),
            )

            tuned = read_tuned(pipe.index_dir)
            for mode in RAGFUSION_MODES:
                result = run_mode(pipe, collection.queries, MODES[mode], tuned)
                _write_run(
                    folder,
                    f"ragfusion.{mode}",
                    "document",
                    {qid: list(docs) for qid, docs in result.run.items()},
                    dict(zip(collection.queries, result.latencies_ms, strict=True)),
                    degraded_queries=result.degraded,
                )
            bm25_texts = [t["bm25"] for t in texts]
            meta = {
                "collection": name,
                "index": str(index_dir),
                "embedder": pipe.embedder.name,
                "dim": pipe.store.dim,
                "tuned": tuned,
                "n_chunks": len(rows),
                "n_documents": len({chunk.source for _, chunk, _ in rows}),
                "n_queries": len(collection.queries),
                "duplicate_bm25_texts": len(bm25_texts) - len(set(bm25_texts)),
                "vector_norm_range": [
                    round(float(n), 5)
                    for n in np.percentile(np.linalg.norm(vectors, axis=1), [0, 100])
                ],
                "reembedded_cosine_min": round(agreement, 5),
                "ragfusion_version": importlib.metadata.version("ragfusion"),
                "machine": machine,
            }
        _write_json(folder / "export.json", meta)
        print(f"{name}: exported {len(rows)} chunks, {len(collection.queries)} queries", flush=True)


# step 2: peers (.venv-peers) -----------------------------------------------------------------
class _Corpus:
    """One collection's exported chunks and vectors, and its queries with their vectors."""

    def __init__(self, folder: Path) -> None:
        self.chunks = _read_jsonl(folder / "chunks.jsonl")
        self.vectors = np.load(folder / "vectors.npy")
        self.queries = {row["qid"]: row["text"] for row in _read_jsonl(folder / "queries.jsonl")}
        query_vectors = np.load(folder / "query_vectors.npy")
        # Query text -> precomputed vector: what the peers' "embedders" return.
        self.lookup: dict[str, list[float]] = {
            text: vector.tolist()
            for text, vector in zip(self.queries.values(), query_vectors, strict=True)
        }


def _retrieve_all(
    queries: Mapping[str, str], retrieve: Callable[[str], list[str]]
) -> tuple[dict[str, list[str]], dict[str, float]]:
    ranked, latency = {}, {}
    for qid, text in queries.items():
        ranked[qid], latency[qid] = _timed(lambda t=text: retrieve(t))
    return ranked, latency


def _llamaindex(corpus: _Corpus, folder: Path) -> None:
    from llama_index.core import VectorStoreIndex
    from llama_index.core.llms.mock import MockLLM
    from llama_index.core.retrievers import QueryFusionRetriever
    from llama_index.core.schema import NodeWithScore
    from llama_index.retrievers.bm25 import BM25Retriever
    from peer_adapters import llamaindex_embedding, llamaindex_nodes

    class ForbiddenLLM(MockLLM):  # type: ignore[misc]
        """num_queries=1 generates no query; this makes sure the LLM is indeed never called."""

        def complete(self, *args: Any, **kwargs: Any) -> Any:
            raise RuntimeError("the LLM must not be called")

        async def acomplete(self, *args: Any, **kwargs: Any) -> Any:
            raise RuntimeError("the LLM must not be called")

    embed_model = llamaindex_embedding(corpus.lookup)
    build: dict[str, float] = {}
    started = time.perf_counter()
    nodes = llamaindex_nodes(corpus.chunks, corpus.vectors, "source")
    build["nodes_s"] = time.perf_counter() - started
    started = time.perf_counter()
    index = VectorStoreIndex(nodes, embed_model=embed_model)
    vector_retriever = index.as_retriever(similarity_top_k=K)
    build["vector_index_s"] = time.perf_counter() - started
    started = time.perf_counter()
    bm25_retriever = BM25Retriever.from_defaults(nodes=nodes, similarity_top_k=K)
    build["bm25_index_s"] = time.perf_counter() - started
    fusion = QueryFusionRetriever(
        [vector_retriever, bm25_retriever],
        llm=ForbiddenLLM(),
        mode="reciprocal_rerank",
        similarity_top_k=K,
        num_queries=1,
        use_async=False,
    )
    build = {key: round(value, 3) for key, value in build.items()}
    build["total_s"] = round(sum(build.values()), 3)

    def sources(hits: list[NodeWithScore]) -> list[str]:
        return [str(hit.node.metadata["doc"]) for hit in hits[:K]]

    for system, retriever in (
        ("llamaindex.fusion", fusion),
        ("llamaindex.bm25", bm25_retriever),
        ("llamaindex.dense", vector_retriever),
    ):
        ranked, latency = _retrieve_all(
            corpus.queries, lambda q, r=retriever: sources(r.retrieve(q))
        )
        _write_run(folder, system, "chunk", ranked, latency, build_s=build)
        print(f"  {system}: done", flush=True)


def _langchain(corpus: _Corpus, folder: Path) -> None:
    try:
        from langchain.retrievers import EnsembleRetriever
    except ImportError:  # LangChain >= 1.0 moved it to langchain-classic
        from langchain_classic.retrievers import EnsembleRetriever
    from langchain_community.retrievers import BM25Retriever
    from langchain_community.vectorstores import FAISS
    from langchain_community.vectorstores.utils import DistanceStrategy
    from langchain_core.documents import Document
    from peer_adapters import langchain_embeddings

    texts = [chunk["bm25"] for chunk in corpus.chunks]
    metadatas = [{"doc": chunk["source"]} for chunk in corpus.chunks]
    build: dict[str, float] = {}
    started = time.perf_counter()
    bm25_retriever = BM25Retriever.from_texts(texts, metadatas=metadatas, k=K)
    build["bm25_index_s"] = time.perf_counter() - started
    started = time.perf_counter()
    store = FAISS.from_embeddings(
        list(zip(texts, corpus.vectors.tolist(), strict=True)),
        embedding=langchain_embeddings(corpus.lookup),
        metadatas=metadatas,
        distance_strategy=DistanceStrategy.MAX_INNER_PRODUCT,
    )
    dense_retriever = store.as_retriever(search_kwargs={"k": K})
    build["vector_index_s"] = time.perf_counter() - started
    ensemble = EnsembleRetriever(retrievers=[bm25_retriever, dense_retriever], weights=[0.5, 0.5])
    build = {key: round(value, 3) for key, value in build.items()}
    build["total_s"] = round(sum(build.values()), 3)

    def sources(hits: list[Document]) -> list[str]:
        # EnsembleRetriever returns the union of both legs (up to 2k); cut at k like the others.
        return [str(hit.metadata["doc"]) for hit in hits[:K]]

    union_sizes: list[int] = []

    def fused(query: str) -> list[str]:
        hits = ensemble.invoke(query)
        union_sizes.append(len(hits))
        return sources(hits)

    ranked, latency = _retrieve_all(corpus.queries, fused)
    extra = {"build_s": build, "union_size_mean": round(float(np.mean(union_sizes)), 1)}
    _write_run(folder, "langchain.ensemble", "chunk", ranked, latency, **extra)
    print("  langchain.ensemble: done", flush=True)
    for system, retriever in (
        ("langchain.bm25", bm25_retriever),
        ("langchain.dense", dense_retriever),
    ):
        ranked, latency = _retrieve_all(corpus.queries, lambda q, r=retriever: sources(r.invoke(q)))
        _write_run(folder, system, "chunk", ranked, latency, build_s=build)
        print(f"  {system}: done", flush=True)


def peers(collections: Sequence[str], work: Path, threads: int) -> None:
    """Build each peer over the exported chunks and vectors, retrieve, write run files."""
    if threads:
        import faiss

        faiss.omp_set_num_threads(threads)
    for name in collections:
        folder = work / name
        machine = _machine(threads)
        corpus = _Corpus(folder)
        print(f"{name}: {len(corpus.chunks)} chunks, {len(corpus.queries)} queries", flush=True)
        _llamaindex(corpus, folder)
        _langchain(corpus, folder)
        _write_json(
            folder / "peers.json", {"versions": _versions(PEER_PACKAGES), "machine": machine}
        )


# step 3: score (main venv) -------------------------------------------------------------------
def _as_run(sources: Sequence[str]) -> dict[str, float]:
    """Document scores from ranks (len - rank), a document keeping its first (best) rank."""
    run: dict[str, float] = {}
    for rank, source in enumerate(sources):
        run.setdefault(source, float(len(sources) - rank))
    return run


def _score_collection(folder: Path, qrels: Mapping[str, Mapping[str, int]]) -> Json:
    from ragfusion.evaluation.metrics import paired_p_value, per_query, summarise

    queries = {row["qid"]: row for row in _read_jsonl(folder / "queries.jsonl")}
    embed_ms = {qid: float(row["embed_ms"]) for qid, row in queries.items()}
    values: dict[str, dict[str, dict[str, float]]] = {}
    systems: dict[str, Json] = {}
    for system in (*COMPARED, *REFERENCE):
        data = _read_json(folder / "runs" / f"{system}.json")
        run = {qid: _as_run(ranked[:K]) for qid, ranked in data["ranked"].items()}
        values[system] = per_query(qrels, run)
        latencies = [data["latency_ms"][qid] for qid in queries]
        summary = summarise(values[system])
        summary["latency_ms_p50"] = round(float(np.percentile(latencies, 50)), 2)
        if data["unit"] == "chunk":  # peers looked query vectors up: add ragfusion's embed time
            with_embed = [data["latency_ms"][q] + embed_ms[q] for q in queries]
            summary["latency_ms_p50_with_query_embedding"] = round(
                float(np.percentile(with_embed, 50)), 2
            )
        summary["documents_per_query_mean"] = round(
            float(np.mean([len(r) for r in run.values()])), 1
        )
        for key in ("build_s", "union_size_mean", "degraded_queries"):
            if key in data:
                summary[key] = data[key]
        systems[system] = summary
    ours = systems["ragfusion.default"]
    order = list(qrels)
    for system, summary in systems.items():
        if system == "ragfusion.default":
            continue
        versus: Json = {}
        for metric in METRIC_NAMES:
            theirs = summary[metric]
            versus[metric] = {
                "difference": round(theirs - ours[metric], 4),
                "ratio": round(theirs / ours[metric], 4) if ours[metric] else None,
            }
        versus["p_ndcg@10"] = round(
            paired_p_value(
                [values[system]["ndcg@10"][q] for q in order],
                [values["ragfusion.default"]["ndcg@10"][q] for q in order],
            ),
            5,
        )
        summary["vs_ragfusion_default"] = versus
    return systems


CAVEATS = [
    "Same chunks, same stored vectors, same query vectors (ragfusion's embedder, one query at a "
    "time) and the same depth (100) for every system; the peers never embed anything. Their "
    "BM25 legs are their own implementations over ragfusion's exact BM25 texts (title, heading "
    "path, chunk text).",
    "ragfusion fuses at document level (each leg's chunks collapsed to their documents before "
    "fusion) and returns up to 100 documents; the peers fuse chunks, are cut at 100 chunks and "
    "then collapsed to documents, so they rank fewer distinct documents (see "
    "documents_per_query_mean), which weighs on Recall@100 most.",
    "ragfusion's default is CombSUM of min-max normalised scores; both peers fuse with RRF "
    "(k=60). ragfusion.hybrid (plain RRF, k=60, over ragfusion's legs) is the like-for-like "
    "fusion reference.",
    "LangChain EnsembleRetriever: weighted RRF (c=60, weights 0.5/0.5), returns only the union "
    "of each leg's top k (up to 2k chunks; cut here at 100), deduplicated by page_content.",
    "LangChain BM25Retriever (rank_bm25 BM25Okapi) tokenises with str.split by default: case "
    "and punctuation are kept, no stemming or stopwords; that default is what is measured.",
    "LlamaIndex BM25Retriever (bm25s): regex word tokens, PyStemmer English stemming, English "
    "stopwords on the corpus; ragfusion uses tantivy (simple tokenizer, lowercase, English "
    "stopwords, Snowball stemmer) with its own BM25 parameters.",
    "Dense legs: ragfusion searches a usearch HNSW index; LlamaIndex's default SimpleVectorStore "
    "and FAISS IndexFlatIP are exact (cosine and inner product agree: vectors are unit length).",
    "LlamaIndex QueryFusionRetriever runs with num_queries=1 and use_async=False; it is given an "
    "LLM that raises if called, so no query generation happens.",
    "Latency is per query wall clock, every system held to one intra-op thread, on a 2-core "
    "machine that may run another benchmark at the same time (load averages recorded per step; "
    "they slow every system): ragfusion's includes embedding the query; "
    "the peers' does not (they look the vector up), so latency_ms_p50_with_query_embedding adds "
    "each query's measured embedding time. ragfusion's index build (ingest) time was not "
    "measured here and is left out; the peers' build_s excludes embedding.",
]


def score(collections: Sequence[str], data: Path, work: Path, results: Path) -> Json:
    from ragfusion.evaluation.beir import load_collection

    report: Json = {
        "benchmark": "peers_quality",
        "date": time.strftime("%Y-%m-%d %H:%M:%S %z"),
        "k": K,
        "metrics_level": "document",
        "compared": list(COMPARED),
        "reference": list(REFERENCE),
        "collections": {},
    }
    for name in collections:
        collection = load_collection(data / name, "test")
        folder = work / name
        exported, peer_meta = _read_json(folder / "export.json"), _read_json(folder / "peers.json")
        report.setdefault("embedder", exported["embedder"])
        report.setdefault("ragfusion_version", exported["ragfusion_version"])
        report.setdefault("peer_versions", peer_meta["versions"])
        report["collections"][name] = {
            "split": collection.split,
            "n_queries": len(collection.queries),
            "n_documents": exported["n_documents"],
            "n_chunks": exported["n_chunks"],
            "duplicate_bm25_texts": exported["duplicate_bm25_texts"],
            "reembedded_cosine_min": exported["reembedded_cosine_min"],
            "machine": {"export": exported["machine"], "peers": peer_meta["machine"]},
            "systems": _score_collection(folder, collection.qrels),
        }
    report["ndcg@10"] = {
        system: {n: c["systems"][system]["ndcg@10"] for n, c in report["collections"].items()}
        for system in (*COMPARED, *REFERENCE)
    }
    report["caveats"] = CAVEATS
    _write_json(results, report)
    return report


def table(report: Json) -> str:
    names = list(report["collections"])
    lines = [
        "| system | " + " | ".join(f"{n} nDCG@10 / R@100 / MRR@10 / p50 ms" for n in names) + " |",
        "|---" * (len(names) + 1) + "|",
    ]
    for system in (*COMPARED, *REFERENCE):
        cells = []
        for name in names:
            s = report["collections"][name]["systems"][system]
            cells.append(
                f"{s['ndcg@10']:.4f} / {s['recall@100']:.4f} / {s['mrr@10']:.4f} / "
                f"{s['latency_ms_p50']:.1f}"
            )
        lines.append(f"| {system} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    step = parser.add_mutually_exclusive_group()
    step.add_argument("--export", action="store_true", help="step 1 (main venv)")
    step.add_argument("--peers", action="store_true", help="step 2 (.venv-peers)")
    step.add_argument("--score", action="store_true", help="step 3 (main venv)")
    parser.add_argument("--collections", nargs="+", default=list(COLLECTIONS))
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--work", type=Path, default=WORK)
    parser.add_argument("--results", type=Path, default=RESULTS)
    parser.add_argument("--peers-python", type=Path, default=PEERS_PYTHON)
    parser.add_argument(
        "--threads", type=int, default=1, help="intra-op threads per system (0: library default)"
    )
    args = parser.parse_args()
    everything = not (args.export or args.peers or args.score)
    if args.export or everything:
        export(args.collections, args.data, args.work, args.threads)
    if args.peers:
        peers(args.collections, args.work, args.threads)
    elif everything:
        if not args.peers_python.is_file():
            raise SystemExit(f"{args.peers_python} is missing: run bash benchmarks/peers-setup.sh")
        command = [str(args.peers_python), str(Path(__file__).resolve()), "--peers"]
        command += ["--work", str(args.work), "--threads", str(args.threads)]
        command += ["--collections", *args.collections]
        subprocess.run(command, check=True, env={**os.environ, **_thread_env(args.threads)})
    if args.score or everything:
        report = score(args.collections, args.data, args.work, args.results)
        print(table(report))
        print(f"wrote {args.results}")


if __name__ == "__main__":
    sys.exit(main())
