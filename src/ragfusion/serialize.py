"""Plain-JSON views of results, shared by the CLI and any other front end."""

from __future__ import annotations

from typing import Any

from ragfusion.pipeline import IngestReport, SearchResult
from ragfusion.types import Answer, Citation, Hit, SentenceSupport


def hit_json(hit: Hit, rank: int) -> dict[str, Any]:
    c = hit.chunk
    return {
        "rank": rank,
        "chunk_id": c.chunk_id,
        "doc_id": c.doc_id,
        "source": c.source,
        "file_type": c.file_type,
        "heading": c.heading,
        "start": c.start,
        "end": c.end,
        "score": hit.score,
        "text": c.text,
        "provenance": [
            {"query": p.query, "retriever": p.retriever, "rank": p.rank, "score": p.score}
            for p in hit.provenance
        ],
    }


def citation_json(citation: Citation) -> dict[str, Any]:
    return {
        "n": citation.n,
        "chunk_id": citation.chunk_id,
        "doc_id": citation.doc_id,
        "source": citation.source,
        "heading": citation.heading,
        "start": citation.start,
        "end": citation.end,
        "text": citation.text,
    }


def search_json(result: SearchResult) -> dict[str, Any]:
    return {
        "question": result.question,
        "queries": [v.text for v in result.queries],
        "query_plan": [
            {"query": v.text, "kind": v.kind, "weight": v.weight} for v in result.queries
        ],
        "hits": [hit_json(h, i) for i, h in enumerate(result.hits, start=1)],
        "degraded": result.degraded,
        "warnings": list(result.warnings),
        "evidence": result.evidence,
        "timings_ms": result.timings_ms,
    }


def answer_json(answer: Answer) -> dict[str, Any]:
    return {
        "question": answer.question,
        "answer": answer.text,
        "mode": answer.mode,
        "citations": [citation_json(c) for c in answer.citations],
        "queries": list(answer.queries),
        "hits": [hit_json(h, i) for i, h in enumerate(answer.hits, start=1)],
        "degraded": answer.degraded,
        "warnings": list(answer.warnings),
        "evidence": answer.evidence,
        "timings_ms": answer.timings_ms,
        "sentences": [sentence_json(s) for s in answer.sentences],
    }


def sentence_json(support: SentenceSupport) -> dict[str, Any]:
    return {
        "start": support.start,
        "end": support.end,
        "status": support.status,
        "citation": support.citation,
        "doc_id": support.doc_id,
        "source_start": support.source_start,
        "source_end": support.source_end,
        "note": support.note,
    }


def ingest_json(report: IngestReport) -> dict[str, Any]:
    return {
        "files": report.files,
        "added": report.added,
        "updated": report.updated,
        "unchanged": report.unchanged,
        "removed": report.removed,
        "chunks_added": report.chunks_added,
        "chunks_removed": report.chunks_removed,
        "chunks_reused": report.chunks_reused,
        "seconds": round(report.seconds, 3),
        "chunks_per_second": round(report.chunks_per_second, 1),
        "timings_s": report.timings_s,
        "skipped": [{"path": s.path, "reason": s.reason} for s in report.skipped],
    }
