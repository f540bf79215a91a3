"""The Store contract, run against every backend: LocalStore and MilvusStore (Milvus Lite).

Unit level: hashed-word vectors, no models. A backend passes only if it behaves like the
others on every case here, so a new backend is added by adding it to ``BACKENDS``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest
from tests.conftest import HashEmbedder

from ragfusion.errors import IndexStateError
from ragfusion.ingest.chunking import Chunker, ChunkingConfig
from ragfusion.ingest.ids import content_hash, document_id
from ragfusion.stores import write_lock
from ragfusion.stores.base import MetadataFilter, Store
from ragfusion.stores.factory import open_store
from ragfusion.stores.write_lock import LOCK_FILE, WriteLock
from ragfusion.types import Chunk, Document, Section

EMB = HashEmbedder()
BACKENDS = ["local", "milvus-lite"]
PARAGRAPHS = [
    "Replace the HEPA filter every six months under normal use.",
    "Hold the filter button for three seconds to reset the light.",
    "Pairing mode starts when you hold the Wi-Fi button for five seconds.",
    "The warranty lasts two years from the date of purchase.",
]
Opener = Callable[[], Store]


def make_doc(source: str, text: str, file_type: str = "txt", **extra: object) -> Document:
    return Document(
        doc_id=document_id(source),
        source=source,
        file_type=file_type,
        title=source.rsplit("/", 1)[-1],
        text=text,
        content_hash=content_hash(text.encode()),
        **extra,  # type: ignore[arg-type]
    )


def chunks_of(doc: Document) -> list[Chunk]:
    return Chunker(ChunkingConfig(max_tokens=24, overlap_tokens=0)).split(doc)


def put(store: Store, doc: Document, chunks: list[Chunk] | None = None) -> tuple[int, int]:
    chunks = chunks_of(doc) if chunks is None else chunks
    existing = store.chunk_ids_of(doc.doc_id)
    new = [c for c in chunks if c.chunk_id not in existing]
    vectors = dict(
        zip([c.chunk_id for c in new], EMB.embed_documents([c.text for c in new]), strict=True)
    )
    result = store.upsert(doc, chunks, vectors)
    store.commit()
    return result.added, result.removed


def sources(hits: list[object]) -> set[str]:
    return {h.chunk.source for h in hits}  # type: ignore[attr-defined]


@pytest.fixture(params=BACKENDS)
def opener(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Opener]:
    """Opens the parametrised backend on one index directory (again and again: reopen)."""
    opened: list[Store] = []

    def open_again() -> Store:
        store = open_store(request.param, tmp_path / "index", EMB.dim)
        opened.append(store)
        return store

    yield open_again
    for store in opened:
        store.close()


@pytest.fixture
def store(opener: Opener) -> Store:
    return opener()


def test_empty_store_searches_return_nothing(store: Store) -> None:
    assert store.search_bm25(["filter"], 5) == [[]]
    assert store.search_bm25([], 5) == []
    assert store.search_dense(EMB.embed_queries(["filter", "light"]), 5) == [[], []]
    assert store.search_dense(np.zeros((0, EMB.dim), dtype=np.float32), 5) == []
    assert store.list_documents() == [] and store.count_chunks() == 0
    assert store.get_document("nope") is None and store.content_hash_of("nope") is None
    assert store.chunk_ids_of("nope") == set()


def test_add_then_both_retrievers_find_the_right_chunk(store: Store) -> None:
    doc = make_doc("/kb/a.txt", "\n\n".join(PARAGRAPHS))
    added, removed = put(store, doc)
    assert added == store.count_chunks() == len(chunks_of(doc)) > 1 and removed == 0
    assert store.chunk_ids_of(doc.doc_id) == {c.chunk_id for c in chunks_of(doc)}
    assert store.content_hash_of(doc.doc_id) == doc.content_hash
    bm25 = store.search_bm25(["reset the filter light"], 3)[0]
    assert "reset the light" in bm25[0].chunk.text
    query = EMB.embed_queries(["warranty two years purchase"])
    dense = store.search_dense(query, 3)[0]
    assert "warranty" in dense[0].chunk.text
    # The nearest vector is the one with the highest cosine, and the score is that cosine.
    texts = [c.text for c in chunks_of(doc)]
    vectors = EMB.embed_documents(texts)
    cosines = {t: float(v @ query[0]) for t, v in zip(texts, vectors, strict=True)}
    assert dense[0].chunk.text == max(cosines, key=lambda t: cosines[t])
    assert dense[0].score == pytest.approx(cosines[dense[0].chunk.text], abs=1e-4)
    for hits in (bm25, dense):
        scores = [h.score for h in hits]
        assert scores == sorted(scores, reverse=True) and all(s > 0 for s in scores)
        for hit in hits:
            assert doc.text[hit.chunk.start : hit.chunk.end] == hit.chunk.text
            assert hit.chunk in chunks_of(doc)  # every field round-trips


def test_re_adding_an_unchanged_document_writes_nothing(store: Store) -> None:
    doc = make_doc("/kb/a.txt", "\n\n".join(PARAGRAPHS))
    put(store, doc)
    n = store.count_chunks()
    assert put(store, doc) == (0, 0)
    assert store.count_chunks() == n
    hits = store.search_bm25(["filter button warranty pairing"], 50)[0]
    assert len(hits) == len({h.chunk_id for h in hits}) == n  # no duplicates
    assert len(store.search_dense(EMB.embed_queries(["filter"]), 50)[0]) == n
    assert store.check().ok


def test_updating_a_document_removes_its_old_chunks(store: Store) -> None:
    doc = make_doc("/kb/a.txt", "\n\n".join(PARAGRAPHS))
    other = make_doc("/kb/b.txt", "Error E4 means the fan motor is stalled.")
    put(store, doc)
    put(store, other)
    other_ids = store.chunk_ids_of(other.doc_id)
    changed = make_doc("/kb/a.txt", "\n\n".join([*PARAGRAPHS[:3], "The warranty is now 3 years."]))
    before = store.chunk_ids_of(doc.doc_id)
    added, removed = put(store, changed)
    after = store.chunk_ids_of(doc.doc_id)
    assert after == {c.chunk_id for c in chunks_of(changed)}
    assert added == len(after - before) > 0 and removed == len(before - after) > 0
    assert store.chunk_ids_of(other.doc_id) == other_ids
    assert store.count_chunks() == len(after) + len(other_ids)
    warranty = store.search_bm25(["warranty years"], 10)[0]
    assert warranty and all("two years" not in h.chunk.text for h in warranty)
    dense = store.search_dense(EMB.embed_queries(["warranty years"]), 10)[0]
    assert {h.chunk_id for h in dense} == after | other_ids
    assert store.get_document(doc.doc_id) == changed
    assert store.check().ok


def test_vectors_of_returns_stored_vectors_for_reuse(store: Store) -> None:
    doc = make_doc("/kb/a.txt", "\n\n".join(PARAGRAPHS))
    put(store, doc)
    chunks = chunks_of(doc)
    found = store.vectors_of([chunks[0].chunk_id, "no-such-chunk", chunks[-1].chunk_id])
    assert set(found) == {chunks[0].chunk_id, chunks[-1].chunk_id}
    expected = EMB.embed_documents([chunks[0].text, chunks[-1].text])
    np.testing.assert_allclose(found[chunks[0].chunk_id], expected[0], rtol=1e-6)
    np.testing.assert_allclose(found[chunks[-1].chunk_id], expected[1], rtol=1e-6)
    assert store.vectors_of([]) == {}


def test_kept_chunks_take_their_new_ordinals(store: Store) -> None:
    doc = make_doc("/kb/a.txt", "\n\n".join(PARAGRAPHS))
    chunks = chunks_of(doc)
    put(store, doc)
    # Drop the first chunk: the others keep their ids but move up one place.
    kept = [dataclasses.replace(c, ordinal=i) for i, c in enumerate(chunks[1:])]
    assert put(store, doc, kept) == (0, 1)
    hits = store.search_bm25(["warranty purchase"], 10)[0]
    ordinals = {h.chunk_id: h.chunk.ordinal for h in hits}
    assert ordinals[kept[-1].chunk_id] == len(kept) - 1
    dense = store.search_dense(EMB.embed_queries([kept[0].text]), 1)[0]
    assert dense[0].chunk == kept[0]


def test_delete_document(store: Store) -> None:
    a = make_doc("/kb/a.txt", "\n\n".join(PARAGRAPHS))
    b = make_doc("/kb/b.txt", "Error E4 means the filter fan motor is stalled.")
    put(store, a)
    put(store, b)
    removed = store.delete_document(a.doc_id)
    store.commit()
    assert removed == len(chunks_of(a))
    assert store.get_document(a.doc_id) is None and store.chunk_ids_of(a.doc_id) == set()
    assert [d.doc_id for d in store.list_documents()] == [b.doc_id]
    assert {h.chunk.doc_id for h in store.search_bm25(["filter warranty stalled"], 10)[0]} == {
        b.doc_id
    }
    assert {h.chunk.doc_id for h in store.search_dense(EMB.embed_queries(["filter"]), 10)[0]} == {
        b.doc_id
    }
    assert store.delete_document("never-ingested") == 0
    assert store.check().ok


@pytest.fixture
def library(store: Store) -> dict[str, Document]:
    """Five documents whose paths trip naive LIKE patterns and string quoting."""
    docs = {
        "guide": make_doc("/kb/my_docs/guide.md", "\n\n".join(PARAGRAPHS), "md"),
        "policy": make_doc("/kb/my_docs/policy.txt", "The filter warranty covers two years."),
        "lookalike": make_doc("/kb/myXdocs/other.md", "A filter warranty lookalike.", "md"),
        "percent": make_doc("/kb/100%/faq.html", "Filter warranty questions.", "html"),
        "quoted": make_doc('/kb/say "hi"\\x/q.txt', "The filter warranty, quoted."),
    }
    for doc in docs.values():
        put(store, doc)
    return docs


@pytest.mark.parametrize(
    ("where", "expected"),
    [
        (MetadataFilter(source_prefix="/kb/my_docs/"), {"guide", "policy"}),  # _ is literal
        (MetadataFilter(source_prefix="/kb/my_docs/policy.txt"), {"policy"}),  # a single file
        (MetadataFilter(source_prefix="/kb/100%/"), {"percent"}),  # % is literal
        (MetadataFilter(source_prefix='/kb/say "hi"\\'), {"quoted"}),  # quotes, backslash
        (MetadataFilter(source_prefix="/nowhere"), set()),
        (MetadataFilter(file_types=("md",)), {"guide", "lookalike"}),
        (MetadataFilter(file_types=("html", "txt")), {"policy", "percent", "quoted"}),
        (MetadataFilter(source_prefix="/kb/my", file_types=("md",)), {"guide", "lookalike"}),
        (MetadataFilter(source_prefix="/kb/my_docs/", file_types=("md",)), {"guide"}),
    ],
)
def test_filters_restrict_both_retrievers(
    store: Store, library: dict[str, Document], where: MetadataFilter, expected: set[str]
) -> None:
    want = {library[name].source for name in expected}
    bm25 = store.search_bm25(["filter warranty"], 20, where)[0]
    dense = store.search_dense(EMB.embed_queries(["filter warranty"]), 20, where)[0]
    assert sources(bm25) == want
    assert sources(dense) == want


def test_doc_id_filters_alone_and_combined(store: Store, library: dict[str, Document]) -> None:
    ids = (library["policy"].doc_id, library["lookalike"].doc_id)
    for where, expected in [
        (MetadataFilter(doc_ids=ids), {"policy", "lookalike"}),
        (MetadataFilter(doc_ids=ids, file_types=("md",)), {"lookalike"}),
        (MetadataFilter(doc_ids=ids, source_prefix="/kb/my_docs/"), {"policy"}),
        (MetadataFilter(doc_ids=ids, source_prefix="/kb/100%/"), set()),
        (MetadataFilter(doc_ids=("unknown",)), set()),
    ]:
        want = {library[name].source for name in expected}
        assert sources(store.search_bm25(["filter warranty"], 20, where)[0]) == want
        vectors = EMB.embed_queries(["filter warranty"])
        assert sources(store.search_dense(vectors, 20, where)[0]) == want


def test_filtered_bm25_scores_equal_unfiltered(store: Store, library: dict[str, Document]) -> None:
    plain = {h.chunk_id: h.score for h in store.search_bm25(["filter warranty"], 50)[0]}
    only = store.search_bm25(["filter warranty"], 50, MetadataFilter(file_types=("md",)))[0]
    assert only and all(plain[h.chunk_id] == pytest.approx(h.score, rel=1e-5) for h in only)


def test_a_batch_of_queries_gets_one_list_each(store: Store) -> None:
    put(store, make_doc("/kb/a.txt", "\n\n".join(PARAGRAPHS)))
    queries = ["reset the filter light", "?!", "warranty purchase", "pairing wi-fi"]
    bm25 = store.search_bm25(queries, 2)
    assert len(bm25) == 4 and bm25[1] == []  # a query with no terms finds nothing
    assert "reset" in bm25[0][0].chunk.text
    assert "warranty" in bm25[2][0].chunk.text
    assert "Pairing" in bm25[3][0].chunk.text
    dense = store.search_dense(EMB.embed_queries([queries[0], queries[2], queries[3]]), 2)
    assert [len(hits) for hits in dense] == [2, 2, 2]
    assert "reset" in dense[0][0].chunk.text
    assert "warranty" in dense[1][0].chunk.text


def test_weighted_bm25_uses_the_stores_own_terms(store: Store) -> None:
    put(store, make_doc("/kb/a.txt", "\n\n".join(PARAGRAPHS)))
    terms = store.analyze("The WARRANTY")
    assert terms and all(t == t.lower() for t in terms) and "the" not in terms
    pairing = store.analyze("pairing")
    weights = {terms[0]: 1.0, pairing[0]: 0.2}
    hits = store.search_bm25_weighted([weights, {}], 5)
    assert "warranty" in hits[0][0].chunk.text and hits[1] == []
    flipped = store.search_bm25_weighted([{terms[0]: 0.2, pairing[0]: 1.0}], 5)[0]
    assert "Pairing" in flipped[0].chunk.text


def test_rollback_drops_staged_writes(store: Store) -> None:
    doc = make_doc("/kb/a.txt", "\n\n".join(PARAGRAPHS))
    with pytest.raises(ValueError, match="no vectors"):
        store.upsert(doc, chunks_of(doc), {})
    store.rollback()
    assert store.count_chunks() == 0
    chunks = chunks_of(doc)
    store.upsert(
        doc,
        chunks,
        dict(
            zip(
                [c.chunk_id for c in chunks],
                EMB.embed_documents([c.text for c in chunks]),
                strict=True,
            )
        ),
    )
    store.rollback()
    store.commit()
    assert store.content_hash_of(doc.doc_id) is None and store.count_chunks() == 0
    assert store.search_bm25(["warranty"], 5) == [[]]
    assert store.search_dense(EMB.embed_queries(["warranty"]), 5) == [[]]


def test_documents_round_trip(store: Store) -> None:
    rich = make_doc(
        "/kb/guide.md",
        "# Guide\n\n" + "\n\n".join(PARAGRAPHS),
        "md",
        sections=(Section("Guide", 1, 0),),
        metadata={"author": "Ada", "pages": 3},
    )
    plain = make_doc("/kb/a.txt", "Error E4 means the fan motor is stalled.")
    put(store, rich)
    put(store, plain)
    assert store.get_document(rich.doc_id) == rich
    assert store.get_document(plain.doc_id) == plain
    rows = store.list_documents()
    assert [r.source for r in rows] == ["/kb/a.txt", "/kb/guide.md"]  # sorted by source
    row = rows[1]
    assert (row.doc_id, row.file_type, row.title, row.content_hash) == (
        rich.doc_id,
        "md",
        "guide.md",
        rich.content_hash,
    )
    assert row.chunks == len(chunks_of(rich)) and row.ingested_at > 0


def test_reopen_sees_the_same_data(opener: Opener) -> None:
    first = opener()
    doc = make_doc("/kb/a.txt", "\n\n".join(PARAGRAPHS))
    put(first, doc)
    put(first, make_doc("/kb/b.md", "Error E4 means the fan motor is stalled.", "md"))
    n, rows = first.count_chunks(), first.list_documents()
    bm25 = first.search_bm25(["warranty"], 5)
    first.close()
    again = opener()
    assert again.count_chunks() == n and again.list_documents() == rows
    assert again.get_document(doc.doc_id) == doc
    assert again.search_bm25(["warranty"], 5) == bm25
    assert len(again.search_dense(EMB.embed_queries(["warranty"]), 100)[0]) == n
    where = MetadataFilter(file_types=("md",))
    assert sources(again.search_bm25(["stalled"], 5, where)[0]) == {"/kb/b.md"}
    assert again.check().ok
    assert put(again, doc) == (0, 0)


def test_a_second_writer_waits_then_fails_clearly(
    store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(write_lock, "WRITE_LOCK_TIMEOUT_S", 0.2)
    other = WriteLock(tmp_path / "index" / LOCK_FILE)  # another process's writer
    assert other.acquire(timeout=0)
    doc = make_doc("/kb/locked.txt", PARAGRAPHS[0])
    with pytest.raises(IndexStateError, match="Another process has been writing"):
        put(store, doc)
    store.rollback()
    assert store.count_chunks() == 0
    other.release()
    assert put(store, doc)[0] > 0
    assert other.acquire(timeout=0)  # the commit released the store's lock
    other.release()
