"""The Embedder contract: batch in, one L2-normalised float32 row per text out."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Protocol, runtime_checkable

import numpy as np
import numpy.typing as npt

Vectors = npt.NDArray[np.float32]


@runtime_checkable
class Embedder(Protocol):
    """Turns texts into unit vectors. Cheap to construct; the model loads on first use.

    ``name`` and ``dim`` are recorded in the index manifest: an index can only be searched
    with the embedder that built it.
    """

    @property
    def name(self) -> str: ...

    @property
    def dim(self) -> int: ...

    @property
    def tokenizer_file(self) -> Path | None:
        """A Hugging Face ``tokenizer.json`` the chunker counts tokens with, if any."""
        ...

    def embed_documents(self, texts: Sequence[str]) -> Vectors:
        """Embed passages; returns an array of shape (len(texts), dim)."""
        ...

    def embed_queries(self, texts: Sequence[str]) -> Vectors:
        """Embed queries; returns an array of shape (len(texts), dim)."""
        ...


def normalise_rows(vectors: npt.NDArray[np.floating]) -> Vectors:
    """L2-normalise each row (zero rows stay zero) as float32."""
    out = np.asarray(vectors, dtype=np.float32)
    norms = np.linalg.norm(out, axis=1, keepdims=True)
    norms[norms == 0] = 1.0
    return np.ascontiguousarray(out / norms, dtype=np.float32)
