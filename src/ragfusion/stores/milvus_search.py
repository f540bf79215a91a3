"""Reads of a MilvusStore's collection: client calls that raise our errors, BM25 and dense
searches, and the row counts and ids that ``check`` compares with the catalog."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import numpy as np

from ragfusion.embedders.base import Vectors
from ragfusion.errors import StoreConnectionError, StoreError
from ragfusion.stores.base import MetadataFilter
from ragfusion.stores.milvus_expr import analyze, analyzed, filter_expression, weighted_query
from ragfusion.stores.milvus_rows import IDS_PER_CALL
from ragfusion.stores.milvus_schema import OUTPUT_FIELDS
from ragfusion.types import Chunk, Hit

T = TypeVar("T")

MIN_SEARCH_EF = 64
MAX_TOPK = 16_384  # Milvus' limit on `limit`


class MilvusSearch:
    """The read side of MilvusStore, which sets these attributes when it opens."""

    uri: str
    dim: int
    collection: str
    _pm: Any
    _client: Any

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
            batch_size=IDS_PER_CALL,
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
