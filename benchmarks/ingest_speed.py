"""Ingest throughput against raw embedding throughput, and whether overlapping loading and
chunking with embedding pays.

For each corpus (examples/kb; the first N SciFact documents as TextRecords) this measures,
with the embedding model already loaded:
- load+chunk alone (no embedding), chunks/s;
- raw ``SentenceTransformer.encode`` (torch, batch 64, as the torch embedder calls it) and raw
  ONNX Runtime encode, on exactly the texts ingest embeds;
- ``Pipeline`` ingest as shipped (sequential: load, chunk, embed, index);
- ingest with a prototype overlap: a background thread loads and chunks documents into a
  bounded queue while the main thread embeds and indexes (torch/onnxruntime drop the GIL).

    .venv/bin/python benchmarks/ingest_speed.py [--docs 2000]   # results/ingest_speed.json
"""

from __future__ import annotations

import argparse
import json
import os
import queue
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

from ragfusion import Pipeline
from ragfusion.embedders import make_embedder
from ragfusion.embedders.sentence_transformers import SentenceTransformerEmbedder
from ragfusion.evaluation.beir import load_collection
from ragfusion.ingest.loaders import discover, load_document
from ragfusion.pipeline import embedding_text
from ragfusion.types import Chunk, Document

ROOT = Path(__file__).resolve().parents[1]
KB = ROOT / "examples" / "kb"
SCIFACT = ROOT.parent / "shared" / "data" / "scifact"
OUT = ROOT / "benchmarks" / "results" / "ingest_speed.json"
QUEUE_DEPTH = 64  # documents loaded and chunked ahead of the embedder
ST_BATCH = 64  # SentenceTransformerEmbedder's batch size


def corpus_loads(name: str, docs: int) -> list[Callable[[], Document]]:
    if name == "kb":
        files, _ = discover([KB])
        return [lambda f=f: load_document(f, 50_000_000) for f in files]
    records = load_collection(SCIFACT).corpus[:docs]
    return [lambda r=r: r.to_document() for r in records]


class PrefetchingChunker:
    """Loads and chunks in a background thread, ahead of the pipeline, through a bounded
    queue; the pipeline's ``split`` then only picks up what the thread produced."""

    def __init__(self, chunker: Any, loads: Sequence[Callable[[], Document]]) -> None:
        self._chunker = chunker
        self._queue: queue.Queue[tuple[Document, list[Chunk]] | None] = queue.Queue(QUEUE_DEPTH)
        self._ready: dict[str, list[Chunk]] = {}
        self._thread = threading.Thread(target=self._produce, args=(loads,), daemon=True)
        self._thread.start()

    def _produce(self, loads: Sequence[Callable[[], Document]]) -> None:
        for load in loads:
            document = load()
            self._queue.put((document, self._chunker.split(document)))
        self._queue.put(None)

    def loads(self) -> Iterator[Callable[[], Document]]:
        while (item := self._queue.get()) is not None:
            document, chunks = item
            self._ready[document.doc_id] = chunks
            yield lambda d=document: d

    def split(self, document: Document) -> list[Chunk]:
        return self._ready.pop(document.doc_id)


def chunk_texts(pipe: Pipeline, loads: Sequence[Callable[[], Document]]) -> tuple[list[str], float]:
    started = time.perf_counter()
    texts = []
    for load in loads:
        document = load()
        texts += [embedding_text(document.title, c) for c in pipe.chunker.split(document)]
    return texts, time.perf_counter() - started


def ingest(pipe: Pipeline, loads: Sequence[Callable[[], Document]], chunker: Any) -> Any:
    """Ingest as shipped (``chunker`` None) or with prefetching by ``chunker`` in a thread."""
    if chunker is None:
        return pipe.indexer.ingest_loads(iter(loads), len(loads), [], None)
    prefetch = PrefetchingChunker(chunker, loads)
    pipe._chunker = prefetch  # type: ignore[assignment]
    return pipe.indexer.ingest_loads(prefetch.loads(), len(loads), [], None)


MODES = ("raw_onnx_encode", "ingest_sequential", "ingest_overlapped", "raw_st_encode")


def measure(
    name: str, docs: int, rounds: int, segments: int, onnx: Any, st: SentenceTransformerEmbedder
) -> dict[str, Any]:
    """Every mode on every segment in turn (rotating which goes first), so the noise of a
    shared machine falls on all modes alike; ingest modes append to one index per round."""
    loads = corpus_loads(name, docs)
    parts = [loads[i::segments] for i in range(segments)]
    with tempfile.TemporaryDirectory() as tmp, Pipeline.open(tmp, embedder=onnx) as pipe:
        texts = [chunk_texts(pipe, part) for part in parts]
    chunks = sum(len(t) for t, _ in texts)
    print(f"{name}: {len(loads)} documents, {chunks} chunks", flush=True)
    seconds = dict.fromkeys(MODES, 0.0)
    timings: dict[str, dict[str, float]] = {m: {} for m in MODES[1:3]}
    added = dict.fromkeys(MODES[1:3], 0)
    step = 0
    for _ in range(rounds):
        with tempfile.TemporaryDirectory() as tmp:
            pipes = {m: Pipeline.open(Path(tmp) / m, embedder=onnx) for m in MODES[1:3]}
            chunker = pipes["ingest_overlapped"].chunker
            for part, (part_texts, _) in zip(parts, texts, strict=True):
                for mode in MODES[step % 4 :] + MODES[: step % 4]:
                    started = time.perf_counter()
                    if mode == "raw_onnx_encode":
                        onnx.embed_documents(part_texts)
                    elif mode == "raw_st_encode":
                        st.model.encode(part_texts, batch_size=ST_BATCH, normalize_embeddings=True)
                    else:
                        overlap = chunker if mode == "ingest_overlapped" else None
                        report = ingest(pipes[mode], part, overlap)
                        added[mode] += report.chunks_added
                        for key, value in report.timings_s.items():
                            timings[mode][key] = timings[mode].get(key, 0.0) + value
                    seconds[mode] += time.perf_counter() - started
                step += 1
            for p in pipes.values():
                p.close()
    total = chunks * rounds
    assert all(n == total for n in added.values()), added
    speed = {m: round(total / seconds[m], 2) for m in MODES}
    result: dict[str, Any] = {
        "documents": len(loads),
        "chunks": chunks,
        "rounds": rounds,
        "segments": segments,
        "load_chunk_only_chunks_per_s": round(chunks / sum(s for _, s in texts), 1),
        "chunks_per_s": speed,
        "ingest_timings_s": {m: {k: round(v, 2) for k, v in t.items()} for m, t in timings.items()},
        "ratio_to_raw_st_encode": {m: round(speed[m] / speed["raw_st_encode"], 3) for m in MODES},
        "ratio_to_raw_onnx_encode": {
            m: round(speed[m] / speed["raw_onnx_encode"], 3) for m in MODES
        },
        "overlap_gain": round(speed["ingest_overlapped"] / speed["ingest_sequential"] - 1, 4),
    }
    print(json.dumps(result, indent=2), flush=True)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--docs", type=int, default=2000, help="SciFact documents to ingest")
    parser.add_argument("--segments", type=int, default=10, help="SciFact slices, interleaved")
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    onnx = make_embedder("minilm-onnx")
    torch = SentenceTransformerEmbedder()
    onnx.embed_documents(["warm up"])
    torch.embed_documents(["warm up"])
    results = {
        "machine": {"cpus": os.cpu_count(), "note": "2 cores shared with other test runs"},
        "command": f"benchmarks/ingest_speed.py --docs {args.docs} --segments {args.segments}",
        "embedder": {"onnx_batch": onnx.batch_size, "st_batch": ST_BATCH},  # type: ignore[attr-defined]
        "corpora": {
            "kb": measure("kb", 0, 3, 1, onnx, torch),
            "scifact": measure("scifact", args.docs, 1, args.segments, onnx, torch),
        },
    }
    OUT.parent.mkdir(exist_ok=True)
    OUT.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
