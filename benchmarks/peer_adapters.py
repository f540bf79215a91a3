"""Pieces shared by the peer benchmarks (peers_quality.py, peers_speed.py), run in
.venv-peers: embedders that hand the peers ragfusion's precomputed vectors and refuse to
embed anything else, and LlamaIndex nodes built from exported chunks."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any


def llamaindex_embedding(table: Mapping[str, Sequence[float]]) -> Any:
    """A LlamaIndex embedding model that looks query vectors up in ``table``."""
    from llama_index.core.base.embeddings.base import BaseEmbedding
    from pydantic import PrivateAttr

    class LookupEmbedding(BaseEmbedding):  # type: ignore[misc]
        _table: Mapping[str, Sequence[float]] = PrivateAttr(default_factory=dict)

        def _get_query_embedding(self, query: str) -> list[float]:
            return list(self._table[query])

        async def _aget_query_embedding(self, query: str) -> list[float]:
            return list(self._table[query])

        def _get_text_embedding(self, text: str) -> list[float]:
            raise RuntimeError("documents carry precomputed vectors; nothing may be embedded")

    model = LookupEmbedding(model_name="ragfusion-precomputed")
    model._table = table
    return model


def langchain_embeddings(table: Mapping[str, Sequence[float]]) -> Any:
    """A LangChain ``Embeddings`` that looks query vectors up in ``table``."""
    from langchain_core.embeddings import Embeddings

    class LookupEmbeddings(Embeddings):  # type: ignore[misc]
        def embed_documents(self, texts: list[str]) -> list[list[float]]:
            raise RuntimeError("documents carry precomputed vectors; nothing may be embedded")

        def embed_query(self, text: str) -> list[float]:
            return list(table[text])

    return LookupEmbeddings()


def llamaindex_nodes(
    chunks: Sequence[Mapping[str, Any]], vectors: Any, doc_field: str
) -> list[Any]:
    """TextNodes with the chunks' BM25 text, their vectors and ``doc`` metadata (kept out of
    what BM25 and the LLM see)."""
    from llama_index.core.schema import TextNode

    return [
        TextNode(
            id_=f"chunk-{chunk['key']}",
            text=chunk["bm25"],
            metadata={"doc": chunk[doc_field]},
            excluded_embed_metadata_keys=["doc"],
            excluded_llm_metadata_keys=["doc"],
            embedding=vector.tolist(),
        )
        for chunk, vector in zip(chunks, vectors, strict=True)
    ]
