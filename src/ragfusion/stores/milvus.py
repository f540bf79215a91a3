"""MilvusStore: chunks, server-side BM25 and dense vectors in Milvus; documents in SQLite.

One client API from a laptop to a cluster: ``uri`` is a Milvus Lite file (``*.db``, used by
the tests) or a server (``http://host:19530``). The collection holds one row per chunk:

    chunk_id (primary key), doc_id, source, file_type, title, ordinal, start_char, end_char,
    heading, text, metadata (JSON), dense (FLOAT_VECTOR, HNSW, COSINE),
    bm25_text (analysed) --BM25 function--> sparse (SPARSE_INVERTED_INDEX, metric BM25)

``bm25_text`` is title + heading + text, as LocalStore indexes it, already analysed the same
way (``analyze``), so both stores rank alike; ``text`` is kept verbatim for the hits.
Documents and their chunk ids live in a small SQLite side catalog (see ``milvus_docs``).

Writes are staged in memory and sent in batches. ``commit`` sends them to Milvus first and
commits the catalog second: after a crash Milvus may run ahead of the catalog, never behind
it, and the next ingest of the same files reconciles it (chunk ids are content-addressed and
upserts idempotent). ``check`` measures any drift and ``repair`` removes it.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

from ragfusion.embedders.base import Vectors
from ragfusion.errors import (
    ConfigError,
    IndexStateError,
    StoreConnectionError,
    StoreError,
)
from ragfusion.stores.base import ConsistencyReport, DocumentInfo, MetadataFilter, UpsertResult
from ragfusion.stores.factory import DEFAULT_COLLECTION
from ragfusion.stores.local import bm25_text
from ragfusion.stores.milvus_client import connect, disconnect, pymilvus_module
from ragfusion.stores.milvus_docs import DocumentCatalog
from ragfusion.stores.milvus_expr import (
    ANALYZER_PARAMS,
    analyze,
    analyzed,
    filter_expression,
    string_list,
    weighted_query,
)
from ragfusion.stores.write_lock import LOCK_FILE, WriteLock, acquire_for_writing
from ragfusion.types import Chunk, Document, Hit

T = TypeVar("T")

DOCS_FILE = "milvus-documents.sqlite3"
BM25_K1, BM25_B = 1.2, 0.75  # tantivy's values: LocalStore and MilvusStore score alike
HNSW_M, HNSW_EF_CONSTRUCTION = 16, 200
MIN_SEARCH_EF = 64
MAX_TOPK = 16_384  # Milvus' limit on `limit`
_ID_BYTES = 64
_VARCHAR_BYTES = 65_535  # Milvus' maximum VARCHAR length (bytes of UTF-8)
_STAGED_ROWS = 2048  # staged rows that trigger a send before commit
_BATCH_ROWS = 512
_BATCH_BYTES = 8 * 2**20  # well under gRPC's default 64 MiB message limit
_IDS_PER_CALL = 1000

OUTPUT_FIELDS = [
    "chunk_id",
    "doc_id",
    "source",
    "file_type",
    "ordinal",
    "start_char",
    "end_char",
    "heading",
    "text",
]


def _clip(text: str, limit: int = _VARCHAR_BYTES) -> str:
    data = text.encode("utf-8", "surrogatepass")
    return text if len(data) <= limit else data[:limit].decode("utf-8", "ignore")


def _parts(items: Sequence[T], size: int = _IDS_PER_CALL) -> Iterator[Sequence[T]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


def _row_batches(rows: list[dict[str, Any]]) -> Iterator[list[dict[str, Any]]]:
    batch: list[dict[str, Any]] = []
    size = 0
    for row in rows:
        row_bytes = 2 * len(row["text"]) + len(row["bm25_text"]) + 4 * len(row["dense"]) + 512
        if batch and (len(batch) >= _BATCH_ROWS or size + row_bytes > _BATCH_BYTES):
            yield batch
            batch, size = [], 0
        batch.append(row)
        size += row_bytes
    if batch:
        yield batch


@dataclass
class _Staged:
    """Writes not yet sent to Milvus. Deletes are sent before rows, so a document deleted
    and added again in one batch keeps its new rows."""

    rows: dict[str, dict[str, Any]] = field(default_factory=dict)
    deleted_ids: set[str] = field(default_factory=set)
    deleted_docs: set[str] = field(default_factory=set)

    def put(self, row: dict[str, Any]) -> None:
        self.rows[row["chunk_id"]] = row
        self.deleted_ids.discard(row["chunk_id"])

    def delete(self, chunk_ids: Sequence[str]) -> None:
        for chunk_id in chunk_ids:
            self.rows.pop(chunk_id, None)
            self.deleted_ids.add(chunk_id)

    def delete_doc(self, doc_id: str) -> None:
        self.deleted_docs.add(doc_id)
        self.rows = {k: row for k, row in self.rows.items() if row["doc_id"] != doc_id}

    def clear(self) -> None:
        self.rows.clear()
        self.deleted_ids.clear()
        self.deleted_docs.clear()

    @property
    def empty(self) -> bool:
        return not (self.rows or self.deleted_ids or self.deleted_docs)


class MilvusStore:
    """The Store on Milvus (Lite or server). Searches are thread-safe; writes come from one
    thread at a time. ``index_dir`` holds the side catalog; ``uri`` names the database."""

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
        self._staged = _Staged()
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

    # connection ----------------------------------------------------------------------------
    def _call(self, action: str, func: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run one client call, turning pymilvus errors into ours."""
        try:
            return func(*args, **kwargs)
        except self._pm.MilvusException as exc:
            unreachable = isinstance(exc, self._pm.exceptions.MilvusUnavailableException)
            kind = StoreConnectionError if unreachable else StoreError
            raise kind(
                f"Milvus {action} on collection {self.collection} at {self.uri} failed: "
                f"{exc.message}"
            ) from exc

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
        pm = self._pm
        schema = pm.MilvusClient.create_schema(auto_id=False, enable_dynamic_field=False)
        varchar = pm.DataType.VARCHAR
        schema.add_field("chunk_id", varchar, is_primary=True, max_length=_ID_BYTES)
        schema.add_field("doc_id", varchar, max_length=_ID_BYTES)
        schema.add_field("source", varchar, max_length=_VARCHAR_BYTES)
        schema.add_field("file_type", varchar, max_length=_ID_BYTES)
        schema.add_field("title", varchar, max_length=_VARCHAR_BYTES)
        for name in ("ordinal", "start_char", "end_char"):
            schema.add_field(name, pm.DataType.INT64)
        schema.add_field("heading", varchar, max_length=_VARCHAR_BYTES)
        schema.add_field("text", varchar, max_length=_VARCHAR_BYTES)
        schema.add_field(
            "bm25_text",
            varchar,
            max_length=_VARCHAR_BYTES,
            enable_analyzer=True,
            analyzer_params=ANALYZER_PARAMS,
        )
        schema.add_field("sparse", pm.DataType.SPARSE_FLOAT_VECTOR)
        schema.add_field("dense", pm.DataType.FLOAT_VECTOR, dim=self.dim)
        schema.add_field("metadata", pm.DataType.JSON)
        schema.add_function(
            pm.Function(
                name="bm25",
                function_type=pm.FunctionType.BM25,
                input_field_names=["bm25_text"],
                output_field_names=["sparse"],
            )
        )
        index = self._client.prepare_index_params()
        index.add_index(
            "sparse",
            index_type="SPARSE_INVERTED_INDEX",
            metric_type="BM25",
            params={"bm25_k1": BM25_K1, "bm25_b": BM25_B},
        )
        index.add_index(
            "dense",
            index_type="HNSW",
            metric_type="COSINE",
            params={"M": HNSW_M, "efConstruction": HNSW_EF_CONSTRUCTION},
        )
        for scalar in ("doc_id", "file_type"):
            index.add_index(scalar, index_type="INVERTED")
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
            rows = [self._row(document, c, vectors[c.chunk_id]) for c in new]
            rows += [self._row(document, c, moved_vectors[c.chunk_id]) for c in moved]
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

    def _row(
        self, document: Document, chunk: Chunk, vector: Vectors | list[float]
    ) -> dict[str, Any]:
        for name, value in (("text", chunk.text), ("heading", chunk.heading)):
            if len(value.encode("utf-8", "surrogatepass")) > _VARCHAR_BYTES:
                raise ConfigError(
                    f"A chunk {name} of {document.source} is longer than Milvus' "
                    f"{_VARCHAR_BYTES}-byte limit; use smaller chunks (--chunk-tokens)"
                )
        return {
            "chunk_id": chunk.chunk_id,
            "doc_id": chunk.doc_id,
            "source": chunk.source,
            "file_type": chunk.file_type,
            "title": _clip(document.title),
            "ordinal": chunk.ordinal,
            "start_char": chunk.start,
            "end_char": chunk.end,
            "heading": chunk.heading,
            "text": chunk.text,
            "bm25_text": _clip(analyzed(bm25_text(document.title, chunk))),
            "dense": np.asarray(vector, dtype=np.float32).tolist(),
            "metadata": json.loads(json.dumps(document.metadata, default=str)),
        }

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
        for part in _parts(wanted):
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
        for docs in _parts(sorted(staged.deleted_docs)):
            expr = f"doc_id in {string_list(docs)}"
            self._call("delete", self._client.delete, self.collection, filter=expr)
        for ids in _parts(sorted(staged.deleted_ids)):
            self._call("delete", self._client.delete, self.collection, ids=list(ids))
        for batch in _row_batches(list(staged.rows.values())):
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
    def _search(
        self,
        data: list[Any],
        anns_field: str,
        metric: str,
        k: int,
        where: MetadataFilter | None,
        params: dict[str, Any],
    ) -> list[list[Hit]]:
        result = self._call(
            "search",
            self._client.search,
            self.collection,
            data=data,
            anns_field=anns_field,
            limit=min(k, MAX_TOPK),
            filter=filter_expression(where),
            output_fields=OUTPUT_FIELDS,
            search_params={"metric_type": metric, "params": params},
        )
        # Milvus Lite reports BM25 as a negative distance, a server as a positive score;
        # BM25 is never negative, so abs() gives "higher is better" on both. COSINE is a
        # similarity already.
        signed = abs if metric == "BM25" else float
        out = []
        for row in result:
            hits = [Hit(chunk=_chunk(hit["entity"]), score=signed(hit["distance"])) for hit in row]
            hits.sort(key=lambda h: -h.score)
            out.append(hits)
        return out

    def search_bm25(
        self, queries: Sequence[str], k: int, where: MetadataFilter | None = None
    ) -> list[list[Hit]]:
        texts = [analyzed(q) for q in queries]
        out: list[list[Hit]] = [[] for _ in texts]
        live = [i for i, text in enumerate(texts) if text]
        if live and k > 0:
            found = self._search([texts[i] for i in live], "sparse", "BM25", k, where, {})
            for i, hits in zip(live, found, strict=True):
                out[i] = hits
        return out

    def search_bm25_weighted(
        self,
        term_weights: Sequence[dict[str, float]],
        k: int,
        where: MetadataFilter | None = None,
    ) -> list[list[Hit]]:
        """BM25 over weighted bags of analysed terms, with weights quantised (see
        ``weighted_query``): an approximation of LocalStore's exact term boosts."""
        return self.search_bm25([weighted_query(w) for w in term_weights], k, where)

    def analyze(self, text: str) -> list[str]:
        return analyze(text)

    def search_dense(
        self, vectors: Vectors, k: int, where: MetadataFilter | None = None
    ) -> list[list[Hit]]:
        matrix = np.asarray(vectors, dtype=np.float32)
        if len(matrix) == 0 or k < 1:
            return [[] for _ in range(len(matrix))]
        if matrix.ndim != 2 or matrix.shape[1] != self.dim:
            raise ValueError(f"expected query vectors of shape (n, {self.dim}), got {matrix.shape}")
        params = {"ef": max(min(k, MAX_TOPK), MIN_SEARCH_EF)}
        return self._search(matrix.tolist(), "dense", "COSINE", k, where, params)

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
    def _count_rows(self) -> int:
        rows = self._call(
            "count", self._client.query, self.collection, filter="", output_fields=["count(*)"]
        )
        return int(rows[0]["count(*)"])

    def _indexed_ids(self) -> set[str]:
        iterator = self._call(
            "query",
            self._client.query_iterator,
            self.collection,
            batch_size=_IDS_PER_CALL,
            filter='chunk_id != ""',
            output_fields=["chunk_id"],
        )
        ids: set[str] = set()
        try:
            while batch := self._call("query", iterator.next):
                ids.update(str(row["chunk_id"]) for row in batch)
        finally:
            iterator.close()
        return ids

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


def _chunk(entity: dict[str, Any]) -> Chunk:
    return Chunk(
        chunk_id=str(entity["chunk_id"]),
        doc_id=str(entity["doc_id"]),
        source=str(entity["source"]),
        file_type=str(entity["file_type"]),
        ordinal=int(entity["ordinal"]),
        start=int(entity["start_char"]),
        end=int(entity["end_char"]),
        heading=str(entity["heading"]),
        text=str(entity["text"]),
    )
