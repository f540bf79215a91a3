"""BM25 over chunks with tantivy (Lucene-style BM25, k1=1.2, b=0.75).

The indexed text is the document title, the heading path and the chunk text; the analyzer
lower-cases, drops English stop words and applies the Snowball English stemmer. Each entry
carries the chunk key (a fast field) and its document id, used for filtering.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from ragfusion.errors import IndexStateError, MissingDependencyError

ANALYZER = "ragfusion_en"
_WRITER_HEAP_BYTES = 128 * 1024 * 1024
_MAX_TERM_CHARS = 40


def _tantivy() -> Any:
    try:
        import tantivy
    except ImportError as exc:  # pragma: no cover - core dependency
        raise MissingDependencyError("tantivy", "local", "BM25 search") from exc
    return tantivy


def english_analyzer() -> Any:
    """Simple tokenizer, long terms dropped, lower-cased, English stop words out, stemmed."""
    tv = _tantivy()
    return (
        tv.TextAnalyzerBuilder(tv.Tokenizer.simple())
        .filter(tv.Filter.remove_long(_MAX_TERM_CHARS))
        .filter(tv.Filter.lowercase())
        .filter(tv.Filter.stopword("english"))
        .filter(tv.Filter.stemmer("english"))
        .build()
    )


class TantivyBM25:
    """A tantivy index in ``path``; one writer at a time, any number of searches."""

    def __init__(self, path: Path) -> None:
        tv = _tantivy()
        self._tv = tv
        self.path = path
        path.mkdir(parents=True, exist_ok=True)
        builder = tv.SchemaBuilder()
        builder.add_unsigned_field("key", stored=True, indexed=True, fast=True)
        builder.add_text_field("doc_id", stored=False, tokenizer_name="raw")
        builder.add_text_field("text", stored=False, tokenizer_name=ANALYZER)
        self._schema = builder.build()
        try:
            self._index = tv.Index(self._schema, path=str(path), reuse=True)
        except (OSError, ValueError) as exc:
            raise IndexStateError(
                f"The BM25 index at {path} cannot be opened ({exc}); rebuild it "
                "with: ragfusion check --repair --index DIR"
            ) from exc
        self._analyzer = english_analyzer()
        self._index.register_tokenizer(ANALYZER, self._analyzer)
        self._writer: Any = None

    def _get_writer(self) -> Any:
        if self._writer is None:
            try:
                self._writer = self._index.writer(_WRITER_HEAP_BYTES, 1)
            except ValueError as exc:
                raise IndexStateError(
                    f"The BM25 index at {self.path} is locked by another writer "
                    "(is another ingest running?)"
                ) from exc
        return self._writer

    def add(self, entries: Iterable[tuple[int, str, str]]) -> None:
        """Add (key, doc_id, text) entries; visible after ``commit``."""
        writer = self._get_writer()
        for key, doc_id, text in entries:
            document = self._tv.Document()
            document.add_unsigned("key", key)
            document.add_text("doc_id", doc_id)
            document.add_text("text", text)
            writer.add_document(document)

    def remove(self, keys: Iterable[int]) -> None:
        wanted = list(keys)
        if wanted:
            query = self._tv.Query.term_set_query(self._schema, "key", wanted)
            self._get_writer().delete_documents_by_query(query)

    def commit(self) -> None:
        if self._writer is not None:
            self._writer.commit()
            self._writer.wait_merging_threads()
            self._writer = None
        self._index.reload()

    def rollback(self) -> None:
        if self._writer is not None:
            self._writer.rollback()
            self._writer = None

    def count(self) -> int:
        self._index.reload()
        return int(self._index.searcher().num_docs)

    def all_keys(self) -> set[int]:
        self._index.reload()  # the latest commit, also one made by another process
        searcher = self._index.searcher()
        total = int(searcher.num_docs)
        if total == 0:
            return set()
        result = searcher.search(self._tv.Query.all_query(), limit=total)
        addresses = [address for _, address in result.hits]
        return {int(k) for k in searcher.fast_field_values("key", addresses) if k is not None}

    def search(
        self, queries: Sequence[str], k: int, doc_ids: Sequence[str] | None = None
    ) -> list[list[tuple[int, float]]]:
        """Top ``k`` (key, BM25 score) per query, optionally only within ``doc_ids``."""
        if doc_ids is not None and not doc_ids:
            return [[] for _ in queries]
        searcher = self._index.searcher()
        restrict = self._restriction(doc_ids)
        results: list[list[tuple[int, float]]] = []
        for query_text in queries:
            query = self._text_query(query_text)
            results.append([] if query is None else self._run(searcher, query, restrict, k))
        return results

    def search_weighted(
        self,
        term_weights: Sequence[dict[str, float]],
        k: int,
        doc_ids: Sequence[str] | None = None,
    ) -> list[list[tuple[int, float]]]:
        """Top ``k`` per weighted bag of (already analysed) terms: sum of w * BM25(term)."""
        if doc_ids is not None and not doc_ids:
            return [[] for _ in term_weights]
        tv = self._tv
        searcher = self._index.searcher()
        restrict = self._restriction(doc_ids)
        results: list[list[tuple[int, float]]] = []
        for weights in term_weights:
            clauses = [
                (
                    tv.Occur.Should,
                    tv.Query.boost_query(
                        tv.Query.term_query(self._schema, "text", term), float(weight)
                    ),
                )
                for term, weight in weights.items()
                if weight > 0
            ]
            if not clauses:
                results.append([])
                continue
            query = tv.Query.boolean_query(clauses)
            results.append(self._run(searcher, query, restrict, k))
        return results

    def analyze(self, text: str) -> list[str]:
        """The terms the index stores for ``text`` (lower-cased, stop words out, stemmed)."""
        return list(self._analyzer.analyze(text))

    def _restriction(self, doc_ids: Sequence[str] | None) -> Any:
        if doc_ids is None:
            return None
        tv = self._tv
        # A zero-score clause: it filters without changing BM25 scores.
        return tv.Query.const_score_query(
            tv.Query.term_set_query(self._schema, "doc_id", list(doc_ids)), 0.0
        )

    def _run(self, searcher: Any, query: Any, restrict: Any, k: int) -> list[tuple[int, float]]:
        tv = self._tv
        if restrict is not None:
            query = tv.Query.boolean_query([(tv.Occur.Must, query), (tv.Occur.Must, restrict)])
        hits = searcher.search(query, limit=k, count=False).hits
        keys = searcher.fast_field_values("key", [address for _, address in hits])
        return [
            (int(key), float(score))
            for (score, _), key in zip(hits, keys, strict=True)
            if key is not None
        ]

    def _text_query(self, text: str) -> Any:
        """One SHOULD clause per analysed query term (repeats weigh more, as in Lucene)."""
        tv = self._tv
        terms = self._analyzer.analyze(text)
        if not terms:
            return None
        clauses = [
            (tv.Occur.Should, tv.Query.term_query(self._schema, "text", term)) for term in terms
        ]
        return clauses[0][1] if len(clauses) == 1 else tv.Query.boolean_query(clauses)

    def clear(self) -> None:
        self.rollback()
        del self._index
        shutil.rmtree(self.path, ignore_errors=True)
