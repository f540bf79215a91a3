"""What only the Milvus backend has: store specs, expressions, errors, repair, and the
pipeline running on a Milvus Lite file. The shared contract is in test_store_conformance."""

from __future__ import annotations

import socket
import sys
from pathlib import Path

import pytest
from tests.conftest import HashEmbedder
from tests.test_store_conformance import PARAGRAPHS, chunks_of, make_doc, put

from ragfusion import Pipeline, PipelineConfig
from ragfusion.errors import (
    ConfigError,
    IndexStateError,
    MissingDependencyError,
    StoreConnectionError,
)
from ragfusion.ingest.manifest import read_manifest
from ragfusion.stores.base import MetadataFilter
from ragfusion.stores.factory import drop_store, open_store, parse_store_spec
from ragfusion.stores.milvus import MilvusStore
from ragfusion.stores.milvus_expr import (
    analyze,
    filter_expression,
    quote,
    weighted_query,
)

EMB = HashEmbedder()


def lite(tmp_path: Path, index: str = "index", **options: str) -> MilvusStore:
    return MilvusStore(str(tmp_path / "m.db"), tmp_path / index, EMB.dim, **options)


# specs -------------------------------------------------------------------------------------
def test_store_specs(tmp_path: Path) -> None:
    assert parse_store_spec(None, tmp_path).kind == "local"
    assert parse_store_spec("local", tmp_path).text == "local"
    assert parse_store_spec("milvus-lite", tmp_path).uri == str(tmp_path / "milvus.db")
    assert parse_store_spec("sub/x.db", tmp_path).uri == str(tmp_path / "sub" / "x.db")
    assert parse_store_spec("/abs/x.db", tmp_path).uri == "/abs/x.db"
    server = parse_store_spec("milvus://db.example:19530/kb_v2", tmp_path)
    assert (server.uri, server.collection) == ("http://db.example:19530", "kb_v2")
    assert parse_store_spec("https://db.example:443", tmp_path).collection == "ragfusion_chunks"
    for bad, message in [
        ("lancedb", "Unknown store"),
        ("milvus://user:secret@db:19530", "RAGFUSION_MILVUS_TOKEN"),
        ("milvus://db:19530/bad-name", "collection name"),
    ]:
        with pytest.raises(ConfigError, match=message):
            parse_store_spec(bad, tmp_path)


# expressions and analysis ------------------------------------------------------------------
def test_filter_expressions_escape_like_wildcards_and_quotes() -> None:
    assert filter_expression(None) == filter_expression(MetadataFilter()) == ""
    assert quote('a"b\\c\nd') == '"a\\"b\\\\c\\nd"'
    where = MetadataFilter(source_prefix='/k_b/50%/"x"\\', file_types=("md",), doc_ids=("d1",))
    assert filter_expression(where) == (
        'source like "/k\\\\_b/50\\\\%/\\"x\\"\\\\\\\\%" and file_type in ["md"] '
        'and doc_id in ["d1"]'
    )


def test_analyzer_and_weighted_queries() -> None:
    assert analyze("The Wi-Fi buttons, 2.4 GHz!") == ["wi", "fi", "button", "2", "4", "ghz"]
    assert analyze("Replacing the filters") == ["replac", "filter"]  # stemmed as in LocalStore
    assert weighted_query({"filter": 1.0, "light": 0.5, "noise": 0.01, "gone": 0.0}) == (
        "filter filter filter filter light light noise"
    )
    assert weighted_query({}) == ""


# errors ------------------------------------------------------------------------------------
def test_missing_pymilvus_names_the_extra(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "pymilvus", None)
    with pytest.raises(MissingDependencyError, match=r"pip install 'ragfusion\[milvus\]'"):
        open_store("milvus-lite", tmp_path, EMB.dim)


def test_unreachable_server_is_a_connection_error(tmp_path: Path) -> None:
    with socket.socket() as probe:  # a loopback port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(StoreConnectionError, match=f"127.0.0.1:{port}.*--store milvus://"):
        open_store(f"milvus://127.0.0.1:{port}", tmp_path, EMB.dim)


def test_a_collection_of_another_dimension_is_refused(tmp_path: Path) -> None:
    lite(tmp_path).close()
    with pytest.raises(IndexStateError, match=f"holds {EMB.dim}-dim vectors; this index uses 8"):
        MilvusStore(str(tmp_path / "m.db"), tmp_path / "index", 8)


def test_a_collection_another_index_filled_is_refused(tmp_path: Path) -> None:
    first = lite(tmp_path, "first")
    put(first, make_doc("/kb/a.txt", "\n\n".join(PARAGRAPHS)))
    first.close()
    for _ in range(2):  # still refused the second time
        with pytest.raises(IndexStateError, match="does not know"):
            lite(tmp_path, "second")
    assert not any((tmp_path / "second").iterdir())  # a failed open leaves no trace
    lite(tmp_path, "second", collection="second_chunks").close()  # its own collection is fine


# consistency -------------------------------------------------------------------------------
def test_repair_forgets_documents_with_lost_rows_and_drops_strangers(tmp_path: Path) -> None:
    store = lite(tmp_path)
    a = make_doc("/kb/a.txt", "\n\n".join(PARAGRAPHS))
    b = make_doc("/kb/b.txt", "Error E4 means the fan motor is stalled.")
    put(store, a)
    put(store, b)
    client = store._client
    client.delete(store.collection, ids=[chunks_of(a)[0].chunk_id])  # lost after a crash
    stranger = client.get(store.collection, ids=[chunks_of(b)[0].chunk_id])[0]
    stranger.pop("sparse", None)
    client.upsert(store.collection, [{**stranger, "chunk_id": "stranger", "doc_id": "gone"}])
    report = store.check()
    assert (report.missing_bm25, report.extra_vectors, report.ok) == (1, 1, False)
    assert store.repair().ok
    assert store.content_hash_of(a.doc_id) is None  # the next ingest adds it again
    assert store.chunk_ids_of(b.doc_id) == {c.chunk_id for c in chunks_of(b)}
    assert put(store, a)[0] == len(chunks_of(a)) and store.check().ok
    store.close()


# the pipeline ------------------------------------------------------------------------------
def test_pipeline_ingests_and_searches_a_folder_on_milvus_lite(
    tmp_path: Path, corpus: Path
) -> None:
    index = tmp_path / "idx"
    config = PipelineConfig(prf=True)  # PRF needs the store's analyze + weighted BM25
    with Pipeline.open(index, config, embedder=EMB, store="milvus-lite") as pipe:  # type: ignore[arg-type]
        assert isinstance(pipe.store, MilvusStore)
        report = pipe.ingest([corpus])
        assert (report.added, report.chunks_added) == (3, pipe.store.count_chunks())
        result = pipe.search("reset the filter light", k=3)
        assert "reset the filter light" in result.hits[0].chunk.text
        assert {ranked.retriever for ranked in result.lists} == {"bm25", "dense"}
        assert any(ranked.query.startswith("prf: ") for ranked in result.lists)
        only_wifi = pipe.search("button", k=5, where=MetadataFilter(file_types=("md",)))
        assert {Path(h.chunk.source).suffix for h in only_wifi.hits} == {".md"}
        assert pipe.ingest([corpus]).chunks_added == 0
    manifest = read_manifest(index)
    assert manifest is not None and manifest.store == "milvus-lite"
    with Pipeline.open(index, config, embedder=EMB) as again:  # type: ignore[arg-type]
        assert isinstance(again.store, MilvusStore)  # the manifest's store
        assert "warranty" in again.search("how long is the warranty", k=1).hits[0].chunk.text
        assert again.delete(again.documents()[0].doc_id) > 0
    with pytest.raises(ConfigError, match="uses the store 'milvus-lite'"):
        Pipeline.open(index, config, embedder=EMB, store="local")  # type: ignore[arg-type]
    drop_store("milvus-lite", index)
    with pytest.raises(IndexStateError, match=r"collection ragfusion_chunks .* is missing"):
        Pipeline.open(index, config, embedder=EMB)  # type: ignore[arg-type]
