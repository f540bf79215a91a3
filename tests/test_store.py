"""LocalStore behaviour: the contract every Store must keep (exercised with fake vectors)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from tests.conftest import HashEmbedder

from ragfusion.ingest.chunking import Chunker, ChunkingConfig
from ragfusion.ingest.ids import content_hash, document_id
from ragfusion.stores.base import MetadataFilter
from ragfusion.stores.local import LocalStore
from ragfusion.types import Chunk, Document

EMB = HashEmbedder()


def make_doc(source: str, text: str, file_type: str = "txt") -> Document:
    return Document(
        doc_id=document_id(source),
        source=source,
        file_type=file_type,
        title=source.rsplit("/", 1)[-1],
        text=text,
        content_hash=content_hash(text.encode()),
    )


def chunks_of(doc: Document) -> list[Chunk]:
    return Chunker(ChunkingConfig(max_tokens=24, overlap_tokens=0)).split(doc)


def put(store: LocalStore, doc: Document) -> tuple[int, int]:
    chunks = chunks_of(doc)
    existing = store.chunk_ids_of(doc.doc_id)
    new = [c for c in chunks if c.chunk_id not in existing]
    vectors = dict(
        zip([c.chunk_id for c in new], EMB.embed_documents([c.text for c in new]), strict=True)
    )
    result = store.upsert(doc, chunks, vectors)
    store.commit()
    return result.added, result.removed


PARAGRAPHS = [
    "Replace the HEPA filter every six months under normal use.",
    "Hold the filter button for three seconds to reset the light.",
    "Pairing mode starts when you hold the Wi-Fi button for five seconds.",
    "The warranty lasts two years from the date of purchase.",
]


@pytest.fixture
def store(tmp_path: Path) -> LocalStore:
    return LocalStore(tmp_path / "index", EMB.dim)


def test_add_search_both_retrievers(store: LocalStore) -> None:
    doc = make_doc("/kb/a.txt", "\n\n".join(PARAGRAPHS))
    added, removed = put(store, doc)
    assert added == store.count_chunks() > 1 and removed == 0
    bm25 = store.search_bm25(["reset the filter light", "warranty years"], 3)
    assert "reset the light" in bm25[0][0].chunk.text
    assert "warranty" in bm25[1][0].chunk.text
    dense = store.search_dense(EMB.embed_queries(["warranty two years purchase"]), 3)
    assert "warranty" in dense[0][0].chunk.text
    for hits in bm25 + dense:
        scores = [h.score for h in hits]
        assert scores == sorted(scores, reverse=True)
        for hit in hits:
            assert doc.text[hit.chunk.start : hit.chunk.end] == hit.chunk.text


def test_re_adding_the_same_document_writes_nothing(store: LocalStore) -> None:
    doc = make_doc("/kb/a.txt", "\n\n".join(PARAGRAPHS))
    put(store, doc)
    before = store.count_chunks()
    assert put(store, doc) == (0, 0)
    assert store.count_chunks() == before
    assert store.check().ok


def test_changed_document_replaces_only_changed_chunks(store: LocalStore) -> None:
    doc = make_doc("/kb/a.txt", "\n\n".join(PARAGRAPHS))
    other = make_doc("/kb/b.txt", "Error E4 means the fan motor is stalled.")
    put(store, doc)
    put(store, other)
    other_ids = store.chunk_ids_of(other.doc_id)
    changed_text = "\n\n".join([*PARAGRAPHS[:3], "The warranty lasts three years now."])
    changed = make_doc("/kb/a.txt", changed_text)
    before = store.chunk_ids_of(doc.doc_id)
    added, removed = put(store, changed)
    after = store.chunk_ids_of(doc.doc_id)
    assert 0 < added < len(after) + 1 and removed == added
    assert len(before & after) >= 1  # unchanged leading chunks kept
    assert store.chunk_ids_of(other.doc_id) == other_ids
    hits = store.search_bm25(["warranty"], 5)[0]
    assert all("two years" not in h.chunk.text for h in hits)
    assert store.check().ok


def test_delete_document(store: LocalStore) -> None:
    a = make_doc("/kb/a.txt", "\n\n".join(PARAGRAPHS))
    b = make_doc("/kb/b.txt", "Error E4 means the fan motor is stalled.")
    put(store, a)
    put(store, b)
    removed = store.delete_document(a.doc_id)
    store.commit()
    assert removed > 0
    assert store.get_document(a.doc_id) is None
    assert {h.chunk.doc_id for h in store.search_bm25(["filter warranty stalled"], 10)[0]} == {
        b.doc_id
    }
    assert {h.chunk.doc_id for h in store.search_dense(EMB.embed_queries(["filter"]), 10)[0]} == {
        b.doc_id
    }
    assert store.check().ok


def test_filters_restrict_both_retrievers(store: LocalStore) -> None:
    put(store, make_doc("/kb/guides/a.md", "\n\n".join(PARAGRAPHS), "md"))
    put(store, make_doc("/kb/policies/b.txt", "The filter warranty covers two years.", "txt"))
    for where, expected in [
        (MetadataFilter(source_prefix="/kb/policies/"), {"/kb/policies/b.txt"}),
        (MetadataFilter(file_types=("md",)), {"/kb/guides/a.md"}),
        (MetadataFilter(source_prefix="/nowhere"), set()),
    ]:
        bm25 = store.search_bm25(["filter warranty"], 10, where)[0]
        dense = store.search_dense(EMB.embed_queries(["filter warranty"]), 10, where)[0]
        assert {h.chunk.source for h in bm25} == expected
        assert {h.chunk.source for h in dense} == expected


def test_filtered_scores_equal_unfiltered_scores(store: LocalStore) -> None:
    put(store, make_doc("/kb/a.txt", "\n\n".join(PARAGRAPHS)))
    put(store, make_doc("/kb/b.txt", "The filter warranty covers two years."))
    plain = {h.chunk.chunk_id: h.score for h in store.search_bm25(["filter warranty"], 10)[0]}
    only_b = store.search_bm25(["filter warranty"], 10, MetadataFilter(source_prefix="/kb/b.txt"))[
        0
    ]
    assert only_b and all(plain[h.chunk.chunk_id] == pytest.approx(h.score) for h in only_b)


def test_reopen_keeps_everything(tmp_path: Path) -> None:
    first = LocalStore(tmp_path / "index", EMB.dim)
    doc = make_doc("/kb/a.txt", "\n\n".join(PARAGRAPHS))
    put(first, doc)
    n = first.count_chunks()
    first.close()
    again = LocalStore(tmp_path / "index", EMB.dim)
    assert again.count_chunks() == n
    assert again.get_document(doc.doc_id) == doc
    assert again.search_bm25(["warranty"], 1)[0][0].chunk.doc_id == doc.doc_id
    assert len(again.search_dense(EMB.embed_queries(["warranty"]), 100)[0]) == n
    assert again.quick_check()


def test_repair_restores_lost_index_entries(store: LocalStore) -> None:
    doc = make_doc("/kb/a.txt", "\n\n".join(PARAGRAPHS))
    put(store, doc)
    keys = sorted(store._catalog.all_keys())
    # Simulate a crash after the SQLite commit: derived indexes lost some entries.
    store._bm25.remove(keys[:2])
    store._bm25.commit()
    store._vectors.remove(keys[1:3])
    report = store.check()
    assert not report.ok
    assert report.missing_bm25 == 2 and report.missing_vectors == 2
    assert store.repair().ok
    assert len(store.search_dense(EMB.embed_queries(["filter"]), 100)[0]) == len(keys)


def test_upsert_without_vectors_for_new_chunks_fails(store: LocalStore) -> None:
    doc = make_doc("/kb/a.txt", "\n\n".join(PARAGRAPHS))
    with pytest.raises(ValueError, match="no vectors"):
        store.upsert(doc, chunks_of(doc), {})
    store.rollback()
    assert store.count_chunks() == 0


def test_vectors_round_trip_through_sqlite(store: LocalStore) -> None:
    doc = make_doc("/kb/a.txt", "\n\n".join(PARAGRAPHS))
    put(store, doc)
    rows = list(store._catalog.iter_chunks_with_vectors(dim=EMB.dim))
    expected = EMB.embed_documents([c.text for _, c, _ in rows])
    np.testing.assert_allclose(np.stack([v for _, _, v in rows]), expected, rtol=1e-6)
