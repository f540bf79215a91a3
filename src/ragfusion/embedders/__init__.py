"""Embedding models behind one small contract; ``make_embedder`` builds one from a spec.

Specs: ``minilm`` (the bundled all-MiniLM-L6-v2, the default) or ``st:/path/to/model``
(any sentence-transformers model folder on disk).
"""

from __future__ import annotations

from pathlib import Path

from ragfusion.embedders.base import Embedder, Vectors, normalise_rows
from ragfusion.errors import ConfigError

DEFAULT_EMBEDDER = "minilm"


def make_embedder(spec: str = DEFAULT_EMBEDDER) -> Embedder:
    """Build the embedder a spec names (the model itself loads on first use)."""
    from ragfusion.embedders.sentence_transformers import SentenceTransformerEmbedder

    if spec in ("minilm", "all-MiniLM-L6-v2"):
        return SentenceTransformerEmbedder()
    if spec.startswith("st:"):
        return SentenceTransformerEmbedder(Path(spec[3:]).expanduser())
    raise ConfigError(
        f"Unknown embedder '{spec}'. Use 'minilm' (bundled) or "
        "'st:/path/to/sentence-transformers-model'."
    )


__all__ = ["DEFAULT_EMBEDDER", "Embedder", "Vectors", "make_embedder", "normalise_rows"]
