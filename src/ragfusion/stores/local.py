"""LocalStore: SQLite truth + tantivy BM25 + usearch HNSW in one directory.

Write order on ``commit``: SQLite first (the truth), then the derived indexes. A write
transaction also sets a "derived indexes pending" mark in SQLite, cleared once both derived
indexes are saved; a crash (kill -9, power loss) in between leaves the mark, and the next
open repairs the derived indexes from the chunks and vectors in SQLite before anything else
(``check`` measures consistency, ``repair`` restores it by hand).

Concurrency: one writer at a time per index directory, across processes (``write.lock``; a
second writer waits up to ``WRITE_LOCK_TIMEOUT_S``, then fails). Any number of readers:
searches in other threads, or in other processes that open the same directory. Readers see
committed data only; a reader in another process sees a writer's commits on its next search
(the vector file is memory-mapped again when it changes, which costs a fraction of a second
even at a million chunks; the BM25 view follows within about half a second).
"""

from __future__ import annotations

import shutil
import threading
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from ragfusion.embedders.base import Vectors
from ragfusion.errors import IndexStateError
from ragfusion.stores import write_lock
from ragfusion.stores.base import ConsistencyReport, DocumentInfo, MetadataFilter, UpsertResult
from ragfusion.stores.bm25_tantivy import TantivyBM25
from ragfusion.stores.catalog import Catalog
from ragfusion.stores.write_lock import LOCK_FILE, WriteLock, acquire_for_writing
from ragfusion.types import Chunk, Document, Hit

CATALOG_FILE = "catalog.sqlite3"
BM25_DIR = "bm25"
VECTORS_FILE = "vectors.usearch"
# In SQLite's meta table: "1" from the first write of a transaction until both derived
# indexes hold its commit.
_PENDING = "derived_pending"
_FILTER_OVERFETCH = 4
_REPAIR_BATCH = 2048


def bm25_text(title: str, chunk: Chunk) -> str:
    """What BM25 indexes for a chunk: its document title, heading path and text."""
    return "\n".join(part for part in (title, chunk.heading, chunk.text) if part)


class LocalStore:
    """The embedded store. Searches are thread-safe; writes come from one thread at a time.

    With ``recover`` (the default), opening repairs the derived indexes if the last writer
    died before they caught up with SQLite; ``recovered`` then holds the check from before
    the repair.
    """

    def __init__(self, index_dir: Path, dim: int, *, recover: bool = True) -> None:
        self.index_dir = index_dir
        self.dim = dim
        index_dir.mkdir(parents=True, exist_ok=True)
        self._catalog = Catalog(index_dir / CATALOG_FILE)
        # Searches and listings read committed data through a connection of their own.
        self._reader = Catalog(index_dir / CATALOG_FILE, read_only=True)
        self._bm25 = TantivyBM25(index_dir / BM25_DIR)
        from ragfusion.stores.vectors_usearch import UsearchVectors

        self._vectors = UsearchVectors(index_dir / VECTORS_FILE, dim)
        self._write_lock = threading.Lock()
        self._process_lock = WriteLock(index_dir / LOCK_FILE)
        self._marked = False  # the pending mark is set in the open transaction
        self.recovered: ConsistencyReport | None = None
        if recover:
            self._recover()

    def _recover(self) -> None:
        """Repair after a crash, unless another process is writing (it is not a crash then)."""
        try:
            if not self._process_lock.acquire(timeout=0):
                return  # another process is writing
        except OSError:  # a read-only index: searches still skip entries SQLite lacks
            return
        try:
            if self._catalog.get_meta(_PENDING) == "1" or not self.quick_check():
                before = self.check()
                if not before.ok:
                    self._repair()
                    self.recovered = before
                self._catalog.set_meta(_PENDING, "0")
        finally:
            self._process_lock.release()

    def _begin(self) -> None:
        """Start (or continue) a write transaction: take the index's write lock, pick up what
        another process committed meanwhile, and mark the derived indexes pending."""
        if not self._process_lock.held:
            acquire_for_writing(self._process_lock, self.index_dir)
            self._vectors.refresh()
        self._catalog.begin()
        if not self._marked:
            self._catalog.set_meta(_PENDING, "1")
            self._marked = True

    def _end(self) -> None:
        self._marked = False
        self._process_lock.release()

    # writes --------------------------------------------------------------------------------
    def content_hash_of(self, doc_id: str) -> str | None:
        return self._catalog.content_hash_of(doc_id)

    def chunk_ids_of(self, doc_id: str) -> set[str]:
        return set(self._catalog.chunk_keys_of(doc_id))

    def vectors_of(self, chunk_ids: Sequence[str]) -> dict[str, Vectors]:
        return self._catalog.vectors_of(chunk_ids, self.dim)

    def upsert(
        self, document: Document, chunks: Sequence[Chunk], vectors: dict[str, Vectors]
    ) -> UpsertResult:
        with self._write_lock:
            self._begin()
            existing = self._catalog.chunk_keys_of(document.doc_id)
            wanted = {c.chunk_id for c in chunks}
            stale = [key for cid, key in existing.items() if cid not in wanted]
            new = [c for c in chunks if c.chunk_id not in existing]
            missing = [c.chunk_id for c in new if c.chunk_id not in vectors]
            if missing:
                raise ValueError(f"no vectors given for {len(missing)} new chunks")
            self._catalog.put_document(document)
            self._catalog.delete_chunks(stale)
            self._catalog.update_ordinals([c for c in chunks if c.chunk_id in existing])
            keys = self._catalog.add_chunks(new, [vectors[c.chunk_id] for c in new])
            self._bm25.remove(stale)
            self._vectors.remove(stale)
            self._bm25.add(
                (key, c.doc_id, bm25_text(document.title, c))
                for key, c in zip(keys, new, strict=True)
            )
            if new:
                self._vectors.add(keys, np.stack([vectors[c.chunk_id] for c in new]))
            return UpsertResult(added=len(new), removed=len(stale))

    def delete_document(self, doc_id: str) -> int:
        with self._write_lock:
            self._begin()
            keys = self._catalog.delete_document(doc_id)
            self._bm25.remove(keys)
            self._vectors.remove(keys)
            return len(keys)

    def commit(self) -> None:
        with self._write_lock:
            self._catalog.commit()  # the truth (and the pending mark) first
            self._bm25.commit()
            self._vectors.save()
            if self._marked:
                self._catalog.set_meta(_PENDING, "0")
            if self._process_lock.held:
                self._end()

    def rollback(self) -> None:
        with self._write_lock:
            self._catalog.rollback()
            self._bm25.rollback()
            self._vectors.discard()
            if self._process_lock.held:
                self._end()

    # reads ---------------------------------------------------------------------------------
    def _allowed_docs(self, where: MetadataFilter | None) -> list[str] | None:
        if where is None or where.is_empty:
            return None
        return self._reader.matching_doc_ids(where)

    def _to_hits(self, results: list[list[tuple[int, float]]], k: int) -> list[list[Hit]]:
        chunks = self._reader.chunks_by_keys(key for row in results for key, _ in row)
        # Keys missing from SQLite (an index ahead of the truth after a crash) are dropped.
        return [
            [Hit(chunk=chunks[key], score=score) for key, score in row if key in chunks][:k]
            for row in results
        ]

    def search_bm25(
        self, queries: Sequence[str], k: int, where: MetadataFilter | None = None
    ) -> list[list[Hit]]:
        allowed = self._allowed_docs(where)
        return self._to_hits(self._bm25.search(queries, k, allowed), k)

    def search_bm25_weighted(
        self,
        term_weights: Sequence[dict[str, float]],
        k: int,
        where: MetadataFilter | None = None,
    ) -> list[list[Hit]]:
        """BM25 over weighted bags of analysed terms (query expansion)."""
        allowed = self._allowed_docs(where)
        return self._to_hits(self._bm25.search_weighted(term_weights, k, allowed), k)

    def analyze(self, text: str) -> list[str]:
        """Terms as the BM25 index sees them."""
        return self._bm25.analyze(text)

    def search_dense(
        self, vectors: Vectors, k: int, where: MetadataFilter | None = None
    ) -> list[list[Hit]]:
        self._vectors.refresh()  # another process may have saved a newer file
        allowed = self._allowed_docs(where)
        if allowed is None:
            return self._to_hits(self._vectors.search(vectors, k), k)
        if not allowed:
            return [[] for _ in range(len(vectors))]
        allowed_keys = self._reader.keys_of_docs(allowed)
        if len(allowed_keys) <= k * _FILTER_OVERFETCH * 4:
            return self._to_hits(self._vectors.search_within(vectors, k, allowed_keys), k)
        allowed_set = set(allowed_keys)
        rows = self._vectors.search(vectors, k * _FILTER_OVERFETCH)
        filtered = [[(key, s) for key, s in row if key in allowed_set] for row in rows]
        if any(len(row) < k for row in filtered):
            filtered = self._vectors.search_within(vectors, k, allowed_keys)
        return self._to_hits(filtered, k)

    def get_document(self, doc_id: str) -> Document | None:
        return self._reader.get_document(doc_id)

    def titles(self, doc_ids: Sequence[str]) -> dict[str, str]:
        return self._reader.titles(doc_ids)

    def list_documents(self) -> list[DocumentInfo]:
        return self._reader.list_documents()

    def count_chunks(self) -> int:
        return self._reader.count_chunks()

    def count_documents(self) -> int:
        return self._reader.count_documents()

    # consistency ---------------------------------------------------------------------------
    def check(self) -> ConsistencyReport:
        self._vectors.refresh()
        truth = self._catalog.all_keys()
        bm25 = self._bm25.all_keys()
        dense = self._vectors.keys()
        return ConsistencyReport(
            chunks=len(truth),
            bm25_docs=len(bm25),
            vectors=len(dense),
            missing_bm25=len(truth - bm25),
            extra_bm25=len(bm25 - truth),
            missing_vectors=len(truth - dense),
            extra_vectors=len(dense - truth),
        )

    def quick_check(self) -> bool:
        """Cheap test on open: do the three counts agree?"""
        n = self._catalog.count_chunks()
        return n == len(self._vectors) and n == self._bm25.count()

    def repair(self) -> ConsistencyReport:
        """Make both derived indexes hold exactly the chunks in SQLite."""
        if self._catalog.in_transaction:
            raise IndexStateError("commit or roll back the staged writes before a repair")
        if not self._process_lock.acquire(write_lock.WRITE_LOCK_TIMEOUT_S):
            raise IndexStateError(
                f"Another process is writing to the index at {self.index_dir}; repair it "
                "when that has finished"
            )
        try:
            self._vectors.refresh()
            self._repair()
            self._catalog.set_meta(_PENDING, "0")
        finally:
            self._process_lock.release()
        return self.check()

    def _repair(self) -> None:
        with self._write_lock:
            truth = self._catalog.all_keys()
            bm25 = self._bm25.all_keys()
            dense = self._vectors.keys()
            self._bm25.remove(sorted(bm25 - truth))
            self._vectors.remove(sorted(dense - truth))
            missing = sorted((truth - bm25) | (truth - dense))
            for i in range(0, len(missing), _REPAIR_BATCH):
                part = missing[i : i + _REPAIR_BATCH]
                rows = list(self._catalog.iter_chunks_with_vectors(part, self.dim))
                titles = self._catalog.titles(c.doc_id for _, c, _ in rows)
                bm25_missing = [(k, c) for k, c, _ in rows if k not in bm25]
                self._bm25.remove(k for k, _ in bm25_missing)
                self._bm25.add(
                    (k, c.doc_id, bm25_text(titles.get(c.doc_id, ""), c)) for k, c in bm25_missing
                )
                dense_missing = [(k, v) for k, _, v in rows if k not in dense]
                if dense_missing:
                    self._vectors.add(
                        [k for k, _ in dense_missing], np.stack([v for _, v in dense_missing])
                    )
            self._bm25.commit()
            self._vectors.save(force=True)

    def close(self) -> None:
        self._bm25.rollback()
        self._catalog.close()
        self._reader.close()
        self._process_lock.release()

    def destroy(self) -> None:
        """Delete everything this store wrote (used by ``ingest --rebuild``)."""
        self.close()
        self._bm25.clear()
        for name in (CATALOG_FILE, CATALOG_FILE + "-wal", CATALOG_FILE + "-shm", VECTORS_FILE):
            (self.index_dir / name).unlink(missing_ok=True)
        shutil.rmtree(self.index_dir / BM25_DIR, ignore_errors=True)
