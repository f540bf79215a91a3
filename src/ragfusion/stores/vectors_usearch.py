"""Dense vectors in a usearch HNSW index (cosine), persisted to one file.

Small collections are searched exactly (brute force beats graph walks below a few tens of
thousands of vectors and is exact); larger ones use HNSW. Filtered searches over-fetch and,
if too few hits survive the filter, fall back to an exact search over the allowed vectors.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ragfusion.embedders.base import Vectors
from ragfusion.errors import IndexStateError, MissingDependencyError

EXACT_SEARCH_BELOW = 20_000
_HNSW_CONNECTIVITY = 16
_HNSW_EXPANSION_ADD = 128
_HNSW_EXPANSION_SEARCH = 96


def _usearch_index() -> Any:
    from ragfusion.llm.llama_cpp import prime_before_usearch

    prime_before_usearch()  # must run before usearch loads; see its docstring
    try:
        from usearch.index import Index
    except ImportError as exc:  # pragma: no cover - core dependency
        raise MissingDependencyError("usearch", "local", "Dense vector search") from exc
    return Index


class UsearchVectors:
    """Cosine-similarity vector index keyed by chunk key (an unsigned 64-bit integer)."""

    def __init__(self, path: Path, dim: int) -> None:
        index_cls = _usearch_index()
        self.path = path
        self.dim = dim
        self._index = index_cls(
            ndim=dim,
            metric="cos",
            dtype="f32",
            connectivity=_HNSW_CONNECTIVITY,
            expansion_add=_HNSW_EXPANSION_ADD,
            expansion_search=_HNSW_EXPANSION_SEARCH,
        )
        if path.exists():
            try:
                self._index.load(str(path))
            except Exception as exc:
                raise IndexStateError(
                    f"The vector index {path} cannot be read ({exc}); rebuild it "
                    "with: ragfusion check --repair --index DIR"
                ) from exc
            if self._index.ndim != dim:
                raise IndexStateError(
                    f"The vector index {path} holds {self._index.ndim}-d vectors "
                    f"but {dim} were expected"
                )
        self._dirty = False

    def __len__(self) -> int:
        return int(self._index.size)

    def add(self, keys: Sequence[int], vectors: Vectors) -> None:
        if not len(keys):
            return
        key_array = np.asarray(keys, dtype=np.uint64)
        present = [int(k) for k in key_array if self._index.contains(int(k))]
        if present:
            self._index.remove(present)
        self._index.add(key_array, np.ascontiguousarray(vectors, dtype=np.float32))
        self._dirty = True

    def remove(self, keys: Sequence[int]) -> None:
        present = [int(k) for k in keys if self._index.contains(int(k))]
        if present:
            self._index.remove(present)
            self._dirty = True

    def keys(self) -> set[int]:
        return {int(k) for k in self._index.keys}

    def save(self, force: bool = False) -> None:
        """Write atomically: a crash mid-save leaves the previous file intact."""
        if not (self._dirty or force):
            return
        tmp = self.path.with_suffix(".tmp")
        self._index.save(str(tmp))
        with open(tmp, "rb") as handle:
            os.fsync(handle.fileno())
        os.replace(tmp, self.path)
        self._dirty = False

    def search(self, queries: Vectors, k: int) -> list[list[tuple[int, float]]]:
        """Top ``k`` (key, cosine similarity) per query row."""
        n = len(self._index)
        if n == 0 or k <= 0:
            return [[] for _ in range(len(queries))]
        k = min(k, n)
        matches = self._index.search(
            np.ascontiguousarray(queries, dtype=np.float32), k, exact=n < EXACT_SEARCH_BELOW
        )
        keys = np.atleast_2d(matches.keys)
        distances = np.atleast_2d(matches.distances)
        # usearch returns Matches (no ``counts``) for a single query, BatchMatches otherwise
        counts = np.atleast_1d(np.asarray(getattr(matches, "counts", keys.shape[1])))
        return [
            [(int(keys[i, j]), 1.0 - float(distances[i, j])) for j in range(int(counts[i]))]
            for i in range(len(queries))
        ]

    def search_within(
        self, queries: Vectors, k: int, allowed: Sequence[int]
    ) -> list[list[tuple[int, float]]]:
        """Exact top ``k`` among the ``allowed`` keys only."""
        present = np.asarray(
            [key for key in allowed if self._index.contains(int(key))], dtype=np.uint64
        )
        if present.size == 0:
            return [[] for _ in range(len(queries))]
        matrix = np.asarray(self._index.get(present), dtype=np.float32).reshape(len(present), -1)
        scores = np.asarray(queries, dtype=np.float32) @ matrix.T
        top = min(k, len(present))
        out: list[list[tuple[int, float]]] = []
        for row in scores:
            best = np.argpartition(-row, top - 1)[:top]
            best = best[np.argsort(-row[best], kind="stable")]
            out.append([(int(present[i]), float(row[i])) for i in best])
        return out
