"""Embedding models behind one small contract; ``make_embedder`` builds one from a spec.

Specs: ``minilm`` (the bundled all-MiniLM-L6-v2, the default), ``st:/path/to/model``
(any sentence-transformers model folder on disk, run on torch) or ``openai:MODEL`` (an
OpenAI-compatible ``/embeddings`` server; base URL from ``base_url``,
``$RAGFUSION_EMBED_BASE_URL`` or ``$OPENAI_BASE_URL``; see ``embedders.openai_compat``).

``minilm`` runs on ONNX Runtime (same vectors, ~4x faster queries; see ``onnx_runtime``) and
falls back to torch with a warning if that is unavailable. ``RAGFUSION_EMBED_BACKEND=torch``
(or the spec ``minilm-torch``) chooses torch; ``=onnx`` (or ``minilm-onnx``) fails instead of
falling back. Every variant has the same name, so indexes built with one open with the other.
"""

from __future__ import annotations

import os
from pathlib import Path

from ragfusion.embedders.base import Embedder, Vectors, normalise_rows
from ragfusion.errors import ConfigError, MissingDependencyError

DEFAULT_EMBEDDER = "minilm"
BACKEND_ENV = "RAGFUSION_EMBED_BACKEND"
BACKENDS = ("auto", "onnx", "torch")


def make_embedder(spec: str = DEFAULT_EMBEDDER, *, base_url: str | None = None) -> Embedder:
    """Build the embedder a spec names (the model itself loads on first use); ``base_url``
    is for ``openai:`` specs only."""
    if spec.startswith("openai:"):
        try:
            from ragfusion.embedders.openai_compat import OpenAICompatEmbedder
        except ImportError as exc:
            purpose = "An OpenAI-compatible embedder"
            raise MissingDependencyError("httpx", "openai", purpose) from exc
        return OpenAICompatEmbedder(spec[7:], base_url)
    from ragfusion.embedders.onnx_runtime import OnnxEmbedder
    from ragfusion.embedders.sentence_transformers import SentenceTransformerEmbedder

    if spec in ("minilm", "all-MiniLM-L6-v2"):
        backend = os.environ.get(BACKEND_ENV, "").strip().lower() or "auto"
        if backend not in BACKENDS:
            raise ConfigError(f"{BACKEND_ENV}={backend!r}; use one of {', '.join(BACKENDS)}")
        spec = {"auto": "minilm", "onnx": "minilm-onnx", "torch": "minilm-torch"}[backend]
        if spec == "minilm":
            return OnnxEmbedder()
    if spec == "minilm-onnx":
        return OnnxEmbedder(strict=True)
    if spec == "minilm-torch":
        return SentenceTransformerEmbedder()
    if spec.startswith("st:"):
        return SentenceTransformerEmbedder(Path(spec[3:]).expanduser())
    raise ConfigError(
        f"Unknown embedder '{spec}'. Use 'minilm' (bundled; or minilm-onnx, minilm-torch) or "
        "'st:/path/to/sentence-transformers-model' or 'openai:MODEL' (an OpenAI-compatible "
        "server)."
    )


__all__ = [
    "BACKEND_ENV",
    "DEFAULT_EMBEDDER",
    "Embedder",
    "Vectors",
    "make_embedder",
    "normalise_rows",
]
