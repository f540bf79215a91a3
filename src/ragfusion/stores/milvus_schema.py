"""The schema of a ragfusion collection in Milvus: its fields, their limits and indexes."""

from __future__ import annotations

from typing import Any

from ragfusion.stores.milvus_expr import ANALYZER_PARAMS

BM25_K1, BM25_B = 1.2, 0.75  # tantivy's values: LocalStore and MilvusStore score alike
HNSW_M, HNSW_EF_CONSTRUCTION = 16, 200
ID_BYTES = 64
VARCHAR_BYTES = 65_535  # Milvus' maximum VARCHAR length (bytes of UTF-8)

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


def collection_schema(pm: Any, dim: int) -> Any:
    """The fields of a new collection, with the BM25 function that fills ``sparse``."""
    schema = pm.MilvusClient.create_schema(auto_id=False, enable_dynamic_field=False)
    varchar = pm.DataType.VARCHAR
    schema.add_field("chunk_id", varchar, is_primary=True, max_length=ID_BYTES)
    schema.add_field("doc_id", varchar, max_length=ID_BYTES)
    schema.add_field("source", varchar, max_length=VARCHAR_BYTES)
    schema.add_field("file_type", varchar, max_length=ID_BYTES)
    schema.add_field("title", varchar, max_length=VARCHAR_BYTES)
    for name in ("ordinal", "start_char", "end_char"):
        schema.add_field(name, pm.DataType.INT64)
    schema.add_field("heading", varchar, max_length=VARCHAR_BYTES)
    schema.add_field("text", varchar, max_length=VARCHAR_BYTES)
    schema.add_field(
        "bm25_text",
        varchar,
        max_length=VARCHAR_BYTES,
        enable_analyzer=True,
        analyzer_params=ANALYZER_PARAMS,
    )
    schema.add_field("sparse", pm.DataType.SPARSE_FLOAT_VECTOR)
    schema.add_field("dense", pm.DataType.FLOAT_VECTOR, dim=dim)
    schema.add_field("metadata", pm.DataType.JSON)
    schema.add_function(
        pm.Function(
            name="bm25",
            function_type=pm.FunctionType.BM25,
            input_field_names=["bm25_text"],
            output_field_names=["sparse"],
        )
    )
    return schema


def collection_indexes(client: Any) -> Any:
    """The index params of a new collection: BM25 and HNSW, plus the filtered scalars."""
    index = client.prepare_index_params()
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
    return index
