"""The Store contract every backend implements, and the filter it understands."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from ragfusion.embedders.base import Vectors
from ragfusion.types import Chunk, Document, Hit


@dataclass(frozen=True)
class MetadataFilter:
    """Restricts retrieval to some documents. Empty fields mean "no restriction".

    ``source_prefix`` matches the start of the absolute source path (a folder or a file);
    ``file_types`` are loader types such as ``md``, ``pdf``; ``doc_ids`` are exact ids.
    """

    source_prefix: str | None = None
    file_types: tuple[str, ...] = ()
    doc_ids: tuple[str, ...] = ()

    @property
    def is_empty(self) -> bool:
        return not (self.source_prefix or self.file_types or self.doc_ids)


@dataclass(frozen=True)
class DocumentInfo:
    """A row of the document list: what is ingested, without its text."""

    doc_id: str
    source: str
    file_type: str
    title: str
    content_hash: str
    chunks: int
    ingested_at: float


@dataclass(frozen=True)
class UpsertResult:
    added: int
    removed: int


@dataclass(frozen=True)
class ConsistencyReport:
    """How the derived indexes compare with the SQLite truth."""

    chunks: int
    bm25_docs: int
    vectors: int
    missing_bm25: int
    extra_bm25: int
    missing_vectors: int
    extra_vectors: int

    @property
    def ok(self) -> bool:
        return not (
            self.missing_bm25 or self.extra_bm25 or self.missing_vectors or self.extra_vectors
        )


class Store(Protocol):
    """Documents, chunks and both retrieval indexes behind one interface.

    Writes are batched: ``upsert``/``delete_document`` stage changes, ``commit`` makes them
    durable and visible. Search calls are batch-first: one result list per query.
    """

    def content_hash_of(self, doc_id: str) -> str | None:
        """The stored content hash of a document, or None if it is not ingested."""
        ...

    def chunk_ids_of(self, doc_id: str) -> set[str]:
        """Ids of the chunks currently stored for a document."""
        ...

    def vectors_of(self, chunk_ids: Sequence[str]) -> dict[str, Vectors]:
        """Stored vectors of these chunks (ids not stored are left out), for reuse."""
        ...

    def upsert(
        self, document: Document, chunks: Sequence[Chunk], vectors: dict[str, Vectors]
    ) -> UpsertResult:
        """Make the document's chunks exactly ``chunks``; ``vectors`` covers the new ones."""
        ...

    def delete_document(self, doc_id: str) -> int:
        """Remove a document and its chunks; returns the number of chunks removed."""
        ...

    def commit(self) -> None: ...

    def rollback(self) -> None:
        """Drop the changes staged since the last ``commit``."""
        ...

    def search_bm25(
        self, queries: Sequence[str], k: int, where: MetadataFilter | None = None
    ) -> list[list[Hit]]: ...

    def search_bm25_weighted(
        self,
        term_weights: Sequence[dict[str, float]],
        k: int,
        where: MetadataFilter | None = None,
    ) -> list[list[Hit]]:
        """BM25 over weighted bags of terms from ``analyze`` (query expansion)."""
        ...

    def analyze(self, text: str) -> list[str]:
        """Terms as this store's BM25 index sees them."""
        ...

    def search_dense(
        self, vectors: Vectors, k: int, where: MetadataFilter | None = None
    ) -> list[list[Hit]]: ...

    def get_document(self, doc_id: str) -> Document | None: ...

    def list_documents(self) -> list[DocumentInfo]: ...

    def count_chunks(self) -> int: ...

    def check(self) -> ConsistencyReport:
        """How the search indexes compare with the document catalog."""
        ...

    def repair(self) -> ConsistencyReport:
        """Bring the search indexes back in line with the catalog; returns a fresh check."""
        ...

    def close(self) -> None: ...
