"""An int8 MiniLM for queries: does ONNX Runtime dynamic quantisation keep nDCG@10?

The cached fp32 export of the bundled MiniLM is quantised (per-channel int8 weights) into a
temporary file. Documents keep their stored fp32 vectors; each query of every collection of
benchmarks/fusion_loco.py is embedded both ways, searched dense and fused with its BM25 list by
the shipped default. Also: p50 of embedding 4 query variants in one call, and documents/s of
embedding 512 SciFact passages, both ways.

    .venv/bin/python benchmarks/int8_embedding.py     # -> results/int8_embedding.json
"""

from __future__ import annotations

import dataclasses
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import fusion_loco as loco

from ragfusion.embedders import make_embedder
from ragfusion.embedders.onnx_runtime import OnnxEncoder
from ragfusion.evaluation.beir import load_collection
from ragfusion.evaluation.runner import DEPTH, default_index_dir
from ragfusion.pipeline import Pipeline
from ragfusion.types import RankedList

OUT = Path(__file__).resolve().parent / "results" / "int8_embedding.json"
VARIANTS = [
    "How often should I replace the HEPA filter?",
    "HEPA filter replacement interval",
    "when to change the purifier filter",
    "replace HEPA filter every few months",
]


def encoders(folder: Path) -> tuple[Any, Any]:
    """The shipped fp32 encoder and an int8 one quantised from its file."""
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    embedder: Any = make_embedder("minilm")
    embedder.embed_queries(["warm up"])
    fp32 = embedder._encoder
    source = Path(fp32._session._model_path)
    target = folder / "model-int8.onnx"
    quantize_dynamic(
        source,
        target,
        weight_type=QuantType.QInt8,
        per_channel=True,
        extra_options={"DefaultTensorType": onnx.TensorProto.FLOAT},
    )
    return fp32, OnnxEncoder(target, embedder._path, fused=True)


def p50_ms(encode: Any, texts: list[str], runs: int = 200) -> float:
    for _ in range(10):
        encode(texts)
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        encode(texts)
        times.append((time.perf_counter() - t) * 1000)
    return round(float(np.percentile(times, 50)), 2)


def main() -> None:
    started = time.time()
    with tempfile.TemporaryDirectory() as tmp:
        fp32, int8 = encoders(Path(tmp))
        speed = {
            "four_variants_p50_ms": {
                "fp32": p50_ms(fp32.embed, VARIANTS),
                "int8": p50_ms(int8.embed, VARIANTS),
            }
        }
        scifact = load_collection(loco.SHARED / "scifact", "test")
        passages = [record.text for record in scifact.corpus[:512]]
        for name, encoder in (("fp32", fp32), ("int8", int8)):
            t = time.perf_counter()
            encoder.embed(passages)
            speed.setdefault("passages_per_s", {})[name] = round(
                len(passages) / (time.perf_counter() - t), 1
            )
        rows = {}
        for name, path in loco.collections().items():
            collection = load_collection(path, "test")
            data = loco.collect(name, collection)
            qids = list(data)
            texts = [collection.queries[q] for q in qids]
            with Pipeline.open(default_index_dir(collection)) as pipe:
                searched = {}
                for kind, encoder in (("fp32", fp32), ("int8", int8)):
                    vectors = encoder.embed(texts)
                    searched[kind] = pipe.store.search_dense(vectors, DEPTH, None)
                ids = {h.chunk_id for hits in searched["int8"] for h in hits}
                extra = pipe.store.vectors_of(sorted(ids))
            row: dict[str, float] = {}
            for kind, lists in searched.items():
                swapped = {}
                for qid, hits in zip(qids, lists, strict=True):
                    query = data[qid]
                    dense = RankedList(query.dense.query, "dense", tuple(hits), 1.0)
                    swapped[qid] = dataclasses.replace(
                        query, dense=dense, vectors={**query.vectors, **extra}
                    )
                row[f"dense_{kind}"] = loco.ndcg(collection, swapped, loco.single("dense"))
                row[f"default_{kind}"] = loco.ndcg(
                    collection, swapped, lambda q: loco.fused(loco.SHIPPED, q)
                )
            rows[name] = {k: round(v, 4) for k, v in row.items()} | {
                "dense_change": round(row["dense_int8"] - row["dense_fp32"], 4),
                "default_change": round(row["default_int8"] - row["default_fp32"], 4),
            }
            print(name, rows[name], flush=True)
    worst = min(min(r["dense_change"], r["default_change"]) for r in rows.values())
    result = {
        "speed": speed,
        "collections": rows,
        "worst_change": worst,
        "within_0.002_everywhere": worst >= -0.002,
        "seconds": round(time.time() - started),
    }
    OUT.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps({k: v for k, v in result.items() if k != "collections"}, indent=2))


if __name__ == "__main__":
    main()
