"""Retrieval: a question becomes query variants, ranked lists per retriever, fused hits.

plan (rewrites, HyDE) -> BM25 and dense search of every variant, batched (plus RM3
feedback) -> fusion -> cluster feedback. The result keeps each hit's provenance.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from ragfusion.config import RETRIEVERS, SCORE_FUSIONS, PipelineConfig
from ragfusion.embedders import Embedder
from ragfusion.errors import ConfigError
from ragfusion.llm import LLM
from ragfusion.retrieval.cluster_feedback import cluster_feedback, feedback_candidates
from ragfusion.retrieval.expansion import (
    DEFAULT_EXPANSION_TERMS,
    DEFAULT_FEEDBACK_DOCS,
    rm3_weights,
)
from ragfusion.retrieval.fusion import fuse
from ragfusion.retrieval.query_plan import QueryPlan, QueryVariant, RewriteCache, plan_queries
from ragfusion.stores.base import MetadataFilter, Store
from ragfusion.types import Hit, RankedList

__all__ = ["MAX_QUESTION_CHARS", "Retriever", "SearchResult", "evidence_strength"]

MAX_QUESTION_CHARS = 4000  # as the HTTP API: longer "questions" are documents


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


def _ms(since: float) -> float:
    return round((time.perf_counter() - since) * 1000, 2)


class Retriever:
    """Searches one store: the retrieval stage of a ``Pipeline``.

    ``llm`` and ``rewrite_cache`` are called only when a plan needs rewrites or HyDE, so
    that neither loads for a plain search.
    """

    def __init__(
        self,
        store: Store,
        embedder: Embedder,
        config: PipelineConfig,
        llm: Callable[[], LLM],
        rewrite_cache: Callable[[], RewriteCache],
    ) -> None:
        self.store = store
        self.embedder = embedder
        self.config = config
        self._llm = llm
        self._rewrite_cache = rewrite_cache

    def plan(
        self, question: str, *, rewrites: int | None = None, queries: Sequence[str] = ()
    ) -> QueryPlan:
        """The query variants to search: the question, ``queries``, and LLM rewrites."""
        n = self.config.rewrites if rewrites is None else rewrites
        if n < 0:
            raise ConfigError("rewrites must be >= 0")
        needs_llm = n > 0 or self.config.hyde
        return plan_queries(
            question,
            rewrites=n,
            queries=queries,
            llm=self._llm() if needs_llm else None,
            cache=self._rewrite_cache() if needs_llm else None,
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

    def lookup(self, terms: Sequence[str], where: MetadataFilter | None = None) -> list[list[Hit]]:
        """For each term searched alone with BM25, its best hit (none if no chunk holds it)."""
        return self.store.search_bm25(terms, 1, where) if terms else []

    def is_indexed(self, word: str) -> bool:
        """Whether any indexed document holds ``word`` (as the BM25 analyzer reads it)."""
        return bool(self.store.search_bm25([word], 1, None)[0])

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
