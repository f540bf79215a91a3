"""Dense vectors in a usearch HNSW index (cosine), persisted to one file.

Small collections are searched exactly (below a few tens of thousands of vectors, brute force
is exact and about as fast as a graph walk); larger ones use HNSW. Searches run on one
thread: a query batch is a few vectors, and a second thread pool (usearch's, or the BLAS
behind numpy) left spinning on a 2-core machine was measured to slow the next query
embedding (ONNX Runtime's pool) by 1.5-2x. So the exact search is a numpy product over
blocks small enough that OpenBLAS does them on the calling thread (2 ms for 4 queries at
10k vectors, where usearch's single-threaded exact search takes 7 ms). Filtered searches
over-fetch and, if too few hits survive the filter, fall back to an exact search over the
allowed vectors.

Opening memory-maps the saved file (usearch's read-only ``view``): 0.25 s instead of 2.8 s
for a million vectors, and pages are shared with the OS cache. The first write loads a
mutable copy. Saves write a new file and rename it over the old one, so a process that did
not write (a second process, a server while a CLI ingest runs) can see a newer file and
``refresh`` picks it up. A lock makes searches safe next to a writing thread (usearch may
grow its buffers during ``add``).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from ragfusion.embedders.base import Vectors
from ragfusion.errors import IndexStateError, MissingDependencyError
from ragfusion.stores.cosine import blocked_cosines, unit_rows

EXACT_SEARCH_BELOW = 20_000
_HNSW_CONNECTIVITY = 16
_HNSW_EXPANSION_ADD = 128
_HNSW_EXPANSION_SEARCH = 96
_SEARCH_THREADS = 1  # see the module docstring
_STAGE_LIMIT = 8192  # staged vectors inserted in one batch at most


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
        self._view = False  # the index is a read-only memory map of the file
        self._exact: tuple[npt.NDArray[np.uint64], Vectors] | None = None
        # Vectors added since the last read, inserted in one batch on the next read or save:
        # usearch builds the graph on all cores for a batch, on one for a single vector.
        self._staged: dict[int, Vectors] = {}
        self._index, self._stamp = self._load(view=True)
        self._dirty = False

    def _load(self, view: bool = False) -> tuple[Any, tuple[int, int, int] | None]:
        """A fresh index from the file (empty if there is none), and the file's stamp.

        With ``view``, the file is memory-mapped read-only instead of read into memory.
        """
        path, dim = self.path, self.dim
        self._exact = None
        self._view = False
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
            if view:
                index.view(str(path))
            else:
                index.load(str(path))
            self._view = view
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
            self._index, self._stamp = self._load(view=True)
            return True

    def _writable(self) -> Any:
        """The index, as a mutable in-memory copy (a memory-mapped view cannot change: usearch
        refuses ``add`` and crashes on ``remove``). Call with the lock held."""
        if self._view:
            self._index, self._stamp = self._load(view=False)
        self._exact = None
        return self._index

    def discard(self) -> None:
        """Drop unsaved changes: back to the last saved file (after a rollback)."""
        with self._lock:
            self._staged.clear()
            if self._dirty:
                self._index, self._stamp = self._load(view=True)
                self._dirty = False

    def __len__(self) -> int:
        with self._lock:
            self._flush()
            return int(self._index.size)

    def add(self, keys: Sequence[int], vectors: Vectors) -> None:
        """Add (or replace) vectors. They are staged and inserted together on the next read
        or save; every read sees them, as if inserted now."""
        if not len(keys):
            return
        rows = np.ascontiguousarray(vectors, dtype=np.float32).reshape(len(keys), self.dim)
        with self._lock:
            for key, row in zip(keys, rows, strict=True):
                self._staged[int(key)] = row
            self._dirty = True
            if len(self._staged) >= _STAGE_LIMIT:  # bounded memory for huge transactions
                self._flush()

    def _flush(self) -> None:
        """Insert the staged vectors in one batch. Call with the lock held."""
        if not self._staged:
            return
        index = self._writable()
        keys = np.fromiter(self._staged, dtype=np.uint64, count=len(self._staged))
        present = [int(k) for k in keys if index.contains(int(k))]
        if present:
            index.remove(present)
        index.add(keys, np.stack(list(self._staged.values())))
        self._staged.clear()

    def remove(self, keys: Sequence[int]) -> None:
        keys = [int(k) for k in keys]
        with self._lock:
            for key in keys:
                if self._staged.pop(key, None) is not None:
                    self._dirty = True
            present = [k for k in keys if self._index.contains(k)]
            if present:
                self._writable().remove(present)
                self._dirty = True

    def keys(self) -> set[int]:
        with self._lock:
            self._flush()
            return set(np.asarray(self._index.keys, dtype=np.uint64).tolist())

    def save(self, force: bool = False) -> None:
        """Write atomically: a crash mid-save leaves the previous file intact."""
        with self._lock:
            if not (self._dirty or force):
                return
            self._flush()
            if self._view:  # unchanged since it was mapped: the file already holds it
                self._dirty = False
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
            self._flush()
            n = len(self._index)
            if n == 0 or k <= 0:
                return [[] for _ in range(len(queries))]
            k = min(k, n)
            if n < EXACT_SEARCH_BELOW:
                keys_all, matrix = self._exact_matrix()
            else:
                matches = self._index.search(
                    np.ascontiguousarray(queries, dtype=np.float32), k, threads=_SEARCH_THREADS
                )
        if n < EXACT_SEARCH_BELOW:
            scores = blocked_cosines(np.asarray(queries, dtype=np.float32), matrix)
            return _top_k(scores, keys_all, k)
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
            self._flush()
            present = np.asarray(
                [key for key in allowed if self._index.contains(int(key))], dtype=np.uint64
            )
            if present.size == 0:
                return [[] for _ in range(len(queries))]
            vectors = self._index.get(present)
        matrix = unit_rows(np.asarray(vectors, dtype=np.float32).reshape(len(present), -1))
        return _top_k(blocked_cosines(np.asarray(queries, dtype=np.float32), matrix), present, k)

    def _exact_matrix(self) -> tuple[npt.NDArray[np.uint64], Vectors]:
        """Every key and its unit vector, cached until the next change. Lock held."""
        if self._exact is None:
            keys = np.asarray(self._index.keys, dtype=np.uint64)  # 0.2 s faster than iterating
            vectors = self._index.get(keys) if len(keys) else []
            rows = np.asarray(vectors, dtype=np.float32).reshape(len(keys), self.dim)
            self._exact = (keys, unit_rows(rows))
        return self._exact


def _top_k(
    scores: npt.NDArray[np.float32], keys: npt.NDArray[np.uint64], k: int
) -> list[list[tuple[int, float]]]:
    """The ``k`` best (key, cosine) per row of a query x vector score matrix; query rows are
    unit length, so dot products are cosines. Ties keep the lower column first."""
    top = min(k, scores.shape[1])
    out: list[list[tuple[int, float]]] = []
    for row in scores:
        best = np.argpartition(-row, top - 1)[:top] if top < len(row) else np.arange(len(row))
        best = best[np.argsort(-row[best], kind="stable")]
        out.append([(int(keys[i]), float(row[i])) for i in best])
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
