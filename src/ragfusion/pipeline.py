"""The one object every front end drives: ingest documents, search with fusion, answer.

pipe = Pipeline.open("my-index")
pipe.ingest(["docs/"])
result = pipe.search("how do I reset the filter light?", k=5)
answer = pipe.ask("how do I reset the filter light?")

A Pipeline opens the index and composes its stages: ``Indexer`` (ingest/indexer.py) writes
documents, ``Retriever`` (retrieval/retriever.py) turns a question into fused hits,
``Answerer`` (answering/answerer.py) turns hits into a cited answer.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

from ragfusion.answering.answerer import WEAK_EVIDENCE_TEXT, Answerer, AnswerEvent
from ragfusion.config import DEFAULT_ABSTAIN_BELOW, PipelineConfig, config_for_index
from ragfusion.embedders import Embedder, make_embedder
from ragfusion.embedders.sentence_transformers import BUNDLED_MINILM
from ragfusion.ingest.chunking import Chunker
from ragfusion.ingest.index_dir import open_index
from ragfusion.ingest.indexer import (
    Indexer,
    IngestProgress,
    IngestReport,
    TextRecord,
    embedding_text,
)
from ragfusion.llm import LLM, make_llm
from ragfusion.retrieval.query_plan import QueryPlan, RewriteCache
from ragfusion.retrieval.retriever import Retriever, SearchResult
from ragfusion.stores.base import DocumentInfo, Store
from ragfusion.types import Answer, Document, Hit, RankedList

__all__ = [
    "WEAK_EVIDENCE_TEXT",
    "Answer",
    "AnswerEvent",
    "IngestProgress",
    "IngestReport",
    "Pipeline",
    "SearchResult",
    "TextRecord",
    "embedding_text",
]

REWRITE_CACHE_FILE = "rewrite-cache.sqlite3"


class Pipeline:
    """Ingest, search and answer over one index directory."""

    def __init__(
        self,
        index_dir: Path,
        store: Store,
        embedder: Embedder,
        config: PipelineConfig,
        llm: LLM | None = None,
    ) -> None:
        self.index_dir = index_dir
        self.store = store
        self.embedder = embedder
        self.config = config
        self._llm = llm
        self._chunker: Chunker | None = None
        self._rewrite_cache: RewriteCache | None = None

    # construction --------------------------------------------------------------------------
    @classmethod
    def open(
        cls,
        index_dir: str | Path,
        config: PipelineConfig | None = None,
        *,
        embedder: Embedder | None = None,
        llm: LLM | None = None,
        create: bool = True,
        store: str | None = None,
    ) -> Pipeline:
        """Open (or, with ``create``, start) an index. Models load lazily on first use.

        ``store`` picks the backend of a new index ("local", "milvus-lite", "PATH.db",
        "milvus://HOST:PORT[/COLLECTION]"; see ``ragfusion.stores.factory``); an existing
        index keeps the one its manifest records.
        """
        path = Path(index_dir).expanduser().resolve()
        if config is None:
            # Settings learned by `ragfusion tune` apply unless a config is given explicitly.
            config = config_for_index(path)
        # A base URL only for served (openai:) models; other specs keep the one-argument call.
        served = {"base_url": config.embed_base_url} if config.embed_base_url else {}
        embedder = embedder or make_embedder(config.embedder, **served)
        opened, manifest = open_index(path, embedder, config.chunking, create=create, store=store)
        config = dataclasses.replace(config, chunking=manifest.chunking)
        if embedder.name != BUNDLED_MINILM and config.abstain_below == DEFAULT_ABSTAIN_BELOW:
            # The calibrated threshold is a MiniLM cosine; it means nothing for other models.
            config = dataclasses.replace(config, abstain_below=None)
        return cls(path, opened, embedder, config, llm)

    def with_config(self, config: PipelineConfig) -> Pipeline:
        """A view of the same index, models and caches with other query-time settings."""
        view = Pipeline(self.index_dir, self.store, self.embedder, config, self._llm)
        view._chunker, view._rewrite_cache = self._chunker, self._rewrite_cache
        return view

    @property
    def llm(self) -> LLM:
        if self._llm is None:
            url = self.config.llm_base_url
            self._llm = make_llm(self.config.llm, **({"base_url": url} if url else {}))
        return self._llm

    @property
    def chunker(self) -> Chunker:
        if self._chunker is None:
            self._chunker = Chunker(self.config.chunking, self.embedder.tokenizer_file)
        return self._chunker

    @property
    def rewrite_cache(self) -> RewriteCache:
        if self._rewrite_cache is None:
            self._rewrite_cache = RewriteCache(self.index_dir / REWRITE_CACHE_FILE)
        return self._rewrite_cache

    def close(self) -> None:
        self.store.close()
        if self._rewrite_cache is not None:
            self._rewrite_cache.close()

    def __enter__(self) -> Pipeline:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # stages: cheap views over this pipeline's store, models and settings -------------------
    @property
    def indexer(self) -> Indexer:
        return Indexer(self.store, self.embedder, self.config, lambda: self.chunker)

    @property
    def retriever(self) -> Retriever:
        return Retriever(
            self.store,
            self.embedder,
            self.config,
            llm=lambda: self.llm,
            rewrite_cache=lambda: self.rewrite_cache,
        )

    @property
    def answerer(self) -> Answerer:
        return Answerer(self.retriever, self.embedder, self.config, llm=lambda: self.llm)

    # ingest --------------------------------------------------------------------------------
    def ingest(
        self,
        paths: Sequence[str | Path],
        *,
        progress: Callable[[IngestProgress], None] | None = None,
    ) -> IngestReport:
        """Load, chunk, embed and index files and folders. Unchanged files write nothing;
        a changed file replaces only its own chunks; bad files are reported and skipped."""
        return self.indexer.ingest(paths, progress)

    def ingest_records(
        self,
        records: Sequence[TextRecord],
        *,
        progress: Callable[[IngestProgress], None] | None = None,
    ) -> IngestReport:
        """Ingest texts that are not files (e.g. a BEIR corpus); ``source`` is the record id."""
        return self.indexer.ingest_records(records, progress)

    def sync(
        self,
        paths: Sequence[str | Path],
        *,
        progress: Callable[[IngestProgress], None] | None = None,
    ) -> IngestReport:
        """Make the index match files and folders: new files are added, changed ones
        re-chunked (only chunk texts the document did not have before are embedded), and
        documents whose source lies under ``paths`` but is no longer found there (deleted,
        renamed, now hidden or of an unsupported type) are removed. A file that is still
        there but fails to load keeps its indexed version and is reported in ``skipped``;
        a path that no longer exists at all removes every document under it."""
        return self.indexer.sync(paths, progress)

    # search --------------------------------------------------------------------------------
    def plan(self, question: str, **options: Any) -> QueryPlan:
        """The query variants to search: the question, ``queries``, and LLM rewrites
        (the options of ``Retriever.plan``)."""
        return self.retriever.plan(question, **options)

    def retrieve(self, plan: QueryPlan, **options: Any) -> tuple[list[Hit], list[RankedList]]:
        """Search every query variant with every retriever (batched) and fuse the lists
        (the options of ``Retriever.retrieve``: ``k``, ``where``, ``retrievers``)."""
        return self.retriever.retrieve(plan, **options)

    def search(self, question: str, **options: Any) -> SearchResult:
        """Fused hits for a question, each with its provenance. Options (those of
        ``Retriever.search``): ``k`` (10), ``rewrites``, ``queries``, ``where`` (a metadata
        filter) and ``retrievers`` (both by default)."""
        return self.retriever.search(question, **options)

    def is_indexed(self, word: str) -> bool:
        """Whether any indexed document holds ``word`` (as the BM25 analyzer reads it)."""
        return self.retriever.is_indexed(word)

    # answer --------------------------------------------------------------------------------
    def ask_stream(self, question: str, **options: Any) -> Iterator[AnswerEvent]:
        """Answer step by step: queries, hits, tokens, then ``done`` with the Answer.

        Options (those of ``Answerer.ask_stream``): ``mode`` is ``reader`` (the default:
        the passage span that answers, quoted and cited), ``extractive`` (the most similar
        sentences; also ``extractive=True``) or ``generative`` (the LLM, every sentence
        checked against its passage). With ``abstain`` (the default), a question the
        passages do not answer gets "I don't know" instead of a guess: the best dense
        evidence scores below ``config.abstain_below``, or the reader finds nothing that
        answers. ``k``, ``rewrites``, ``queries`` and ``where`` are those of ``search``;
        ``history`` holds the conversation so far.
        """
        return self.answerer.ask_stream(question, **options)

    def ask(self, question: str, **options: Any) -> Answer:
        """Answer a question; see ``ask_stream`` for the options."""
        return self.answerer.ask(question, **options)

    # documents -----------------------------------------------------------------------------
    def documents(self) -> list[DocumentInfo]:
        return self.store.list_documents()

    def document(self, doc_id: str) -> Document | None:
        return self.store.get_document(doc_id)

    def delete(self, doc_id: str) -> int:
        removed = self.store.delete_document(doc_id)
        self.store.commit()
        return removed
