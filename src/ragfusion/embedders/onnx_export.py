"""Export a BERT-style sentence-transformers model to ONNX with torch, once per cache key.

The transformer is exported with ``torch.onnx.export`` (TorchScript exporter, opset 17) using
eager attention: that is the graph pattern ONNX Runtime's BERT optimizer fuses into its
Attention, SkipLayerNormalization and BiasGelu kernels (SDPA exports are left unfused, and
run slower on documents). Pooling and normalisation stay outside the graph, in numpy, as
sentence-transformers does them. optimum is not used: its release needs transformers < 5.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ragfusion.embedders.base import Vectors

OPSET = 17
INPUT_NAMES = ("input_ids", "attention_mask", "token_type_ids")
OUTPUT_NAME = "last_hidden_state"
_FUSED_MODEL_TYPES = ("bert",)


class TorchExporter:
    """Writes the ONNX file with torch and computes reference vectors with
    sentence-transformers, the pipeline the exported model must reproduce."""

    def export(self, model_path: Path, target: Path) -> bool:
        import torch
        from transformers import AutoModel

        from ragfusion.embedders.sentence_transformers import quiet_model_loading

        quiet_model_loading()
        config = json.loads((model_path / "config.json").read_text())
        model = AutoModel.from_pretrained(
            str(model_path), attn_implementation="eager", local_files_only=True
        ).eval()

        class Encoder(torch.nn.Module):
            def __init__(self, inner: Any) -> None:
                super().__init__()
                self.inner = inner

            def forward(self, ids: Any, mask: Any, types: Any) -> Any:
                out = self.inner(input_ids=ids, attention_mask=mask, token_type_ids=types)
                return out.last_hidden_state

        # Two rows of different lengths, so the traced graph handles padding masks.
        ids = torch.tensor([[101, 2023, 2003, 1037, 3231, 102], [101, 3231, 102, 0, 0, 0]])
        mask = (ids != 0).long()
        fd, raw = tempfile.mkstemp(dir=target.parent, prefix=".export.", suffix=".onnx")
        os.close(fd)
        try:
            with warnings.catch_warnings(), torch.no_grad():
                warnings.simplefilter("ignore")
                torch.onnx.export(
                    Encoder(model),
                    (ids, mask, torch.zeros_like(ids)),
                    raw,
                    input_names=list(INPUT_NAMES),
                    output_names=[OUTPUT_NAME],
                    opset_version=OPSET,
                    dynamic_axes={n: {0: "batch", 1: "seq"} for n in [*INPUT_NAMES, OUTPUT_NAME]},
                    dynamo=False,
                )
            fused = _fuse(Path(raw), target, config)
            if not fused:
                os.replace(raw, target)
        finally:
            with contextlib.suppress(OSError):
                os.unlink(raw)
        return fused

    def reference(self, model_path: Path, texts: Sequence[str]) -> Vectors:
        from ragfusion.embedders.sentence_transformers import SentenceTransformerEmbedder

        return SentenceTransformerEmbedder(model_path).embed_documents(texts)


def _fuse(raw: Path, target: Path, config: dict[str, Any]) -> bool:
    """Fuse attention and layer norms with ONNX Runtime's BERT optimizer; False if it cannot.

    The result is checked against torch by the caller like any export, so a failed or partial
    fusion can only cost speed, never correctness.
    """
    if config.get("model_type") not in _FUSED_MODEL_TYPES:
        return False
    try:
        from onnxruntime.transformers.optimizer import optimize_model

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            optimized = optimize_model(
                str(raw),
                model_type="bert",
                num_heads=int(config["num_attention_heads"]),
                hidden_size=int(config["hidden_size"]),
                opt_level=0,
            )
            if not optimized.get_fused_operator_statistics().get("Attention"):
                return False  # pattern not recognised: ONNX Runtime fuses what it can online
            optimized.save_model_to_file(str(target))
    except Exception:  # an unfused model is still a correct model
        return False
    return True
