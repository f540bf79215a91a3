"""End to end with the real bundled models (MiniLM embeddings, SmolLM2 via llama.cpp) on the
sample knowledge base, through the Python API and the installed CLI."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.conftest import EXAMPLES, ROOT, kb_questions

from ragfusion import Pipeline

pytestmark = pytest.mark.models
QUESTIONS = kb_questions()[:12]  # the original twelve, one per document
CLI = [sys.executable, "-m", "ragfusion"]


@pytest.fixture(scope="module")
def index_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("integration") / "index"


@pytest.fixture(scope="module")
def pipe(index_dir: Path) -> Iterator[Pipeline]:
    with Pipeline.open(index_dir) as pipeline:
        report = pipeline.ingest([EXAMPLES])
        assert report.added == 12 and not report.skipped, report
        yield pipeline


def flat(text: str) -> str:
    return " ".join(text.split())


def test_every_chunk_slices_its_source_exactly(pipe: Pipeline) -> None:
    docs = pipe.documents()
    assert {d.file_type for d in docs} == {"md", "html", "txt", "pdf", "docx"}
    for info in docs:
        document = pipe.document(info.doc_id)
        assert document is not None
        hits = pipe.search(document.title, k=50, where=None).hits
        for hit in hits:
            if hit.chunk.doc_id == info.doc_id:
                assert document.text[hit.chunk.start : hit.chunk.end] == hit.chunk.text


def test_fused_search_finds_the_evidence(pipe: Pipeline) -> None:
    found = 0
    for q in QUESTIONS:
        hits = pipe.search(q["question"], k=5).hits
        found += any(flat(q["evidence"]) in flat(h.chunk.text) for h in hits)
    assert found >= 10, f"evidence in the top 5 for only {found} of {len(QUESTIONS)} questions"


def test_reingest_writes_nothing(pipe: Pipeline) -> None:
    report = pipe.ingest([EXAMPLES])
    assert (report.added, report.updated, report.chunks_added) == (0, 0, 0)
    assert report.unchanged == 12


def test_generated_answers_cite_real_passages(pipe: Pipeline) -> None:
    for q in QUESTIONS[:3]:
        answer = pipe.ask(q["question"], mode="generative")
        assert answer.text.strip()
        assert answer.timings_ms["total_ms"] > 0
        assert answer.queries[0] == q["question"]
        given = {h.chunk.chunk_id for h in answer.hits}
        for citation in answer.citations:
            assert 1 <= citation.n <= len(answer.hits)
            assert citation.chunk_id in given
            document = pipe.document(citation.doc_id)
            assert document is not None
            assert document.text[citation.start : citation.end] == citation.text
            assert f"[{citation.n}]" in answer.text


def test_extractive_answers_contain_the_gold_fact(pipe: Pipeline) -> None:
    correct = 0
    for q in QUESTIONS:
        answer = pipe.ask(q["question"], extractive=True)
        for citation in answer.citations:
            document = pipe.document(citation.doc_id)
            assert document is not None
            assert document.text[citation.start : citation.end] == citation.text
        correct += flat(q["evidence"]) in flat(answer.text)
    assert correct >= 6, f"extractive answer quoted the evidence for {correct} questions"


def run_cli(*args: str, offline: bool = True) -> subprocess.CompletedProcess[str]:
    command = [*CLI, *args]
    if offline and shutil.which("unshare") and os.geteuid() == 0:
        command = ["unshare", "-n", *command]  # no network at all
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    return subprocess.run(command, capture_output=True, text=True, timeout=600, env=env, cwd=ROOT)


def test_cli_ask_json_offline(pipe: Pipeline, index_dir: Path) -> None:
    question = QUESTIONS[2]["question"]
    done = run_cli("ask", question, "--index", str(index_dir), "--json", "--no-stream")
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    assert set(data) >= {"answer", "citations", "queries", "degraded", "timings_ms"}
    assert data["queries"][0] == question
    assert isinstance(data["degraded"], bool) and data["answer"]
    for citation in data["citations"]:
        assert set(citation) >= {"n", "chunk_id", "doc_id", "source", "start", "end", "text"}
        assert Path(citation["source"]).is_file()


def test_cli_ask_streams_events_and_cited_sources(pipe: Pipeline, index_dir: Path) -> None:
    done = run_cli("ask", QUESTIONS[4]["question"], "--index", str(index_dir), "--json", "--stream")
    assert done.returncode == 0, done.stderr
    events = [json.loads(line) for line in done.stdout.splitlines()]
    kinds = [e["event"] for e in events]
    assert kinds[:2] == ["queries", "hits"] and kinds[-1] == "done"
    assert "token" in kinds
    text = run_cli("ask", QUESTIONS[4]["question"], "--index", str(index_dir), "--extractive")
    assert text.returncode == 0, text.stderr
    assert "Sources" in text.stdout and "[1]" in text.stdout


def test_cli_search_json_has_provenance(pipe: Pipeline, index_dir: Path) -> None:
    done = run_cli(
        "search",
        "error E4",
        "--index",
        str(index_dir),
        "--json",
        "-k",
        "3",
        "--query",
        "fan motor stalled",
    )
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    assert data["queries"] == ["error E4", "fan motor stalled"]
    assert len(data["hits"]) == 3
    for hit in data["hits"]:
        assert set(hit) >= {"chunk_id", "doc_id", "source", "score", "text", "provenance"}
        assert {p["retriever"] for p in hit["provenance"]} <= {"bm25", "dense"}
        assert all(p["rank"] >= 1 for p in hit["provenance"])


def test_cli_errors_are_clear(tmp_path: Path) -> None:
    done = run_cli("search", "x", "--index", str(tmp_path / "missing"))
    assert done.returncode == 1
    assert "No index at" in done.stderr and "ragfusion ingest" in done.stderr
    assert "Traceback" not in done.stderr
