"""The one object every front end drives: ingest documents, search with fusion, answer.

pipe = Pipeline.open("my-index")
pipe.ingest(["docs/"])
result = pipe.search("how do I reset the filter light?", k=5)
answer = pipe.ask("how do I reset the filter light?")
"""

from __future__ import annotations

import dataclasses
import os
import re
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ragfusion.answering.citations import strip_markers
from ragfusion.answering.injection import flagged_paragraphs
from ragfusion.answering.prompting import build_messages, extractive_answer, generate
from ragfusion.answering.reader import Reading, passages_text, question_codes, quote, read, words
from ragfusion.answering.verify import quoted_support, verify_generated
from ragfusion.config import (
    DEFAULT_ABSTAIN_BELOW,
    RETRIEVERS,
    SCORE_FUSIONS,
    PipelineConfig,
    config_for_index,
)
from ragfusion.embedders import Embedder, make_embedder
from ragfusion.embedders.base import Vectors
from ragfusion.embedders.sentence_transformers import BUNDLED_MINILM
from ragfusion.errors import ConfigError, IndexStateError, LoadError, RagfusionError
from ragfusion.ingest.chunking import Chunker
from ragfusion.ingest.ids import content_hash, document_id
from ragfusion.ingest.loaders import Skipped, discover, load_document
from ragfusion.ingest.manifest import (
    MANIFEST_FILE,
    Manifest,
    check_compatible,
    read_manifest,
    write_manifest,
)
from ragfusion.llm import LLM, Message, make_llm
from ragfusion.retrieval.cluster_feedback import cluster_feedback, feedback_candidates
from ragfusion.retrieval.expansion import (
    DEFAULT_EXPANSION_TERMS,
    DEFAULT_FEEDBACK_DOCS,
    rm3_weights,
)
from ragfusion.retrieval.fusion import fuse
from ragfusion.retrieval.query_plan import QueryPlan, QueryVariant, RewriteCache, plan_queries
from ragfusion.stores.base import DocumentInfo, MetadataFilter, Store
from ragfusion.stores.factory import open_store, parse_store_spec, resolve_store
from ragfusion.types import Answer, Chunk, Document, Hit, RankedList, SentenceSupport

REWRITE_CACHE_FILE = "rewrite-cache.sqlite3"
ANSWER_MODES = ("reader", "extractive", "generative")
MAX_QUESTION_CHARS = 4000  # as the HTTP API: longer "questions" are documents
NOT_FOUND_TEXT = "I could not find anything about this in the indexed documents."
WEAK_EVIDENCE_TEXT = (
    "I don't know: the indexed documents do not seem to cover this question. "
    "Try rephrasing it, or add documents that answer it."
)


def embedding_text(title: str, chunk: Chunk) -> str:
    """What the embedder sees for a chunk: title and heading path give it context."""
    parts = [title] if title and title not in chunk.text[:200] else []
    if chunk.heading and chunk.heading != title:
        parts.append(chunk.heading)
    parts.append(chunk.text)
    return "\n".join(parts)


def evidence_strength(
    original: str,
    lists: Sequence[RankedList],
    usable: Callable[[Hit], bool] | None = None,
) -> float | None:
    """The best dense score for the original question among the ``usable`` hits (all by
    default), or None if the question had no dense search."""
    searched = [r for r in lists if r.retriever == "dense" and r.query == original]
    if not searched:
        return None
    best = (next((h.score for h in r.hits if usable is None or usable(h)), None) for r in searched)
    return max((score for score in best if score is not None), default=0.0)


def _pieces(text: str, words: int = 4) -> Iterator[str]:
    """``text`` in pieces of a few words (spaces kept), for a stream of token events."""
    parts = re.split(r"(?<=\s)(?=\S)", text)
    for at in range(0, len(parts), words):
        yield "".join(parts[at : at + words])


def _ms(since: float) -> float:
    return round((time.perf_counter() - since) * 1000, 2)


@dataclass(frozen=True)
class IngestProgress:
    files_done: int
    files_total: int
    chunks_added: int
    current: str


@dataclass(frozen=True)
class IngestReport:
    files: int
    added: int
    updated: int
    unchanged: int
    chunks_added: int
    chunks_removed: int
    skipped: tuple[Skipped, ...]
    seconds: float
    timings_s: dict[str, float] = field(default_factory=dict)
    removed: int = 0  # documents removed because their file is gone (sync only)
    # New chunks whose text the document already had (an edit before them moved their
    # offsets, hence their ids): their stored vectors were reused, not embedded again.
    chunks_reused: int = 0

    @property
    def chunks_per_second(self) -> float:
        return self.chunks_added / self.seconds if self.seconds > 0 else 0.0


@dataclass(frozen=True)
class SearchResult:
    question: str
    queries: tuple[QueryVariant, ...]
    hits: tuple[Hit, ...]
    lists: tuple[RankedList, ...]
    degraded: bool
    warnings: tuple[str, ...]
    timings_ms: dict[str, float]
    # Cosine similarity of the best dense hit for the original question: an absolute measure
    # of how well the index covers it (fused scores are relative). None without dense search.
    evidence: float | None = None


@dataclass(frozen=True)
class AnswerEvent:
    """One step of a streamed answer: ``queries``, ``hits``, ``token``, ``replace`` (the
    streamed text was unusable; here is the text that replaces it) or ``done``."""

    kind: str
    data: Any


@dataclass(frozen=True)
class TextRecord:
    """A text to ingest that is not a file; ``id`` becomes the document's source."""

    id: str
    text: str
    title: str = ""

    def to_document(self) -> Document:
        if not self.text.strip():
            raise LoadError(self.id, "is empty; there is nothing to ingest")
        return Document(
            doc_id=document_id(self.id),
            source=self.id,
            file_type="txt",
            title=self.title.strip(),
            text=self.text,
            content_hash=content_hash((self.title + "\0" + self.text).encode()),
        )


@dataclass
class _PendingDoc:
    document: Document
    chunks: list[Chunk]
    new: list[Chunk]  # the chunks to embed
    is_update: bool
    reused: dict[str, Vectors] = field(default_factory=dict)  # chunk id -> stored vector


def _is_under(source: str, roots: Sequence[str]) -> bool:
    """Whether a document source is one of ``roots`` or lies in one of them (a folder)."""
    return any(source == r or source.startswith(r.rstrip(os.sep) + os.sep) for r in roots)


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
        manifest = read_manifest(path)
        created = manifest is None
        if manifest is None:
            if not create:
                raise IndexStateError(
                    f"No index at {path}. Create one with: ragfusion ingest PATH... --index {path}"
                )
            if path.exists() and any(path.iterdir()):
                raise IndexStateError(
                    f"{path} is not empty and holds no ragfusion index; choose a "
                    "new or empty folder for --index"
                )
            path.mkdir(parents=True, exist_ok=True)
            spec = parse_store_spec(store, path).text
            manifest = Manifest(
                embedder=embedder.name, dim=embedder.dim, chunking=config.chunking, store=spec
            )
            write_manifest(path, manifest)
        check_compatible(path, manifest, embedder.name, embedder.dim)
        store_spec = resolve_store(path, manifest.store, store)
        config = dataclasses.replace(config, chunking=manifest.chunking)
        if embedder.name != BUNDLED_MINILM and config.abstain_below == DEFAULT_ABSTAIN_BELOW:
            # The calibrated threshold is a MiniLM cosine; it means nothing for other models.
            config = dataclasses.replace(config, abstain_below=None)
        try:
            opened = open_store(store_spec, path, manifest.dim)
        except RagfusionError:
            if created:  # not an index until its store opens: let a retry choose another
                (path / MANIFEST_FILE).unlink(missing_ok=True)
            raise
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

    # ingest --------------------------------------------------------------------------------
    def ingest(
        self,
        paths: Sequence[str | Path],
        *,
        progress: Callable[[IngestProgress], None] | None = None,
    ) -> IngestReport:
        """Load, chunk, embed and index files and folders. Unchanged files write nothing;
        a changed file replaces only its own chunks; bad files are reported and skipped."""
        files, skipped = discover(paths)
        max_bytes = self.config.max_file_bytes
        loads = (lambda f=file: load_document(f, max_bytes) for file in files)
        return self._ingest(loads, len(files), list(skipped), progress)

    def ingest_records(
        self,
        records: Sequence[TextRecord],
        *,
        progress: Callable[[IngestProgress], None] | None = None,
    ) -> IngestReport:
        """Ingest texts that are not files (e.g. a BEIR corpus); ``source`` is the record id."""
        loads = (lambda r=record: r.to_document() for record in records)
        return self._ingest(loads, len(records), [], progress)

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
        started = time.perf_counter()
        files, skipped = discover(paths)
        roots = [str(Path(p).expanduser().resolve()) for p in paths]
        found = {str(file) for file in files}
        gone = [
            info.doc_id
            for info in self.store.list_documents()
            if info.source not in found and _is_under(info.source, roots)
        ]
        chunks_removed = 0
        try:  # staged with the ingest below: one commit (or rollback) covers both
            for doc_id in gone:
                chunks_removed += self.store.delete_document(doc_id)
        except BaseException:
            self.store.rollback()
            raise
        max_bytes = self.config.max_file_bytes
        loads = (lambda f=file: load_document(f, max_bytes) for file in files)
        report = self._ingest(loads, len(files), list(skipped), progress)
        return dataclasses.replace(
            report,
            removed=len(gone),
            chunks_removed=report.chunks_removed + chunks_removed,
            seconds=time.perf_counter() - started,
        )

    def _ingest(
        self,
        loads: Iterable[Callable[[], Document]],
        total: int,
        skipped: list[Skipped],
        progress: Callable[[IngestProgress], None] | None,
    ) -> IngestReport:
        started = time.perf_counter()
        timings = {"load_chunk": 0.0, "embed": 0.0, "index": 0.0}
        counts = {"added": 0, "updated": 0, "unchanged": 0, "chunks_added": 0, "removed": 0}
        counts["reused"] = 0
        pending: list[_PendingDoc] = []
        pending_new = 0
        since_commit = 0

        def flush() -> None:
            nonlocal pending, pending_new, since_commit
            new_chunks = [(p.document.title, c) for p in pending for c in p.new]
            t = time.perf_counter()
            vectors = self.embedder.embed_documents(
                [embedding_text(title, c) for title, c in new_chunks]
            )
            timings["embed"] += time.perf_counter() - t
            by_id = {c.chunk_id: vectors[i] for i, (_, c) in enumerate(new_chunks)}
            for p in pending:
                by_id.update(p.reused)
            t = time.perf_counter()
            for p in pending:
                result = self.store.upsert(p.document, p.chunks, by_id)
                counts["chunks_added"] += result.added
                counts["removed"] += result.removed
                counts["updated" if p.is_update else "added"] += 1
                since_commit += result.added
            if since_commit >= self.config.commit_every_chunks:
                self.store.commit()
                since_commit = 0
            timings["index"] += time.perf_counter() - t
            pending, pending_new = [], 0

        try:
            for done, load in enumerate(loads, start=1):
                t = time.perf_counter()
                label = ""
                try:
                    document = load()
                    label = document.source
                    stored_hash = self.store.content_hash_of(document.doc_id)
                    if stored_hash == document.content_hash:
                        counts["unchanged"] += 1
                        continue
                    chunks = self.chunker.split(document)
                    if not chunks:
                        raise LoadError(document.source, "produced no text chunks")
                except LoadError as exc:
                    label = exc.path
                    skipped.append(Skipped(exc.path, exc.reason))
                    continue
                finally:
                    timings["load_chunk"] += time.perf_counter() - t
                    if progress:
                        progress(IngestProgress(done, total, counts["chunks_added"], label))
                existing = self.store.chunk_ids_of(document.doc_id)
                new = [c for c in chunks if c.chunk_id not in existing]
                reused = self._reusable_vectors(document, new) if existing and new else {}
                new = [c for c in new if c.chunk_id not in reused]
                counts["reused"] += len(reused)
                pending.append(_PendingDoc(document, chunks, new, stored_hash is not None, reused))
                pending_new += len(new)
                if pending_new >= self.config.embed_batch:
                    flush()
            if pending:
                flush()
            t = time.perf_counter()
            self.store.commit()
            timings["index"] += time.perf_counter() - t
        except BaseException:
            self.store.rollback()
            raise
        return IngestReport(
            files=total,
            added=counts["added"],
            updated=counts["updated"],
            unchanged=counts["unchanged"],
            chunks_added=counts["chunks_added"],
            chunks_removed=counts["removed"],
            skipped=tuple(skipped),
            seconds=time.perf_counter() - started,
            timings_s={k: round(v, 3) for k, v in timings.items()},
            chunks_reused=counts["reused"],
        )

    def _reusable_vectors(self, document: Document, new: list[Chunk]) -> dict[str, Vectors]:
        """Stored vectors for new chunks whose embedded text the stored version already has.

        The stored version is chunked again (the chunking settings are the index's) to map
        each old chunk's embedded text to its id; an old chunk the store no longer holds (a
        chunker upgrade split differently) is simply embedded again.
        """
        old = self.store.get_document(document.doc_id)
        if old is None:
            return {}
        by_text = {embedding_text(old.title, c): c.chunk_id for c in self.chunker.split(old)}
        wanted = {c.chunk_id: by_text.get(embedding_text(document.title, c)) for c in new}
        stored = self.store.vectors_of([old_id for old_id in wanted.values() if old_id])
        return {cid: stored[old_id] for cid, old_id in wanted.items() if old_id in stored}

    # search --------------------------------------------------------------------------------
    def plan(
        self, question: str, *, rewrites: int | None = None, queries: Sequence[str] = ()
    ) -> QueryPlan:
        n = self.config.rewrites if rewrites is None else rewrites
        if n < 0:
            raise ConfigError("rewrites must be >= 0")
        needs_llm = n > 0 or self.config.hyde
        return plan_queries(
            question,
            rewrites=n,
            queries=queries,
            llm=self.llm if needs_llm else None,
            cache=self.rewrite_cache if needs_llm else None,
            rewrite_weight=self.config.rewrite_weight,
            hyde=self.config.hyde,
        )

    def retrieve(
        self,
        plan: QueryPlan,
        *,
        k: int = 10,
        where: MetadataFilter | None = None,
        retrievers: Sequence[str] = RETRIEVERS,
        timings: dict[str, float] | None = None,
    ) -> tuple[list[Hit], list[RankedList]]:
        """Search every query variant with every retriever (batched) and fuse the lists."""
        timings = timings if timings is not None else {}
        unknown = set(retrievers) - set(RETRIEVERS)
        if unknown or not retrievers:
            raise ConfigError(f"Unknown retriever(s) {sorted(unknown)}; use {RETRIEVERS}")
        texts = list(plan.texts)
        depth = max(self.config.candidates, k)
        lists: list[RankedList] = []
        if "bm25" in retrievers:
            t = time.perf_counter()
            for variant, hits in zip(
                plan.variants, self.store.search_bm25(texts, depth, where), strict=True
            ):
                lists.append(RankedList(variant.text, "bm25", tuple(hits), variant.weight))
            if self.config.prf and lists:
                lists.append(self._prf_list(plan.variants[0].text, lists[0], depth, where))
            timings["bm25_ms"] = _ms(t)
        if "dense" in retrievers:
            t = time.perf_counter()
            vectors = self.embedder.embed_queries(texts)
            timings["embed_ms"] = _ms(t)
            t = time.perf_counter()
            for variant, hits in zip(
                plan.variants, self.store.search_dense(vectors, depth, where), strict=True
            ):
                lists.append(RankedList(variant.text, "dense", tuple(hits), variant.weight))
            if plan.hyde_passage:
                passage_vector = self.embedder.embed_documents([plan.hyde_passage])
                hits = self.store.search_dense(passage_vector, depth, where)[0]
                label = "hyde: " + plan.hyde_passage
                lists.append(RankedList(label, "dense", tuple(hits), self.config.hyde_weight))
            timings["dense_ms"] = _ms(t)
        t = time.perf_counter()
        # Feedback re-scores a fusion of both retrievers; one retriever alone keeps its ranking.
        feedback = self.config.cluster_feedback > 0 and set(retrievers) == set(RETRIEVERS)
        options: dict[str, Any] = {
            "retriever_weights": self.config.retriever_weights,
            "dedup": self.config.dedup,
            "limit": None if feedback else k,  # feedback can lift any candidate into the top k
        }
        if self.config.fusion == "rrf":
            options["k"] = self.config.rrf_k
        elif self.config.fusion in SCORE_FUSIONS:
            options["normalization"] = self.config.normalization
        fused = fuse(self.config.fusion, lists, **options)
        timings["fuse_ms"] = _ms(t)
        if feedback and fused:
            t = time.perf_counter()
            fused = self._cluster_feedback(fused, k)
            timings["feedback_ms"] = _ms(t)
        return fused, lists

    def _cluster_feedback(self, fused: list[Hit], k: int) -> list[Hit]:
        """The first ``k`` fused hits after cluster feedback, fetching only the vectors of
        hits that can still reach them (all of them if a stored vector is missing)."""
        weight, top = self.config.cluster_feedback, self.config.cluster_top
        needed = feedback_candidates(fused, weight=weight, top=top, limit=k)
        vectors = self.store.vectors_of([hit.chunk_id for hit in needed])
        if len(vectors) < len(needed):
            needed = fused
            vectors = self.store.vectors_of([hit.chunk_id for hit in fused])
        return cluster_feedback(
            needed,
            vectors,
            weight=weight,
            neighbours=self.config.cluster_neighbours,
            top=top,
            limit=k,
        )

    def _prf_list(
        self, original: str, first: RankedList, depth: int, where: MetadataFilter | None
    ) -> RankedList:
        """BM25 again with the RM3-expanded original question (pseudo-relevance feedback)."""
        feedback = [
            (self.store.analyze(hit.chunk.text), hit.score)
            for hit in first.hits[:DEFAULT_FEEDBACK_DOCS]
        ]
        weights = rm3_weights(self.store.analyze(original), feedback)
        hits = self.store.search_bm25_weighted([weights], depth, where)[0] if weights else []
        strongest = sorted(weights, key=lambda term: -weights[term])[:DEFAULT_EXPANSION_TERMS]
        label = "prf: " + " ".join(strongest)
        return RankedList(label, "bm25", tuple(hits), self.config.prf_weight)

    def search(
        self,
        question: str,
        *,
        rewrites: int | None = None,
        queries: Sequence[str] = (),
        k: int = 10,
        where: MetadataFilter | None = None,
        retrievers: Sequence[str] = RETRIEVERS,
    ) -> SearchResult:
        """Fused hits for a question, each with its provenance."""
        if not question.strip():
            raise ConfigError("The question is empty: ask something, e.g. 'How do I reset it?'")
        if len(question) > MAX_QUESTION_CHARS:
            raise ConfigError(
                f"The question is {len(question):,} characters long; the limit is "
                f"{MAX_QUESTION_CHARS:,}. Ask about one thing at a time, or put a long text "
                "into a document and ingest it"
            )
        if k < 1:
            raise ConfigError(f"k must be at least 1, got {k}")
        started = time.perf_counter()
        plan = self.plan(question, rewrites=rewrites, queries=queries)
        timings = {"plan_ms": _ms(started)}
        hits, lists = self.retrieve(plan, k=k, where=where, retrievers=retrievers, timings=timings)
        timings["total_ms"] = _ms(started)
        return SearchResult(
            question=question.strip(),
            queries=plan.variants,
            hits=tuple(hits),
            lists=tuple(lists),
            degraded=plan.degraded,
            warnings=plan.warnings,
            timings_ms=timings,
            evidence=evidence_strength(plan.variants[0].text, lists),
        )

    def _with_named_codes(
        self, question: str, hits: list[Hit], where: MetadataFilter | None
    ) -> list[Hit]:
        """``hits`` plus, for each code the question names (E8, LF-13) that none of them
        holds, the best BM25 hit for that code alone: a lookup the fused search can miss
        when a table's rows fall into several chunks."""
        held = set(words(passages_text(hits)))
        missing = [code for code in question_codes(question) if code not in held]
        extra: list[Hit] = []
        ids = {h.chunk_id for h in hits}
        for found in self.store.search_bm25(missing, 1, where) if missing else []:
            for hit in found:
                if hit.chunk_id not in ids and not flagged_paragraphs(hit.chunk.text):
                    ids.add(hit.chunk_id)
                    extra.append(hit)
        return hits + extra

    def is_indexed(self, word: str) -> bool:
        """Whether any indexed document holds ``word`` (as the BM25 analyzer reads it)."""
        return bool(self.store.search_bm25([word], 1, None)[0])

    # answer --------------------------------------------------------------------------------
    def ask_stream(
        self,
        question: str,
        *,
        rewrites: int | None = None,
        queries: Sequence[str] = (),
        k: int | None = None,
        where: MetadataFilter | None = None,
        extractive: bool = False,
        history: Sequence[Message] = (),
        abstain: bool = True,
        mode: str | None = None,
    ) -> Iterator[AnswerEvent]:
        """Answer step by step: queries, hits, tokens, then ``done`` with the Answer.

        ``mode`` is ``reader`` (the default: the passage span that answers, quoted and
        cited), ``extractive`` (the most similar sentences; also ``extractive=True``) or
        ``generative`` (the LLM, every sentence checked against its passage). With
        ``abstain`` (the default), a question the passages do not answer gets "I don't
        know" instead of a guess: the best dense evidence scores below
        ``config.abstain_below``, or the reader finds nothing that answers.
        """
        started = time.perf_counter()
        mode = "extractive" if extractive else (mode or self.config.answer_mode)
        if mode not in ANSWER_MODES:
            raise ConfigError(f"Unknown answer mode {mode!r}; choose one of {ANSWER_MODES}")
        default_k = {
            "reader": self.config.reader_passages,
            "extractive": self.config.extractive_passages,
            "generative": self.config.answer_passages,
        }[mode]
        wanted = k or default_k
        guard = self.config.guard_passages
        depth = wanted * 2 if guard else wanted  # spares for passages the guard leaves out
        found = self.search(question, rewrites=rewrites, queries=queries, k=depth, where=where)
        withheld = 0
        if guard:  # a passage with text addressed to the assistant makes way for the next one
            withheld = sum(bool(flagged_paragraphs(h.chunk.text)) for h in found.hits[:wanted])
            kept = [h for h in found.hits if not flagged_paragraphs(h.chunk.text)]
            # Evidence for abstaining counts only passages that may reach the model.
            evidence = evidence_strength(
                found.queries[0].text, found.lists, lambda h: not flagged_paragraphs(h.chunk.text)
            )
            found = dataclasses.replace(found, hits=tuple(kept[:wanted]), evidence=evidence)
        yield AnswerEvent("queries", [v.text for v in found.queries])
        yield AnswerEvent("hits", list(found.hits))
        timings = dict(found.timings_ms)
        warnings = list(found.warnings)
        if withheld:
            warnings.append(
                f"{withheld} passage(s) held text addressed to the assistant (a prompt "
                "injection?) and were left out; the next passages took their place"
            )
        degraded = found.degraded
        hits = list(found.hits)
        threshold = self.config.abstain_below
        weak = (
            abstain
            and mode != "reader"  # the reader judges the evidence sentence by sentence
            and threshold is not None
            and found.evidence is not None
            and found.evidence < threshold
        )
        reading: Reading | None = None
        if mode == "reader" and hits:
            hits = self._with_named_codes(found.question, hits, where)
            found = dataclasses.replace(found, hits=tuple(hits))
        if hits and not weak and abstain and mode == "reader":
            t = time.perf_counter()
            reading = read(
                found.question, hits, self.embedder, guard=guard, is_indexed=self.is_indexed
            )
            timings["read_ms"] = _ms(t)
            if reading.abstain:
                warnings.append(f"the passages do not answer the question: {reading.reason}")
        if not hits or weak or (reading is not None and reading.abstain):
            text = NOT_FOUND_TEXT if not hits else WEAK_EVIDENCE_TEXT
            if weak:
                warnings.append(
                    f"best evidence {found.evidence:.3f} is below the abstain threshold "
                    f"{threshold:.3f}"
                )
            yield AnswerEvent("token", text)
            timings["total_ms"] = _ms(started)
            mode = "abstain" if hits else "none"
            yield AnswerEvent(
                "done", self._answer(found, text, (), mode, degraded, warnings, timings)
            )
            return
        if mode == "reader":
            if reading is None:  # abstaining is off: read without it
                t = time.perf_counter()
                reading = read(found.question, hits, self.embedder, guard=guard)
                timings["read_ms"] = _ms(t)
            text, citations = quote(dataclasses.replace(reading, abstain=False), hits)
            for piece in _pieces(text):  # streamed like generated text, at once
                yield AnswerEvent("token", piece)
            timings["total_ms"] = _ms(started)
            yield AnswerEvent(
                "done",
                self._answer(
                    found,
                    text,
                    citations,
                    "reader",
                    degraded,
                    warnings,
                    timings,
                    quoted_support(text, citations),
                ),
            )
            return
        if mode == "extractive":
            t = time.perf_counter()
            text, citations = extractive_answer(
                found.question, hits, self.embedder, guard=self.config.guard_passages
            )
            timings["extract_ms"] = _ms(t)
            yield AnswerEvent("token", text)
            timings["total_ms"] = _ms(started)
            yield AnswerEvent(
                "done",
                self._answer(
                    found,
                    text,
                    citations,
                    "extractive",
                    degraded,
                    warnings,
                    timings,
                    quoted_support(text, citations),
                ),
            )
            return
        messages = build_messages(found.question, hits, history, guard=self.config.guard_passages)
        t = time.perf_counter()
        stream = generate(self.llm, messages, hits, max_tokens=self.config.max_answer_tokens)
        first = True
        for piece in stream:
            if first:
                timings["first_token_ms"] = _ms(started)
                first = False
            yield AnswerEvent("token", piece)
        timings["generate_ms"] = _ms(t)
        result = stream.result
        assert result is not None
        warnings += result.warnings
        text, citations, mode = result.text, result.citations, "generative"
        sentences: tuple[SentenceSupport, ...] = ()
        if not result.usable:
            text, citations = extractive_answer(
                found.question, hits, self.embedder, guard=self.config.guard_passages
            )
            warnings.append("the model's answer was unusable; answered extractively instead")
            degraded, mode = True, "extractive"
            sentences = quoted_support(text, citations)
            yield AnswerEvent("replace", text)
        elif self.config.verify_answers:
            t = time.perf_counter()
            checked = verify_generated(
                text,
                hits,
                citations,
                lambda: read(found.question, hits, self.embedder, guard=guard),
                guard=guard,
            )
            timings["verify_ms"] = _ms(t)
            text, citations, sentences = checked.text, checked.citations, checked.sentences
            warnings += checked.warnings
            if not strip_markers(text).strip():  # nothing it wrote holds: quote instead
                text, citations = extractive_answer(
                    found.question, hits, self.embedder, guard=guard
                )
                warnings.append(
                    "no generated sentence is supported by its passage; answered extractively"
                )
                degraded, mode = True, "extractive"
                sentences = quoted_support(text, citations)
            if checked.changed:
                yield AnswerEvent("replace", text)
        timings["total_ms"] = _ms(started)
        yield AnswerEvent(
            "done",
            self._answer(found, text, citations, mode, degraded, warnings, timings, sentences),
        )

    def ask(self, question: str, **options: Any) -> Answer:
        """Answer a question; see ``ask_stream`` for the options."""
        answer: Answer | None = None
        for event in self.ask_stream(question, **options):
            if event.kind == "done":
                answer = event.data
        assert answer is not None
        return answer

    @staticmethod
    def _answer(
        found: SearchResult,
        text: str,
        citations: Sequence[Any],
        mode: str,
        degraded: bool,
        warnings: Sequence[str],
        timings: dict[str, float],
        sentences: Sequence[SentenceSupport] = (),
    ) -> Answer:
        return Answer(
            question=found.question,
            text=text,
            citations=tuple(citations),
            queries=tuple(v.text for v in found.queries),
            hits=found.hits,
            mode=mode,
            degraded=degraded,
            warnings=tuple(warnings),
            timings_ms=timings,
            evidence=found.evidence,
            sentences=tuple(sentences),
        )

    # documents -----------------------------------------------------------------------------
    def documents(self) -> list[DocumentInfo]:
        return self.store.list_documents()

    def document(self, doc_id: str) -> Document | None:
        return self.store.get_document(doc_id)

    def delete(self, doc_id: str) -> int:
        removed = self.store.delete_document(doc_id)
        self.store.commit()
        return removed
