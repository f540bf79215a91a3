"""Speed next to the peers, one run, one machine: index build, ingest and search latency of
ragfusion, LlamaIndex and LangChain on the same chunks, the same vectors and the same queries.

Systems (the peers live in .venv-peers, see benchmarks/peers-setup.sh):

* ragfusion: ``Pipeline.search(k=10)``, default fusion, over the indexes benchmarks/speed.py
  builds (10k = real SciFact chunks; 100k = those plus synthetic copies), query embedding
  included (ONNX Runtime MiniLM).
* LlamaIndex: ``QueryFusionRetriever(mode="reciprocal_rerank")`` over ``BM25Retriever``
  (bm25s) and a default ``VectorStoreIndex`` retriever; the 4 query variants are handed to it
  through ``_get_queries`` (no LLM is ever called).
* LangChain: ``EnsembleRetriever`` (weighted RRF) over ``BM25Retriever`` (rank_bm25) and FAISS;
  for 4 variants, each variant's two lists are fused by the same ``weighted_reciprocal_rank``.

Modes: ``hybrid`` (the question, BM25 + dense, fused) and ``fusion4`` (the question and the 3
given variants of benchmarks/speed.py, x 2 retrievers, fused). The peers look query vectors
up instead of embedding; their latency adds the time ragfusion's embedder took for the same
texts (so it is what they would take with our embedder, and a lower bound with their own).

Build and ingest:
* ``build``: index the exported chunks with their precomputed vectors (no embedding), at each
  size: ragfusion ``Store.upsert`` + ``commit`` into a fresh directory (SQLite + tantivy +
  usearch HNSW, durable), LlamaIndex nodes + VectorStoreIndex + BM25Retriever, LangChain
  BM25Retriever + FAISS.
* ``ingest`` (embedding included), on the first ``--ingest-docs`` SciFact documents:
  ragfusion ``Pipeline.ingest_records`` (load, chunk, embed on ONNX Runtime, index) against
  the peers' build time plus a raw ``SentenceTransformer.encode`` of the same chunk texts
  (batch 32): what their HuggingFace embedding wrappers run for the same model.

Each step runs in its own process (peak RSS is per step). Steps on the shared 2 cores run one
after the other, never side by side.

    bash benchmarks/peers-setup.sh      # once
    .venv/bin/python benchmarks/peers_speed.py [--sizes 10000,100000] [--queries 50]

writes benchmarks/results/peers_speed.json and prints a Markdown table (~25 min at 100k).
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results" / "peers_speed.json"
WORK = Path(tempfile.gettempdir()) / "ragfusion-peers-speed"
SPEED_WORK = Path(tempfile.gettempdir()) / "ragfusion-speed"
PEERS_PYTHON = ROOT / ".venv-peers" / "bin" / "python"
K = 10
DEPTH = 100  # candidates per list, as ragfusion's default
MODES = ("hybrid", "fusion4")
PEERS = ("llamaindex", "langchain")

Json = dict[str, Any]


def _write(path: Path, data: object) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")


def _read(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


def _peak_rss_mb() -> float:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def _pct(values: Sequence[float]) -> Json:
    return {
        "p50": round(float(np.percentile(values, 50)), 2),
        "p99": round(float(np.percentile(values, 99)), 2),
        "n": len(values),
    }


def _timed(call: Callable[[], Any]) -> tuple[Any, float]:
    started = time.perf_counter()
    value = call()
    return value, (time.perf_counter() - started) * 1000


def _questions(n: int) -> list[list[str]]:
    """Per question: the question and its 3 given variants (benchmarks/speed.py's)."""
    sys.path.insert(0, str(HERE))
    import speed

    return [speed.variants(q) for q in speed.queries(n)]


# main venv: export ---------------------------------------------------------------------------
def export_chunks(index: Path, folder: Path) -> int:
    """chunks.jsonl (key, doc id, source, BM25 text, embedding text) and vectors.npy."""
    from ragfusion.pipeline import embedding_text
    from ragfusion.stores.catalog import Catalog
    from ragfusion.stores.local import bm25_text

    catalog = Catalog(index / "catalog.sqlite3", read_only=True)
    rows = list(catalog.iter_chunks_with_vectors(dim=384))
    titles = catalog.titles(sorted({chunk.doc_id for _, chunk, _ in rows}))
    folder.mkdir(parents=True, exist_ok=True)
    with (folder / "chunks.jsonl").open("w", encoding="utf-8") as out:
        for key, chunk, _ in rows:
            title = titles.get(chunk.doc_id, "")
            row = {
                "key": key,
                "doc": chunk.doc_id,
                "bm25": bm25_text(title, chunk),
                "embed": embedding_text(title, chunk),
            }
            out.write(json.dumps(row, ensure_ascii=False) + "\n")
    np.save(folder / "vectors.npy", np.stack([v for _, _, v in rows]).astype(np.float32))
    catalog.close()
    return len(rows)


def export_queries(folder: Path, n: int) -> None:
    """Query variants, their vectors (ragfusion's embedder) and the embedding times."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from ragfusion.embedders import make_embedder

    embedder = make_embedder()
    embedder.embed_queries(["warm-up", "warm up again"])
    rows = []
    for variants in _questions(n):
        _, single_ms = _timed(lambda v=variants: embedder.embed_queries(v[:1]))
        batch, batch_ms = _timed(lambda v=variants: embedder.embed_queries(v))
        rows.append(
            {
                "variants": variants,
                "vectors": np.asarray(batch, dtype=np.float32).tolist(),
                "embed_ms": {"hybrid": round(single_ms, 3), "fusion4": round(batch_ms, 3)},
            }
        )
    _write(folder / "queries.json", rows)


# main venv: ragfusion ------------------------------------------------------------------------
def ours(index: Path, folder: Path) -> Json:
    """Build time from the exported chunks (fresh directory), then warm search latency."""
    import shutil

    from ragfusion import Pipeline
    from ragfusion.stores.catalog import Catalog
    from ragfusion.stores.local import LocalStore

    # Documents stream from the source index (a document's chunks have consecutive keys), so
    # the peak RSS after the build is the store's own, not this script's copy of the corpus.
    source = Catalog(index / "catalog.sqlite3", read_only=True)
    target = folder / "ragfusion-build"
    shutil.rmtree(target, ignore_errors=True)
    rss_before = _peak_rss_mb()
    started = time.perf_counter()
    store = LocalStore(target, 384)
    rows = source.iter_chunks_with_vectors(dim=384)
    for doc_id, group in itertools.groupby(rows, key=lambda row: row[1].doc_id):
        document = source.get_document(doc_id)
        assert document is not None
        members = list(group)
        chunks = [chunk for _, chunk, _ in members]
        store.upsert(document, chunks, {c.chunk_id: v for _, c, v in members})
    store.commit()
    build_s = time.perf_counter() - started
    built = store.count_chunks()
    store.close()
    source.close()
    rss_build = _peak_rss_mb()
    shutil.rmtree(target, ignore_errors=True)

    queries = _read(folder / "queries.json")
    latency: dict[str, list[float]] = {mode: [] for mode in MODES}
    with Pipeline.open(index, create=False) as pipe:
        for row in queries[:5]:  # warm-up: model and caches
            pipe.search(row["variants"][0], queries=row["variants"][1:], k=K)
        for row in queries:
            question, variants = row["variants"][0], row["variants"][1:]
            for mode in MODES:
                given = variants if mode == "fusion4" else []
                _, ms = _timed(lambda q=question, g=given: pipe.search(q, queries=g, k=K))
                latency[mode].append(ms)
    return {
        "build_s": round(build_s, 2),
        "built_chunks": built,
        "peak_rss_mb_before_build": rss_before,
        "peak_rss_mb_after_build": rss_build,
        "search_ms": {mode: _pct(values) for mode, values in latency.items()},
        "peak_rss_mb": _peak_rss_mb(),
    }


def ours_ingest(folder: Path, n_docs: int) -> Json:
    """Full ingest (embedding included) of the first SciFact documents, then the same chunk
    texts through a raw SentenceTransformer.encode, and their export for the peers."""
    import shutil

    from ragfusion import Pipeline
    from ragfusion.embedders.sentence_transformers import bundled_minilm_path
    from ragfusion.evaluation.beir import load_collection

    sys.path.insert(0, str(HERE))
    import speed

    collection = load_collection(speed.SCIFACT)
    records = collection.corpus[:n_docs]
    index = folder / "ragfusion-ingest"
    shutil.rmtree(index, ignore_errors=True)
    with Pipeline.open(index) as pipe:
        pipe.embedder.embed_queries(["warm-up"])  # the model load is not ingest time
        started = time.perf_counter()
        report = pipe.ingest_records(records)
        ingest_s = time.perf_counter() - started
    rss_after_ingest = _peak_rss_mb()  # before torch is loaded for the raw encode below
    chunks = export_chunks(index, folder)
    texts = [json.loads(line)["embed"] for line in (folder / "chunks.jsonl").open()]

    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(str(bundled_minilm_path()), device="cpu")
    model.encode(texts[:32], batch_size=32)
    started = time.perf_counter()
    model.encode(texts, batch_size=32, normalize_embeddings=True)
    encode_s = time.perf_counter() - started
    shutil.rmtree(index, ignore_errors=True)
    return {
        "documents": len(records),
        "chunks": chunks,
        "reported_chunks": report.chunks_added,
        "ingest_s": round(ingest_s, 2),
        "raw_st_encode_s": round(encode_s, 2),
        "peak_rss_mb_ingest": rss_after_ingest,
        "peak_rss_mb_with_raw_encode": _peak_rss_mb(),
    }


# .venv-peers ---------------------------------------------------------------------------------
class _Corpus:
    def __init__(self, folder: Path) -> None:
        self.chunks = [json.loads(line) for line in (folder / "chunks.jsonl").open()]
        self.vectors = np.load(folder / "vectors.npy")
        path = folder / "queries.json"
        self.queries: list[Json] = _read(path) if path.is_file() else []
        self.lookup = {
            text: vector
            for row in self.queries
            for text, vector in zip(row["variants"], row["vectors"], strict=True)
        }


def _llamaindex(corpus: _Corpus, search: bool) -> Json:
    from llama_index.core import VectorStoreIndex
    from llama_index.core.llms.mock import MockLLM
    from llama_index.core.retrievers import QueryFusionRetriever
    from llama_index.core.schema import QueryBundle
    from llama_index.retrievers.bm25 import BM25Retriever
    from peer_adapters import llamaindex_embedding, llamaindex_nodes

    variants_of = {row["variants"][0]: row["variants"][1:] for row in corpus.queries}

    class GivenVariants(QueryFusionRetriever):  # type: ignore[misc]
        """The variants are given, as ragfusion's ``queries=``: no LLM generation."""

        def _get_queries(self, original_query: str) -> list[Any]:
            return [QueryBundle(q) for q in variants_of[original_query]]

    embed_model = llamaindex_embedding(corpus.lookup)
    started = time.perf_counter()
    nodes = llamaindex_nodes(corpus.chunks, corpus.vectors, "doc")
    index = VectorStoreIndex(nodes, embed_model=embed_model)
    bm25 = BM25Retriever.from_defaults(nodes=nodes, similarity_top_k=DEPTH)
    build_s = time.perf_counter() - started
    out: Json = {"build_s": round(build_s, 2)}
    if not search:
        return out
    dense = index.as_retriever(similarity_top_k=DEPTH)
    retrievers = {
        mode: GivenVariants(
            [dense, bm25],
            llm=MockLLM(),
            mode="reciprocal_rerank",
            similarity_top_k=K,
            num_queries=4 if mode == "fusion4" else 1,
            use_async=False,
        )
        for mode in MODES
    }
    out["search_ms"] = _search_all(corpus, lambda mode, q: retrievers[mode].retrieve(q))
    return out


def _langchain(corpus: _Corpus, search: bool) -> Json:
    try:
        from langchain.retrievers import EnsembleRetriever
    except ImportError:  # LangChain >= 1.0 moved it to langchain-classic
        from langchain_classic.retrievers import EnsembleRetriever
    from langchain_community.retrievers import BM25Retriever
    from langchain_community.vectorstores import FAISS
    from langchain_community.vectorstores.utils import DistanceStrategy
    from peer_adapters import langchain_embeddings

    texts = [chunk["bm25"] for chunk in corpus.chunks]
    metadatas = [{"doc": chunk["doc"]} for chunk in corpus.chunks]
    started = time.perf_counter()
    bm25 = BM25Retriever.from_texts(texts, metadatas=metadatas, k=DEPTH)
    store = FAISS.from_embeddings(
        list(zip(texts, corpus.vectors.tolist(), strict=True)),
        embedding=langchain_embeddings(corpus.lookup),
        metadatas=metadatas,
        distance_strategy=DistanceStrategy.MAX_INNER_PRODUCT,
    )
    build_s = time.perf_counter() - started
    out: Json = {"build_s": round(build_s, 2)}
    if not search:
        return out
    dense = store.as_retriever(search_kwargs={"k": DEPTH})
    ensemble = EnsembleRetriever(retrievers=[bm25, dense], weights=[0.5, 0.5])
    ensemble4 = EnsembleRetriever(retrievers=[bm25, dense] * 4, weights=[0.5] * 8)

    def run(mode: str, question: str) -> list[Any]:
        if mode == "hybrid":
            return list(ensemble.invoke(question))[:K]
        lists = []
        for text in [question, *corpus_variants[question]]:
            lists += [bm25.invoke(text), dense.invoke(text)]
        return list(ensemble4.weighted_reciprocal_rank(lists))[:K]

    corpus_variants = {row["variants"][0]: row["variants"][1:] for row in corpus.queries}
    out["search_ms"] = _search_all(corpus, run)
    return out


def _search_all(corpus: _Corpus, run: Callable[[str, str], Any]) -> Json:
    for row in corpus.queries[:2]:  # warm-up
        for mode in MODES:
            run(mode, row["variants"][0])
    latency: dict[str, list[float]] = {mode: [] for mode in MODES}
    with_embedding: dict[str, list[float]] = {mode: [] for mode in MODES}
    for row in corpus.queries:
        for mode in MODES:
            hits, ms = _timed(lambda m=mode, q=row["variants"][0]: run(m, q))
            assert len(hits) == K, f"{mode}: {len(hits)} hits"
            latency[mode].append(ms)
            with_embedding[mode].append(ms + row["embed_ms"][mode])
    return {
        "retrieval_only": {m: _pct(v) for m, v in latency.items()},
        "with_query_embedding": {m: _pct(v) for m, v in with_embedding.items()},
    }


def peers(folder: Path, search: bool) -> Json:
    corpus = _Corpus(folder)
    out: Json = {"chunks": len(corpus.chunks)}
    for name, run in (("llamaindex", _llamaindex), ("langchain", _langchain)):
        out[name] = run(corpus, search)
        print(f"  {name}: {out[name]}", flush=True)
    out["peak_rss_mb"] = _peak_rss_mb()
    import importlib.metadata as md

    out["versions"] = {
        p: md.version(p)
        for p in ("llama-index-core", "llama-index-retrievers-bm25", "langchain-community")
    }
    return out


# orchestration -------------------------------------------------------------------------------
def _step(python: Path, *args: str) -> None:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    subprocess.run([str(python), str(Path(__file__).resolve()), *args], check=True, env=env)


def _ratio(theirs: float, ours_value: float) -> float:
    return round(theirs / ours_value, 1) if ours_value else float("nan")


def summarise(sizes: Sequence[int], work: Path) -> Json:
    report: Json = {
        "benchmark": "peers_speed",
        "date": time.strftime("%Y-%m-%d %H:%M:%S %z"),
        "machine": {"cpus": os.cpu_count(), "load_avg_1m_at_end": round(os.getloadavg()[0], 2)},
        "k": K,
        "candidates_per_list": DEPTH,
        "sizes": {},
    }
    for size in sizes:
        folder = work / str(size)
        ours_row, peers_row = _read(folder / "ours.json"), _read(folder / "peers.json")
        entry: Json = {"chunks": peers_row["chunks"], "ragfusion": ours_row}
        for peer in PEERS:
            theirs = peers_row[peer]
            search = theirs["search_ms"]["with_query_embedding"]
            theirs["ratio_to_ragfusion"] = {
                "build": _ratio(theirs["build_s"], ours_row["build_s"]),
                **{
                    f"search_{mode}_p50": _ratio(
                        search[mode]["p50"], ours_row["search_ms"][mode]["p50"]
                    )
                    for mode in MODES
                },
            }
            entry[peer] = theirs
        entry["peers_peak_rss_mb"] = peers_row["peak_rss_mb"]
        report["versions"] = peers_row["versions"]
        report["sizes"][str(size)] = entry
    ingest_folder = work / "ingest"
    if (ingest_folder / "ours.json").is_file():
        mine, theirs_row = _read(ingest_folder / "ours.json"), _read(ingest_folder / "peers.json")
        ingest: Json = {"ragfusion": mine}
        for peer in PEERS:
            total = theirs_row[peer]["build_s"] + mine["raw_st_encode_s"]
            ingest[peer] = {
                "build_s": theirs_row[peer]["build_s"],
                "with_raw_st_encode_s": round(total, 2),
                "ratio_to_ragfusion": _ratio(total, mine["ingest_s"]),
            }
        report["ingest"] = ingest
    return report


def table(report: Json) -> str:
    lines = [
        "| chunks | system | build s | hybrid p50 / p99 ms | fusion4 p50 / p99 ms | peer/ours "
        "(build, hybrid, fusion4) |",
        "|---|---|---|---|---|---|",
    ]
    for size, entry in report["sizes"].items():
        mine = entry["ragfusion"]
        cells = [f"{mine['search_ms'][m]['p50']} / {mine['search_ms'][m]['p99']}" for m in MODES]
        lines.append(f"| {size} | ragfusion | {mine['build_s']} | {' | '.join(cells)} | |")
        for peer in PEERS:
            row = entry[peer]
            search = row["search_ms"]["with_query_embedding"]
            cells = [f"{search[m]['p50']} / {search[m]['p99']}" for m in MODES]
            r = row["ratio_to_ragfusion"]
            ratios = f"{r['build']}x, {r['search_hybrid_p50']}x, {r['search_fusion4_p50']}x"
            lines.append(f"| {size} | {peer} | {row['build_s']} | {' | '.join(cells)} | {ratios} |")
    if "ingest" in report:
        ing = report["ingest"]
        mine = ing["ragfusion"]
        lines.append("")
        lines.append(
            f"Ingest with embedding, {mine['documents']} SciFact documents ({mine['chunks']} "
            f"chunks): ragfusion {mine['ingest_s']} s; raw SentenceTransformer.encode "
            f"{mine['raw_st_encode_s']} s; "
            + "; ".join(
                f"{p} {ing[p]['with_raw_st_encode_s']} s ({ing[p]['ratio_to_ragfusion']}x)"
                for p in PEERS
            )
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--sizes", default="10000,100000")
    parser.add_argument("--queries", type=int, default=50)
    parser.add_argument("--ingest-docs", type=int, default=300)
    parser.add_argument("--work", type=Path, default=WORK)
    parser.add_argument("--peers-python", type=Path, default=PEERS_PYTHON)
    parser.add_argument("--results", type=Path, default=RESULTS)
    parser.add_argument("--step", choices=("export", "ours", "peers", "ingest", "peers-ingest"))
    parser.add_argument("--size", type=int, default=0)
    parser.add_argument(
        "--summarise", action="store_true", help="only rebuild the report from --work"
    )
    args = parser.parse_args()
    folder = args.work / (str(args.size) if args.size else "ingest")
    if args.step == "export":
        index = SPEED_WORK / f"index-{args.size}"
        print(f"{args.size}: exported {export_chunks(index, folder)} chunks", flush=True)
        export_queries(folder, args.queries)
        return
    if args.step == "ours":
        _write(folder / "ours.json", ours(SPEED_WORK / f"index-{args.size}", folder))
        return
    if args.step == "peers":
        _write(folder / "peers.json", peers(folder, search=True))
        return
    if args.step == "ingest":
        _write(folder / "ours.json", ours_ingest(folder, args.ingest_docs))
        return
    if args.step == "peers-ingest":
        _write(folder / "peers.json", peers(folder, search=False))
        return

    sizes = [int(s) for s in args.sizes.split(",") if s]
    if args.summarise:
        report = summarise(sizes, args.work)
        _write(args.results, report)
        print(table(report))
        return
    if not args.peers_python.is_file():
        raise SystemExit(f"{args.peers_python} is missing: run bash benchmarks/peers-setup.sh")
    main_python = Path(sys.executable)
    common = ["--work", str(args.work), "--queries", str(args.queries)]
    for size in sizes:
        if not (SPEED_WORK / f"index-{size}" / "speed-build.json").is_file():
            subprocess.run(
                [str(main_python), str(HERE / "speed.py"), "--sizes", str(size), "--build-only"],
                check=True,
            )
        for step, python in (("export", main_python), ("ours", main_python)):
            _step(python, "--step", step, "--size", str(size), *common)
        _step(args.peers_python, "--step", "peers", "--size", str(size), *common)
    if args.ingest_docs:
        _step(main_python, "--step", "ingest", "--ingest-docs", str(args.ingest_docs), *common)
        _step(args.peers_python, "--step", "peers-ingest", *common)
    report = summarise(sizes, args.work)
    _write(args.results, report)
    print(table(report))
    print(f"wrote {args.results}")


if __name__ == "__main__":
    main()
