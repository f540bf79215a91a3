"""The rows a MilvusStore writes: one per chunk, staged in memory and sent in batches."""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

import numpy as np

from ragfusion.embedders.base import Vectors
from ragfusion.errors import ConfigError
from ragfusion.stores.local import bm25_text
from ragfusion.stores.milvus_expr import analyzed
from ragfusion.stores.milvus_schema import VARCHAR_BYTES
from ragfusion.types import Chunk, Document

T = TypeVar("T")

_BATCH_ROWS = 512
_BATCH_BYTES = 8 * 2**20  # well under gRPC's default 64 MiB message limit
IDS_PER_CALL = 1000


def clip(text: str, limit: int = VARCHAR_BYTES) -> str:
    data = text.encode("utf-8", "surrogatepass")
    return text if len(data) <= limit else data[:limit].decode("utf-8", "ignore")


def in_parts(items: Sequence[T], size: int = IDS_PER_CALL) -> Iterator[Sequence[T]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


def row_batches(rows: list[dict[str, Any]]) -> Iterator[list[dict[str, Any]]]:
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


def chunk_row(document: Document, chunk: Chunk, vector: Vectors | list[float]) -> dict[str, Any]:
    for name, value in (("text", chunk.text), ("heading", chunk.heading)):
        if len(value.encode("utf-8", "surrogatepass")) > VARCHAR_BYTES:
            raise ConfigError(
                f"A chunk {name} of {document.source} is longer than Milvus' "
                f"{VARCHAR_BYTES}-byte limit; use smaller chunks (--chunk-tokens)"
            )
    return {
        "chunk_id": chunk.chunk_id,
        "doc_id": chunk.doc_id,
        "source": chunk.source,
        "file_type": chunk.file_type,
        "title": clip(document.title),
        "ordinal": chunk.ordinal,
        "start_char": chunk.start,
        "end_char": chunk.end,
        "heading": chunk.heading,
        "text": chunk.text,
        "bm25_text": clip(analyzed(bm25_text(document.title, chunk))),
        "dense": np.asarray(vector, dtype=np.float32).tolist(),
        "metadata": json.loads(json.dumps(document.metadata, default=str)),
    }


@dataclass
class Staged:
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
