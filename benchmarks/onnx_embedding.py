"""The bundled MiniLM on torch vs ONNX Runtime: same vectors? how much faster?

The model is exported with ``torch.onnx.export`` (fp32, opset 17; optimum is not used: its
current release needs transformers < 5, which sentence-transformers 6 does not accept), run
with onnxruntime on 2 threads, mean-pooled and normalised like sentence-transformers does.

    (onnx and onnxruntime are in the ``local`` extra; the shipped backend that grew out of
    this measurement is ``ragfusion.embedders.onnx_runtime``.)
    .venv/bin/python benchmarks/onnx_embedding.py    # writes results/onnx_embedding.json
"""

from __future__ import annotations

import json
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from ragfusion.embedders import make_embedder

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "cranfield" / "corpus.jsonl"
OUT = Path(__file__).resolve().parent / "results" / "onnx_embedding.json"
QUERY = ["How often should I replace the HEPA filter?"]
INPUTS = ["input_ids", "attention_mask", "token_type_ids"]


def mean_ms(fn: Callable[[], object], repeats: int) -> float:
    started = time.perf_counter()
    for _ in range(repeats):
        fn()
    return round((time.perf_counter() - started) / repeats * 1000, 2)


def main() -> None:
    import onnxruntime as ort
    import torch

    embedder = make_embedder("minilm-torch")  # the reference; "minilm" now runs on ONNX itself
    embedder.warm_up()  # type: ignore[attr-defined]
    model: Any = embedder._model  # type: ignore[attr-defined]
    bert, tokenizer = model[0].auto_model.eval(), model.tokenizer

    class Encoder(torch.nn.Module):
        def __init__(self, inner: Any) -> None:
            super().__init__()
            self.inner = inner

        def forward(self, ids: Any, mask: Any, types: Any) -> Any:
            return self.inner(
                input_ids=ids, attention_mask=mask, token_type_ids=types
            ).last_hidden_state

    texts = [json.loads(line)["text"] for line in DATA.open()][:128]
    with tempfile.TemporaryDirectory() as tmp:
        path = str(Path(tmp) / "minilm.onnx")
        example = tokenizer(QUERY, return_tensors="pt")
        torch.onnx.export(
            Encoder(bert),
            tuple(example[k] for k in INPUTS),
            path,
            input_names=INPUTS,
            output_names=["hidden"],
            opset_version=17,
            dynamic_axes={k: {0: "batch", 1: "seq"} for k in [*INPUTS, "hidden"]},
            dynamo=False,
        )
        options = ort.SessionOptions()
        options.intra_op_num_threads = 2
        session = ort.InferenceSession(path, options, providers=["CPUExecutionProvider"])

        def onnx_embed(batch: list[str]) -> np.ndarray:
            enc = tokenizer(
                batch, padding=True, truncation=True, max_length=256, return_tensors="np"
            )
            hidden = session.run(None, {k: enc[k].astype(np.int64) for k in INPUTS})[0]
            mask = enc["attention_mask"][..., None].astype(np.float32)
            pooled = (hidden * mask).sum(1) / mask.sum(1)
            return pooled / np.linalg.norm(pooled, axis=1, keepdims=True)

        reference = embedder.embed_documents(texts)
        exported = np.concatenate([onnx_embed(texts[i : i + 32]) for i in range(0, 128, 32)])
        cosine = (reference * exported).sum(axis=1)
        torch_batch = mean_ms(lambda: embedder.embed_documents(texts), 1)
        onnx_batch = mean_ms(lambda: [onnx_embed(texts[i : i + 32]) for i in range(0, 128, 32)], 1)
        result = {
            "texts": len(texts),
            "cosine_min": float(cosine.min()),
            "query_ms": {
                "torch": mean_ms(lambda: embedder.embed_queries(QUERY), 30),
                "onnx": mean_ms(lambda: onnx_embed(QUERY), 30),
            },
            "documents_per_s": {
                "torch": round(len(texts) / torch_batch * 1000, 1),
                "onnx": round(len(texts) / onnx_batch * 1000, 1),
            },
        }
    OUT.parent.mkdir(exist_ok=True)
    OUT.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
