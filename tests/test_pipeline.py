"""Pipeline logic with a hashing embedder and a scripted LLM (no real models)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from tests.conftest import HashEmbedder, ScriptedLLM

from ragfusion import Pipeline, PipelineConfig
from ragfusion.config import (
    DEFAULT_CLUSTER_FEEDBACK,
    DEFAULT_CLUSTER_NEIGHBOURS,
    DEFAULT_CLUSTER_TOP,
)
from ragfusion.errors import ConfigError, EmbedderMismatchError, IndexStateError
from ragfusion.retrieval.cluster_feedback import cluster_feedback
from ragfusion.retrieval.fusion import fuse
from ragfusion.stores.base import MetadataFilter
from ragfusion.types import RankedList


def open_pipe(index: Path, llm: ScriptedLLM | None = None, **config: object) -> Pipeline:
    return Pipeline.open(
        index,
        PipelineConfig(**config),
        embedder=HashEmbedder(),  # type: ignore[arg-type]
        llm=llm,
    )


def test_ingest_is_idempotent_and_reports_skips(tmp_path: Path, corpus: Path) -> None:
    (corpus / "notes.xyz").write_text("unsupported")
    (corpus / "empty.md").write_text("")
    (corpus / "binary.txt").write_bytes(b"\x00\x01\x02binary")
    with open_pipe(tmp_path / "idx") as pipe:
        first = pipe.ingest([corpus])
        assert (first.files, first.added, first.unchanged) == (5, 3, 0)
        assert first.chunks_added == pipe.store.count_chunks() > 0
        reasons = {Path(s.path).name: s.reason for s in first.skipped}
        assert set(reasons) == {"notes.xyz", "empty.md", "binary.txt"}
        assert "unsupported" in reasons["notes.xyz"]
        assert "empty" in reasons["empty.md"]
        assert "binary" in reasons["binary.txt"]
        second = pipe.ingest([corpus])
        assert (second.added, second.updated, second.unchanged, second.chunks_added) == (0, 0, 3, 0)


def test_changed_file_replaces_only_its_chunks(tmp_path: Path, corpus: Path) -> None:
    with open_pipe(tmp_path / "idx") as pipe:
        pipe.ingest([corpus])
        docs = {Path(d.source).name: d for d in pipe.documents()}
        wifi_before = pipe.store.chunk_ids_of(docs["wifi.md"].doc_id)
        (corpus / "warranty.txt").write_text("Warranty\n\nThe warranty now lasts 5 years.\n")
        report = pipe.ingest([corpus])
        assert (report.updated, report.unchanged) == (1, 2)
        assert pipe.store.chunk_ids_of(docs["wifi.md"].doc_id) == wifi_before
        hit = pipe.search("how many years of warranty", k=1).hits[0]
        assert "5 years" in hit.chunk.text


def test_search_fuses_with_provenance(tmp_path: Path, corpus: Path) -> None:
    with open_pipe(tmp_path / "idx", fusion="rrf", cluster_feedback=0.0) as pipe:
        pipe.ingest([corpus])
        result = pipe.search("reset the filter light", queries=["filter button seconds"], k=3)
        assert [v.text for v in result.queries] == [
            "reset the filter light",
            "filter button seconds",
        ]
        assert len(result.lists) == 4  # 2 queries x 2 retrievers
        top = result.hits[0]
        assert "reset the filter light" in top.chunk.text
        retrievers = {p.retriever for p in top.provenance}
        assert retrievers == {"bm25", "dense"}
        assert all(p.rank >= 1 for p in top.provenance)
        # RRF with k=60 and unit weights: the score is the sum over the lists that found it
        expected = sum(1.0 / (60 + p.rank) for p in top.provenance)
        assert top.score == pytest.approx(expected)
        assert len({h.chunk_id for h in result.hits}) == len(result.hits)


def test_search_applies_cluster_feedback_to_every_fused_candidate(tmp_path: Path) -> None:
    folder = tmp_path / "notes"
    folder.mkdir()
    topics = ["filter light", "water tank", "descaling", "warranty", "grinder", "milk frother"]
    for i, topic in enumerate(topics * 2):
        (folder / f"{i}.txt").write_text(f"How to reset the {topic}: hold the button {i} s.\n")
    with open_pipe(tmp_path / "idx") as pipe:
        pipe.ingest([folder])
        result = pipe.search("how do I reset the filter light", k=3)
        fused = fuse("combsum", list(result.lists), normalization="minmax", dedup="chunk")
        assert len(fused) > 3  # feedback sees all candidates, not only the k returned
        expected = cluster_feedback(
            fused,
            pipe.store.vectors_of([h.chunk_id for h in fused]),
            weight=DEFAULT_CLUSTER_FEEDBACK,
            neighbours=DEFAULT_CLUSTER_NEIGHBOURS,
            top=DEFAULT_CLUSTER_TOP,
        )[:3]
        assert [(h.chunk_id, h.score) for h in result.hits] == [
            (h.chunk_id, pytest.approx(h.score)) for h in expected
        ]
        assert [h.score for h in expected] != pytest.approx([h.score for h in fused[:3]])
        assert "feedback_ms" in result.timings_ms
        plain = pipe.with_config(dataclasses.replace(pipe.config, cluster_feedback=0.0))
        off = plain.search("how do I reset the filter light", k=3)
        assert [h.score for h in off.hits] == pytest.approx([h.score for h in fused[:3]])
        bm25 = pipe.search("how do I reset the filter light", k=3, retrievers=["bm25"])
        assert "feedback_ms" not in bm25.timings_ms
        assert [h.chunk_id for h in bm25.hits] == [h.chunk_id for h in bm25.lists[0].hits[:3]]


def test_search_filters_and_single_retriever(tmp_path: Path, corpus: Path) -> None:
    with open_pipe(tmp_path / "idx") as pipe:
        pipe.ingest([corpus])
        only_txt = pipe.search("warranty filter", where=MetadataFilter(file_types=("txt",)))
        assert {h.chunk.file_type for h in only_txt.hits} == {"txt"}
        bm25 = pipe.search("filter", retrievers=["bm25"])
        assert {p.retriever for h in bm25.hits for p in h.provenance} == {"bm25"}
        with pytest.raises(ConfigError):
            pipe.search("filter", retrievers=["nope"])
        with pytest.raises(ConfigError):
            pipe.search("   ")


def test_ask_validates_citations(tmp_path: Path, corpus: Path) -> None:
    llm = ScriptedLLM(["Replace the HEPA filter every 6 months [1]. See also [9]."])
    with open_pipe(tmp_path / "idx", llm) as pipe:
        pipe.ingest([corpus])
        answer = pipe.ask("How often do I replace the HEPA filter?", mode="generative")
    assert answer.mode == "generative" and not answer.degraded
    assert "[9]" not in answer.text and "[1]" in answer.text
    assert [c.n for c in answer.citations] == [1]
    assert answer.citations[0].chunk_id == answer.hits[0].chunk_id
    assert any("[9]" in w for w in answer.warnings)
    prompt = llm.prompts[-1][-1]["content"]
    assert "[1]" in prompt and "Question: How often do I replace the HEPA filter?" in prompt


def test_uncited_answer_gets_attributed_citations(tmp_path: Path, corpus: Path) -> None:
    llm = ScriptedLLM(["Hold the filter button for 3 seconds to reset the filter light."])
    with open_pipe(tmp_path / "idx", llm) as pipe:
        pipe.ingest([corpus])
        answer = pipe.ask("How do I reset the filter light?", mode="generative")
    assert answer.citations, answer
    assert "reset the filter light" in answer.citations[0].text
    assert answer.text.rstrip().endswith(f"[{answer.citations[0].n}]")
    assert any("attributed" in w for w in answer.warnings)


def test_junk_answer_falls_back_to_extractive(tmp_path: Path, corpus: Path) -> None:
    llm = ScriptedLLM(["[1]"])
    with open_pipe(tmp_path / "idx", llm) as pipe:
        pipe.ingest([corpus])
        events = list(pipe.ask_stream("How do I reset the filter light?", mode="generative"))
    kinds = [e.kind for e in events]
    assert kinds[:2] == ["queries", "hits"] and kinds[-1] == "done"
    assert "replace" in kinds
    answer = events[-1].data
    assert answer.degraded and answer.mode == "extractive"
    assert answer.citations


def test_extractive_answer_quotes_exact_spans(tmp_path: Path, corpus: Path) -> None:
    with open_pipe(tmp_path / "idx") as pipe:
        pipe.ingest([corpus])
        answer = pipe.ask("How long is the warranty?", extractive=True)
        assert answer.mode == "extractive" and answer.citations
        for citation in answer.citations:
            document = pipe.document(citation.doc_id)
            assert document is not None
            assert document.text[citation.start : citation.end] == citation.text
            assert f"{citation.text} [{citation.n}]" in answer.text


def test_rewrites_flow_into_search_with_lower_weight(tmp_path: Path, corpus: Path) -> None:
    llm = ScriptedLLM(['{"query": "HEPA filter replacement interval months"}'])
    with open_pipe(tmp_path / "idx", llm) as pipe:
        pipe.ingest([corpus])
        result = pipe.search("How often do I replace the filter?", rewrites=1)
    assert [v.kind for v in result.queries] == ["original", "rewrite"]
    assert result.queries[1].weight < result.queries[0].weight
    assert {p.query for h in result.hits for p in h.provenance} >= {result.queries[1].text}


def test_no_hits_answers_without_llm(tmp_path: Path, corpus: Path) -> None:
    llm = ScriptedLLM(["should not be called"])
    with open_pipe(tmp_path / "idx", llm) as pipe:
        pipe.ingest([corpus])
        answer = pipe.ask("filter", where=MetadataFilter(source_prefix="/nowhere"))
    assert answer.citations == () and "could not find" in answer.text
    assert llm.prompts == []


def test_opening_with_another_embedder_fails_with_rebuild_hint(
    tmp_path: Path, corpus: Path
) -> None:
    with open_pipe(tmp_path / "idx") as pipe:
        pipe.ingest([corpus])
    with pytest.raises(EmbedderMismatchError, match="ragfusion ingest --rebuild"):
        Pipeline.open(tmp_path / "idx", embedder=HashEmbedder(dim=32, name="other"))


def test_missing_index_and_foreign_folder_are_refused(tmp_path: Path) -> None:
    with pytest.raises(IndexStateError, match="ragfusion ingest"):
        Pipeline.open(tmp_path / "none", embedder=HashEmbedder(), create=False)
    (tmp_path / "foreign").mkdir()
    (tmp_path / "foreign" / "important.txt").write_text("keep me")
    with pytest.raises(IndexStateError, match="not empty"):
        Pipeline.open(tmp_path / "foreign", embedder=HashEmbedder())


def test_config_validation() -> None:
    with pytest.raises(ConfigError):
        PipelineConfig(fusion="magic")
    with pytest.raises(ConfigError):
        PipelineConfig(retriever_weights={"bm25": -1.0})
    with pytest.raises(ConfigError):
        PipelineConfig(rrf_k=0)


def test_ingest_records_uses_ids_as_sources(tmp_path: Path) -> None:
    from ragfusion.pipeline import TextRecord

    records = [
        TextRecord("doc-1", "Zinc lozenges shorten the common cold.", "Zinc and colds"),
        TextRecord("doc-2", "Vitamin D does not prevent fractures in older adults.", "Vit D"),
        TextRecord("doc-3", "   ", "empty"),
    ]
    with open_pipe(tmp_path / "idx") as pipe:
        report = pipe.ingest_records(records)
        assert (report.added, len(report.skipped)) == (2, 1)
        assert report.skipped[0].path == "doc-3"
        hit = pipe.search("zinc common cold", k=1).hits[0]
        assert hit.chunk.source == "doc-1"
        assert pipe.ingest_records(records[:2]).unchanged == 2


def test_document_dedup_returns_each_document_once(tmp_path: Path) -> None:
    from ragfusion.pipeline import TextRecord

    long_text = " ".join(f"Zinc sentence number {i} about colds and lozenges." for i in range(60))
    records = [TextRecord("zinc", long_text, "Zinc"), TextRecord("other", "Zinc is a metal.")]
    with open_pipe(tmp_path / "idx", dedup="document") as pipe:
        pipe.ingest_records(records)
        assert pipe.store.count_chunks() > 2  # the long record spans several chunks
        for retrievers in (["bm25"], ["dense"], ["bm25", "dense"]):
            hits = pipe.search("zinc colds lozenges", k=10, retrievers=retrievers).hits
            sources = [h.chunk.source for h in hits]
            assert sources[0] == "zinc" and len(sources) == len(set(sources)) == 2


def test_default_fusion_is_combsum_of_min_max_scores(tmp_path: Path, corpus: Path) -> None:
    with open_pipe(tmp_path / "idx", cluster_feedback=0.0) as pipe:
        pipe.ingest([corpus])
        result = pipe.search("reset the filter light", k=5)
    assert pipe.config.fusion == "combsum" and pipe.config.normalization == "minmax"

    def minmax(lst: RankedList) -> dict[str, float]:
        scores = [h.score for h in lst.hits]
        low, high = min(scores), max(scores)
        return {
            h.chunk_id: (h.score - low) / (high - low) if high > low else 1.0
            for h in reversed(lst.hits)
        }  # reversed: the first occurrence wins

    parts = [minmax(lst) for lst in result.lists]
    for hit in result.hits:
        assert hit.score == pytest.approx(sum(p.get(hit.chunk_id, 0.0) for p in parts))
