"""Readers while a writer ingests: threads of the writing process, and another process.

Searches must never fail, must see committed data only (what they find only grows while an
ingest adds documents), and a long-running reader (``ragfusion serve``) must see documents
another process commits without reopening the index.
"""

from __future__ import annotations

import threading
import time
from itertools import pairwise
from pathlib import Path

import numpy as np
import pytest
from tests.conftest import HashEmbedder
from tests.test_crash_safety import Worker, _texts
from tests.test_store import EMB, PARAGRAPHS, chunks_of, make_doc, put

from ragfusion import Pipeline, PipelineConfig
from ragfusion.errors import IndexStateError
from ragfusion.stores import write_lock
from ragfusion.stores.local import LocalStore

MARKER = "zebrafinch"  # in every document: one query that finds them all
FILES = 150


def _corpus(root: Path, n: int = FILES) -> Path:
    root.mkdir(parents=True)
    for i, text in enumerate(_texts(n)):
        (root / f"doc{i:04d}.txt").write_text(f"{text}\n\n{MARKER} {i}.\n", encoding="utf-8")
    return root


def _counts(pipe: Pipeline) -> tuple[int, int, int, int]:
    """Documents listed, documents found by BM25, by dense search, and by fused search."""
    k = 10_000
    bm25 = pipe.store.search_bm25([MARKER], k)[0]
    dense = pipe.store.search_dense(pipe.embedder.embed_queries([MARKER]), k)[0]
    fused = pipe.search(MARKER, k=k).hits
    return (
        len(pipe.documents()),
        len({h.chunk.doc_id for h in bm25}),
        len({h.chunk.doc_id for h in dense}),
        len({h.chunk.doc_id for h in fused}),
    )


def _open(index: Path, **config: object) -> Pipeline:
    return Pipeline.open(index, PipelineConfig(**config), embedder=HashEmbedder())  # type: ignore[arg-type, arg-type]


def test_searches_in_threads_during_an_ingest(tmp_path: Path) -> None:
    corpus = _corpus(tmp_path / "corpus")
    errors: list[BaseException] = []
    series: list[list[tuple[int, int, int, int]]] = [[] for _ in range(3)]
    done = threading.Event()
    with _open(tmp_path / "index", commit_every_chunks=16, embed_batch=12) as pipe:

        def read(out: list[tuple[int, int, int, int]]) -> None:
            try:
                while not done.is_set():
                    out.append(_counts(pipe))
            except BaseException as exc:  # any error fails the test
                errors.append(exc)

        readers = [threading.Thread(target=read, args=(s,)) for s in series]
        for thread in readers:
            thread.start()
        try:
            report = pipe.ingest([corpus])
        finally:
            done.set()
            for thread in readers:
                thread.join(timeout=30)
        assert not errors, errors
        final = _counts(pipe)
    assert report.added == FILES and final == (FILES,) * 4
    for out in series:
        assert len(out) > 3
        for before, after in pairwise(out):
            assert all(b <= a for b, a in zip(before, after, strict=True)), (before, after)
    # The readers saw the index grow while it was written, not only before and after.
    assert any(0 < c[0] < FILES for out in series for c in out)


def test_another_process_reads_while_this_one_writes(tmp_path: Path) -> None:
    """A long-running reader (as ``ragfusion serve``) and a CLI-like ingest in a subprocess."""
    corpus = _corpus(tmp_path / "corpus")
    index = tmp_path / "index"
    first = sorted(corpus.iterdir())[:5]
    with _open(index) as writer:  # the index exists before the reader opens it
        writer.ingest(first)
    with _open(index) as reader:
        assert _counts(reader) == (5, 5, 5, 5)
        worker = Worker(index, corpus)
        worker.wait_ready()
        seen = [_counts(reader)]
        while worker.proc.poll() is None:
            seen.append(_counts(reader))
        _, done, stderr = worker.finish()
        assert done, stderr
        deadline = time.monotonic() + 5  # the BM25 view follows commits within ~0.5 s
        while seen[-1] != (FILES,) * 4 and time.monotonic() < deadline:
            time.sleep(0.05)
            seen.append(_counts(reader))
    assert seen[-1] == (FILES,) * 4, seen[-1]
    for before, after in pairwise(seen):
        assert all(b <= a for b, a in zip(before, after, strict=True)), (before, after)
    assert any(5 < c[0] < FILES for c in seen), "the reader never saw the ingest in progress"


# store-level guarantees behind the tests above --------------------------------------------
def test_a_second_store_does_not_overwrite_what_another_committed(tmp_path: Path) -> None:
    """Two writers one after the other (a server's upload, then a CLI ingest): the second
    picks up the first one's vectors before writing its own file."""
    a = LocalStore(tmp_path / "index", EMB.dim)
    b = LocalStore(tmp_path / "index", EMB.dim)
    put(a, make_doc("/kb/a.txt", "\n\n".join(PARAGRAPHS)))
    put(b, make_doc("/kb/b.txt", "The fan motor stalls when the filter is clogged."))
    put(a, make_doc("/kb/c.txt", "Error E4 means the fan motor is stalled."))
    for store in (a, b):
        assert store.check().ok, store.check()
        n = store.count_chunks()
        assert len(store.search_dense(EMB.embed_queries(["fan motor"]), 100)[0]) == n
    a.close()
    b.close()


def test_rollback_drops_staged_vectors_from_memory(tmp_path: Path) -> None:
    store = LocalStore(tmp_path / "index", EMB.dim)
    put(store, make_doc("/kb/a.txt", PARAGRAPHS[0]))
    doc = make_doc("/kb/b.txt", "\n\n".join(PARAGRAPHS[1:]))
    chunks = chunks_of(doc)
    vectors = dict(
        zip(
            [c.chunk_id for c in chunks], EMB.embed_documents([c.text for c in chunks]), strict=True
        )
    )
    store.upsert(doc, chunks, vectors)
    store.rollback()
    store.commit()  # nothing staged: must not save the rolled-back vectors
    assert store.check().ok, store.check()
    store.close()


def test_one_writer_at_a_time_across_store_objects(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(write_lock, "WRITE_LOCK_TIMEOUT_S", 0.2)
    a = LocalStore(tmp_path / "index", EMB.dim)
    b = LocalStore(tmp_path / "index", EMB.dim)
    doc = make_doc("/kb/a.txt", PARAGRAPHS[0])
    chunks = chunks_of(doc)
    vectors = {c.chunk_id: np.ones(EMB.dim, dtype=np.float32) for c in chunks}
    a.upsert(doc, chunks, vectors)
    with pytest.raises(IndexStateError, match="Another process"):
        b.delete_document(doc.doc_id)
    b.rollback()
    a.commit()
    assert b.delete_document(doc.doc_id) == len(chunks)  # free again after the commit
    b.commit()
    assert a.count_chunks() == 0 and a.check().ok
    a.close()
    b.close()


def test_a_crash_between_the_sqlite_commit_and_the_indexes_is_repaired_on_open(
    tmp_path: Path,
) -> None:
    store = LocalStore(tmp_path / "index", EMB.dim)
    put(store, make_doc("/kb/a.txt", PARAGRAPHS[0]))
    # An update with as many chunks as before: the counts agree, only the mark tells.
    doc = make_doc("/kb/a.txt", PARAGRAPHS[1])
    chunks = chunks_of(doc)
    vectors = dict(
        zip(
            [c.chunk_id for c in chunks], EMB.embed_documents([c.text for c in chunks]), strict=True
        )
    )
    store.upsert(doc, chunks, vectors)
    store._catalog.commit()  # the process dies right after SQLite commits
    store._bm25.rollback()
    store._catalog.close()
    store._reader.close()
    store._process_lock.release()
    raw = LocalStore(tmp_path / "index", EMB.dim, recover=False)
    assert raw.quick_check() and not raw.check().ok
    raw.close()
    again = LocalStore(tmp_path / "index", EMB.dim)
    assert again.recovered is not None and not again.recovered.ok
    assert again.check().ok
    assert "reset the light" in again.search_bm25(["reset light"], 1)[0][0].chunk.text
    again.close()
    assert LocalStore(tmp_path / "index", EMB.dim).recovered is None  # nothing left to do


def test_readers_see_committed_data_only(tmp_path: Path) -> None:
    store = LocalStore(tmp_path / "index", EMB.dim)
    put(store, make_doc("/kb/a.txt", PARAGRAPHS[0]))
    doc = make_doc("/kb/b.txt", "\n\n".join(PARAGRAPHS[1:]))
    chunks = chunks_of(doc)
    vectors = dict(
        zip(
            [c.chunk_id for c in chunks], EMB.embed_documents([c.text for c in chunks]), strict=True
        )
    )
    store.upsert(doc, chunks, vectors)  # staged, not committed
    seen: list[object] = []

    def read() -> None:
        dense = store.search_dense(EMB.embed_queries(["warranty pairing"]), 100)[0]
        seen.extend([store.count_chunks(), store.get_document(doc.doc_id), len(dense)])
        seen.append([d.source for d in store.list_documents()])

    thread = threading.Thread(target=read)
    thread.start()
    thread.join()
    assert seen == [1, None, 1, ["/kb/a.txt"]]
    store.commit()
    thread = threading.Thread(target=read)
    seen.clear()
    thread.start()
    thread.join()
    assert seen[0] == 1 + len(chunks) and seen[1] == doc
    store.close()
