"""MilvusStore: chunks, server-side BM25 and dense vectors in Milvus; documents in SQLite.

One client API from a laptop to a cluster: ``uri`` is a Milvus Lite file (``*.db``, used by
the tests) or a server (``http://host:19530``). The collection holds one row per chunk:

    chunk_id (primary key), doc_id, source, file_type, title, ordinal, start_char, end_char,
    heading, text, metadata (JSON), dense (FLOAT_VECTOR, HNSW, COSINE),
    bm25_text (analysed) --BM25 function--> sparse (SPARSE_INVERTED_INDEX, metric BM25)

``bm25_text`` is title + heading + text, as LocalStore indexes it, already analysed the same
way (``analyze``), so both stores rank alike; ``text`` is kept verbatim for the hits.
Documents and their chunk ids live in a small SQLite side catalog (see ``milvus_docs``);
``milvus_schema``, ``milvus_rows`` and ``milvus_search`` hold the schema, rows and reads.

Writes are staged in memory and sent in batches. ``commit`` sends them to Milvus first and
commits the catalog second: after a crash Milvus may run ahead of the catalog, never behind
it, and the next ingest of the same files reconciles it (chunk ids are content-addressed and
upserts idempotent). ``check`` measures any drift and ``repair`` removes it.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from ragfusion.embedders.base import Vectors
from ragfusion.errors import IndexStateError
from ragfusion.stores.base import ConsistencyReport, DocumentInfo, UpsertResult
from ragfusion.stores.milvus_client import connect, disconnect, pymilvus_module
from ragfusion.stores.milvus_docs import DocumentCatalog
from ragfusion.stores.milvus_expr import string_list
from ragfusion.stores.milvus_names import DEFAULT_COLLECTION as DEFAULT_COLLECTION
from ragfusion.stores.milvus_rows import Staged, chunk_row, in_parts, row_batches
from ragfusion.stores.milvus_schema import BM25_B as BM25_B
from ragfusion.stores.milvus_schema import BM25_K1 as BM25_K1
from ragfusion.stores.milvus_schema import HNSW_EF_CONSTRUCTION as HNSW_EF_CONSTRUCTION
from ragfusion.stores.milvus_schema import HNSW_M as HNSW_M
from ragfusion.stores.milvus_schema import OUTPUT_FIELDS as OUTPUT_FIELDS
from ragfusion.stores.milvus_schema import collection_indexes, collection_schema
from ragfusion.stores.milvus_search import MAX_TOPK as MAX_TOPK
from ragfusion.stores.milvus_search import MIN_SEARCH_EF as MIN_SEARCH_EF
from ragfusion.stores.milvus_search import MilvusSearch
from ragfusion.stores.write_lock import LOCK_FILE, WriteLock, acquire_for_writing
from ragfusion.types import Chunk, Document

DOCS_FILE = "milvus-documents.sqlite3"
_STAGED_ROWS = 2048  # staged rows that trigger a send before commit


class MilvusStore(MilvusSearch):
    """The Store on Milvus (Lite or server). Searches are thread-safe; writes come from one
    thread at a time. ``index_dir`` holds the side catalog; ``uri`` names the database.
    Searches, and the client calls they share with writes, are in ``MilvusSearch``."""

    def __init__(
        self,
        uri: str,
        index_dir: Path,
        dim: int,
        *,
        collection: str = DEFAULT_COLLECTION,
        token: str = "",
    ) -> None:
        self.uri = uri
        self.index_dir = index_dir
        self.dim = dim
        self.collection = collection
        self.is_lite = uri.endswith(".db")
        self._pm = pymilvus_module()
        self._client = connect(uri, token)
        self._closed = False
        self._lock = threading.Lock()
        # One writer per index directory across processes, as for LocalStore: the side
        # catalog and the collection must change together.
        self._process_lock = WriteLock(index_dir / LOCK_FILE)
        self._staged = Staged()
        self._unflushed = False
        index_dir.mkdir(parents=True, exist_ok=True)
        try:
            self._docs = DocumentCatalog(index_dir / DOCS_FILE)
            self._open_collection()
        except BaseException:
            empty = hasattr(self, "_docs") and not self._docs.count_documents()
            self.close()
            if empty:  # an empty catalog holds nothing: a failed open leaves no trace
                self._remove_catalog()
            raise

    # the collection ------------------------------------------------------------------------
    def _open_collection(self) -> None:
        if not self._call("has_collection", self._client.has_collection, self.collection):
            if self._docs.count_documents():
                raise IndexStateError(
                    f"The Milvus collection {self.collection} at {self.uri} is missing but "
                    f"{self.index_dir} lists {self._docs.count_documents()} documents; "
                    f"rebuild with: ragfusion ingest --rebuild PATH... --index {self.index_dir}"
                )
            self._create_collection()
            return
        self._check_schema()
        self._call("load", self._client.load_collection, self.collection)
        if not self._docs.count_documents() and self._count_rows():
            raise IndexStateError(
                f"The Milvus collection {self.collection} at {self.uri} holds chunks that the "
                f"index {self.index_dir} does not know. Give this index its own collection "
                "(--store milvus://HOST:PORT/NAME), or drop that one if nothing uses it"
            )

    def _check_schema(self) -> None:
        info = self._call("describe", self._client.describe_collection, self.collection)
        fields = {f["name"]: f for f in info["fields"]}
        missing = {*OUTPUT_FIELDS, "bm25_text", "sparse", "dense"} - fields.keys()
        if missing:
            raise IndexStateError(
                f"The Milvus collection {self.collection} at {self.uri} was not made by "
                f"ragfusion (no {', '.join(sorted(missing))}); choose another collection name"
            )
        dim = int(fields["dense"]["params"]["dim"])
        if dim != self.dim:
            raise IndexStateError(
                f"The Milvus collection {self.collection} at {self.uri} holds {dim}-dim "
                f"vectors; this index uses {self.dim}. Rebuild with: ragfusion ingest "
                f"--rebuild PATH... --index {self.index_dir}"
            )

    def _create_collection(self) -> None:
        schema = collection_schema(self._pm, self.dim)
        index = collection_indexes(self._client)
        # Strong: a search sees every write acknowledged before it, from any client.
        self._call(
            "create_collection",
            self._client.create_collection,
            self.collection,
            schema=schema,
            consistency_level="Strong",
        )
        # The collection is empty, so the indexes are ready at once; sync=False skips the
        # client's polling loop, which sleeps 0.5 s per index even then.
        self._call("create_index", self._client.create_index, self.collection, index, sync=False)
        self._call("load", self._client.load_collection, self.collection)

    # writes --------------------------------------------------------------------------------
    def content_hash_of(self, doc_id: str) -> str | None:
        return self._docs.content_hash_of(doc_id)

    def chunk_ids_of(self, doc_id: str) -> set[str]:
        return set(self._docs.chunk_ordinals(doc_id))

    def upsert(
        self, document: Document, chunks: Sequence[Chunk], vectors: dict[str, Vectors]
    ) -> UpsertResult:
        with self._lock:
            self._begin()
            existing = self._docs.chunk_ordinals(document.doc_id)
            wanted = {c.chunk_id for c in chunks}
            stale = [cid for cid in existing if cid not in wanted]
            new = [c for c in chunks if c.chunk_id not in existing]
            missing = [c.chunk_id for c in new if c.chunk_id not in vectors]
            if missing:
                raise ValueError(f"no vectors given for {len(missing)} new chunks")
            # Kept chunks repeat their ordinal and document title: rewrite them if those moved.
            header = self._docs.header_of(document.doc_id)
            renamed = header is not None and header != (document.title, document.file_type)
            moved = [
                c
                for c in chunks
                if c.chunk_id in existing and (renamed or existing[c.chunk_id] != c.ordinal)
            ]
            moved_vectors = self._stored_vectors([c.chunk_id for c in moved])
            rows = [chunk_row(document, c, vectors[c.chunk_id]) for c in new]
            rows += [chunk_row(document, c, moved_vectors[c.chunk_id]) for c in moved]
            self._docs.put_document(document, chunks)
            self._staged.delete(stale)
            for row in rows:
                self._staged.put(row)
            if len(self._staged.rows) >= _STAGED_ROWS:
                self._send()
            return UpsertResult(added=len(new), removed=len(stale))

    def _begin(self) -> None:
        """Start (or continue) a write: take the index's write lock, then a catalog
        transaction."""
        acquire_for_writing(self._process_lock, self.index_dir)
        self._docs.begin()

    def vectors_of(self, chunk_ids: Sequence[str]) -> dict[str, Vectors]:
        with self._lock:
            found = self._stored_vectors(chunk_ids, strict=False)
        return {c: np.asarray(v, dtype=np.float32) for c, v in found.items()}

    def _stored_vectors(
        self, chunk_ids: Sequence[str], *, strict: bool = True
    ) -> dict[str, list[float]]:
        """Vectors of chunks already written (staged or in Milvus); with ``strict``, a
        chunk missing from both is an error."""
        found = {c: self._staged.rows[c]["dense"] for c in chunk_ids if c in self._staged.rows}
        wanted = [c for c in chunk_ids if c not in found]
        for part in in_parts(wanted):
            rows = self._call(
                "get",
                self._client.get,
                self.collection,
                ids=list(part),
                output_fields=["chunk_id", "dense"],
            )
            found.update({str(r["chunk_id"]): list(r["dense"]) for r in rows})
        lost = [c for c in chunk_ids if c not in found]
        if lost and strict:
            raise IndexStateError(
                f"{len(lost)} chunks listed in {self.index_dir} are missing from the Milvus "
                f"collection {self.collection}; run: ragfusion check --repair --index "
                f"{self.index_dir}, then ingest again"
            )
        return found

    def delete_document(self, doc_id: str) -> int:
        with self._lock:
            self._begin()
            removed = self._docs.delete_documents([doc_id])
            self._staged.delete_doc(doc_id)
            return removed

    def _send(self) -> None:
        """Send staged writes to Milvus: deletes first, then rows in size-capped batches."""
        staged = self._staged
        if staged.empty:
            return
        for docs in in_parts(sorted(staged.deleted_docs)):
            expr = f"doc_id in {string_list(docs)}"
            self._call("delete", self._client.delete, self.collection, filter=expr)
        for ids in in_parts(sorted(staged.deleted_ids)):
            self._call("delete", self._client.delete, self.collection, ids=list(ids))
        for batch in row_batches(list(staged.rows.values())):
            self._call("upsert", self._client.upsert, self.collection, batch)
        staged.clear()
        self._unflushed = True

    def commit(self) -> None:
        with self._lock:
            self._send()
            if self.is_lite and self._unflushed:
                # Milvus Lite scores BM25 over unflushed rows with statistics of the filtered
                # subset only, and mis-reads LIKE escapes there: flushing seals the rows.
                self._call("flush", self._client.flush, self.collection)
            self._unflushed = False
            self._docs.commit()
            self._process_lock.release()

    def rollback(self) -> None:
        """Drop staged writes. Batches already sent stay in Milvus (ahead of the catalog)."""
        with self._lock:
            self._staged.clear()
            self._docs.rollback()
            self._process_lock.release()

    # reads ---------------------------------------------------------------------------------
    def get_document(self, doc_id: str) -> Document | None:
        return self._docs.get_document(doc_id)

    def titles(self, doc_ids: Sequence[str]) -> dict[str, str]:
        return self._docs.titles(doc_ids)

    def list_documents(self) -> list[DocumentInfo]:
        return self._docs.list_documents()

    def count_chunks(self) -> int:
        return self._docs.count_chunks()

    def count_documents(self) -> int:
        return self._docs.count_documents()

    # consistency ---------------------------------------------------------------------------
    def check(self) -> ConsistencyReport:
        """Compare the chunk ids of the catalog with the rows in Milvus. One row carries
        both the BM25 and the dense entry, so both columns report the same numbers."""
        truth = set(self._docs.chunk_owners())
        indexed = self._indexed_ids()
        missing, extra = len(truth - indexed), len(indexed - truth)
        return ConsistencyReport(
            chunks=len(truth),
            bm25_docs=len(indexed),
            vectors=len(indexed),
            missing_bm25=missing,
            extra_bm25=extra,
            missing_vectors=missing,
            extra_vectors=extra,
        )

    def quick_check(self) -> bool:
        """Cheap test on open: does Milvus hold as many rows as the catalog lists?"""
        return self._count_rows() == self._docs.count_chunks()

    def repair(self) -> ConsistencyReport:
        """Delete rows the catalog does not list. Documents with lost rows are forgotten
        (this store has no embedder to rebuild them), so the next ingest adds them again."""
        with self._lock:
            self._send()
            owners = self._docs.chunk_owners()
            indexed = self._indexed_ids()
            broken = sorted({owners[c] for c in owners.keys() - indexed})
            self._staged.delete(sorted(indexed - owners.keys()))
            self._begin()
            self._docs.delete_documents(broken)
            for doc_id in broken:
                self._staged.delete_doc(doc_id)
        self.commit()
        return self.check()

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._staged.clear()
        if hasattr(self, "_docs"):
            self._docs.close()
        if hasattr(self, "_process_lock"):
            self._process_lock.release()
        disconnect(self._client, self.uri)

    def destroy(self) -> None:
        """Drop the collection and the side catalog (used by ``ingest --rebuild``)."""
        self._call("drop_collection", self._client.drop_collection, self.collection)
        self.close()
        self._remove_catalog()

    def _remove_catalog(self) -> None:
        for suffix in ("", "-wal", "-shm"):
            (self.index_dir / (DOCS_FILE + suffix)).unlink(missing_ok=True)
