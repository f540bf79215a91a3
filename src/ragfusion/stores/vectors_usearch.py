"""Dense vectors in a usearch HNSW index (cosine), persisted to one file.

Small collections are searched exactly (brute force beats graph walks below a few tens of
thousands of vectors and is exact); larger ones use HNSW. Filtered searches over-fetch and,
if too few hits survive the filter, fall back to an exact search over the allowed vectors.

The whole index lives in memory. Saves write a new file and rename it over the old one, so a
process that did not write (a second process, a server while a CLI ingest runs) can see a
newer file and ``refresh`` picks it up. A lock makes searches safe next to a writing thread
(usearch may grow its buffers during ``add``).
"""

from __future__ import annotations

import os
import threading
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
        self.path = path
        self.dim = dim
        self._lock = threading.RLock()
        self._index, self._stamp = self._load()
        self._dirty = False

    def _load(self) -> tuple[Any, tuple[int, int, int] | None]:
        """A fresh index from the file (empty if there is none), and the file's stamp."""
        path, dim = self.path, self.dim
        index = _usearch_index()(
            ndim=dim,
            metric="cos",
            dtype="f32",
            connectivity=_HNSW_CONNECTIVITY,
            expansion_add=_HNSW_EXPANSION_ADD,
            expansion_search=_HNSW_EXPANSION_SEARCH,
        )
        stamp = _stamp(path)
        if stamp is None:
            return index, None
        try:
            index.load(str(path))
        except Exception as exc:
            raise IndexStateError(
                f"The vector index {path} cannot be read ({exc}); rebuild it "
                "with: ragfusion check --repair --index DIR"
            ) from exc
        if index.ndim != dim:
            raise IndexStateError(
                f"The vector index {path} holds {index.ndim}-d vectors but {dim} were expected"
            )
        return index, stamp

    def refresh(self) -> bool:
        """Load the file again if another process saved a newer one since we last read or
        wrote it (never while this object holds unsaved changes). True if it reloaded."""
        with self._lock:
            if self._dirty or _stamp(self.path) == self._stamp:
                return False
            self._index, self._stamp = self._load()
            return True

    def discard(self) -> None:
        """Drop unsaved changes: back to the last saved file (after a rollback)."""
        with self._lock:
            if self._dirty:
                self._index, self._stamp = self._load()
                self._dirty = False

    def __len__(self) -> int:
        with self._lock:
            return int(self._index.size)

    def add(self, keys: Sequence[int], vectors: Vectors) -> None:
        if not len(keys):
            return
        key_array = np.asarray(keys, dtype=np.uint64)
        with self._lock:
            present = [int(k) for k in key_array if self._index.contains(int(k))]
            if present:
                self._index.remove(present)
            self._index.add(key_array, np.ascontiguousarray(vectors, dtype=np.float32))
            self._dirty = True

    def remove(self, keys: Sequence[int]) -> None:
        with self._lock:
            present = [int(k) for k in keys if self._index.contains(int(k))]
            if present:
                self._index.remove(present)
                self._dirty = True

    def keys(self) -> set[int]:
        with self._lock:
            return {int(k) for k in self._index.keys}

    def save(self, force: bool = False) -> None:
        """Write atomically: a crash mid-save leaves the previous file intact."""
        with self._lock:
            if not (self._dirty or force):
                return
            tmp = self.path.with_suffix(".tmp")
            self._index.save(str(tmp))
            with open(tmp, "rb") as handle:
                os.fsync(handle.fileno())
            os.replace(tmp, self.path)
            _fsync_dir(self.path.parent)
            self._stamp = _stamp(self.path)
            self._dirty = False

    def search(self, queries: Vectors, k: int) -> list[list[tuple[int, float]]]:
        """Top ``k`` (key, cosine similarity) per query row."""
        with self._lock:
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
        with self._lock:
            present = np.asarray(
                [key for key in allowed if self._index.contains(int(key))], dtype=np.uint64
            )
            if present.size == 0:
                return [[] for _ in range(len(queries))]
            vectors = self._index.get(present)
        matrix = np.asarray(vectors, dtype=np.float32).reshape(len(present), -1)
        scores = np.asarray(queries, dtype=np.float32) @ matrix.T
        top = min(k, len(present))
        out: list[list[tuple[int, float]]] = []
        for row in scores:
            best = np.argpartition(-row, top - 1)[:top]
            best = best[np.argsort(-row[best], kind="stable")]
            out.append([(int(present[i]), float(row[i])) for i in best])
        return out


def _stamp(path: Path) -> tuple[int, int, int] | None:
    """What identifies one saved version of the file (a save replaces the inode)."""
    try:
        info = os.stat(path)
    except FileNotFoundError:
        return None
    return (info.st_ino, info.st_mtime_ns, info.st_size)


def _fsync_dir(folder: Path) -> None:
    """Make a rename in ``folder`` durable (a no-op where directories cannot be opened)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:  # pragma: no cover - e.g. Windows
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
