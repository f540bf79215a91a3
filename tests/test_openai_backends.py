"""The OpenAI-compatible backends against a real server on loopback: llama-cpp-python's own
``python -m llama_cpp.server`` (the ``server`` extra) serving the bundled SmolLM2 GGUF for
both chat and embeddings. Scripted-server tests of the same code: test_openai_compat.py.

Measured here (2 shared cores): the server embeds about 2 s per 200-token chunk (per-token
vectors, one text per request), so the end-to-end test ingests two files of examples/kb,
not all twelve (56 chunks, several minutes).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
from tests.conftest import EXAMPLES, ROOT, HashEmbedder, kb_questions
from tests.server_harness import free_port

from ragfusion import Pipeline
from ragfusion.config import PipelineConfig
from ragfusion.embedders.openai_compat import OpenAICompatEmbedder
from ragfusion.errors import EmbedderMismatchError, ModelError
from ragfusion.ingest.manifest import read_manifest
from ragfusion.llm.llama_cpp import bundled_gguf_path
from ragfusion.llm.openai_compat import OpenAICompatLLM

pytestmark = pytest.mark.models
MODEL = "smollm2"
SMOLLM2_DIM = 576
QUESTIONS: dict[str, dict[str, Any]] = {}
for _q in kb_questions()[:12]:  # the original questions: one per document
    QUESTIONS.setdefault(_q["source"], _q)
FILES = ["guides/filter-replacement.md", "policies/returns-and-refunds.txt"]


@pytest.fixture(scope="module")
def base_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Start llama_cpp.server on a free loopback port; yield its API root (.../v1)."""
    port = free_port()
    log_path = tmp_path_factory.mktemp("llama-server") / "server.log"
    command = [
        sys.executable,
        "-m",
        "llama_cpp.server",
        "--model",
        str(bundled_gguf_path()),
        "--model_alias",
        MODEL,
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--n_ctx",
        "2048",
        "--embedding",  # /v1/embeddings from the same model; chat still works
        "true",
        # One thread each: on a busy 2-core machine two threads contend and run slower.
        "--n_threads",
        "1",
        "--n_threads_batch",
        "1",
        "--verbose",
        "false",
    ]
    with log_path.open("wb") as log:
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/v1"
    try:
        deadline = time.monotonic() + 60
        while True:
            if process.poll() is not None:
                pytest.fail(f"llama_cpp.server exited:\n{log_path.read_text()[-3000:]}")
            try:
                if httpx.get(f"{url}/models", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"llama_cpp.server did not start:\n{log_path.read_text()[-3000:]}")
            time.sleep(0.1)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.fixture(scope="module")
def llm(base_url: str) -> OpenAICompatLLM:
    return OpenAICompatLLM(MODEL, base_url)


@pytest.fixture(scope="module")
def embedder(base_url: str) -> OpenAICompatEmbedder:
    return OpenAICompatEmbedder(MODEL, base_url)


QUESTION = [{"role": "user", "content": "What is the capital of France?"}]


def test_complete_and_stream_give_the_same_greedy_reply(llm: OpenAICompatLLM) -> None:
    whole = llm.complete(QUESTION, max_tokens=40, seed=0)
    assert "Paris" in whole
    pieces = list(llm.stream(QUESTION, max_tokens=40, seed=0))
    assert len(pieces) > 5
    assert "".join(pieces) == whole


def test_json_schema_constrains_the_reply(llm: OpenAICompatLLM) -> None:
    schema = {
        "type": "object",
        "properties": {"city": {"type": "string"}, "population": {"type": "integer"}},
        "required": ["city", "population"],
    }
    prompt = [{"role": "user", "content": "Name a big city and its population, as JSON."}]
    data = json.loads(llm.complete(prompt, max_tokens=60, json_schema=schema))
    assert isinstance(data["city"], str) and isinstance(data["population"], int)
    assert llm.json_mode == "json_object"  # llama.cpp's form, accepted the first time


def test_llama_cpp_server_refuses_openais_json_schema_form(base_url: str) -> None:
    # Documented behaviour: its request model only knows "text" and "json_object" (and it
    # reports the validation error as HTTP 500), which is why "auto" sends json_object first.
    strict = OpenAICompatLLM(MODEL, base_url, json_mode="json_schema", retries=0)
    with pytest.raises(ModelError, match=r"HTTP 500.*json_object"):
        strict.complete(QUESTION, max_tokens=5, json_schema={"type": "object"})


def test_unknown_model_names_are_served_by_the_loaded_model(base_url: str) -> None:
    # Documented behaviour of llama_cpp.server: the model name is not checked. (vLLM, Ollama
    # and OpenAI answer 404, which the scripted tests cover.)
    other = OpenAICompatLLM("no-such-model", base_url)
    assert other.complete(QUESTION, max_tokens=5)


def test_a_wrong_base_url_says_so(base_url: str) -> None:
    wrong = OpenAICompatLLM(MODEL, base_url.removesuffix("/v1") + "/api", retries=0)
    with pytest.raises(ModelError, match=r"HTTP 404.*check the base URL"):
        wrong.complete(QUESTION, max_tokens=5)


def test_embeddings_have_a_fixed_dim_and_rank_similar_texts_higher(
    embedder: OpenAICompatEmbedder,
) -> None:
    assert embedder.dim == SMOLLM2_DIM
    texts = [
        "The cat sat on the mat.",
        "A cat was sitting on the mat.",
        "Quarterly revenue rose by four percent.",
    ]
    vectors = embedder.embed_documents(texts)
    assert vectors.shape == (3, SMOLLM2_DIM) and vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, rtol=1e-5)
    similarity = vectors @ vectors.T
    assert similarity[0, 1] > similarity[0, 2] + 0.1
    again = embedder.embed_queries([texts[0]])  # batch position does not change a vector
    np.testing.assert_allclose(again[0], vectors[0], atol=1e-4)


@pytest.fixture(scope="module")
def index(base_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pipeline]:
    corpus = tmp_path_factory.mktemp("openai-corpus")
    for name in FILES:
        shutil.copy(EXAMPLES / name, corpus / Path(name).name)
    config = PipelineConfig(
        embedder=f"openai:{MODEL}",
        llm=f"openai:{MODEL}",
        embed_base_url=base_url,
        llm_base_url=base_url,
    )
    with Pipeline.open(tmp_path_factory.mktemp("openai-index") / "index", config) as pipe:
        report = pipe.ingest([corpus])
        assert report.added == 2 and report.chunks_added > 2 and not report.skipped
        yield pipe


def test_the_manifest_records_the_served_embedder(index: Pipeline) -> None:
    manifest = read_manifest(index.index_dir)
    assert manifest is not None
    assert (manifest.embedder, manifest.dim) == (f"openai:{MODEL}", SMOLLM2_DIM)
    with pytest.raises(EmbedderMismatchError, match=f"openai:{MODEL}"):
        Pipeline.open(index.index_dir, embedder=HashEmbedder(dim=SMOLLM2_DIM, name="other"))


def test_dense_search_with_served_embeddings_finds_the_evidence(index: Pipeline) -> None:
    q = QUESTIONS["kb/guides/filter-replacement.md"]
    hits = index.search(q["question"], k=5).hits
    dense_rank = {
        h.chunk.chunk_id: p.rank for h in hits for p in h.provenance if p.retriever == "dense"
    }
    evidence = [
        h for h in hits if " ".join(q["evidence"].split()) in " ".join(h.chunk.text.split())
    ]
    assert evidence and dense_rank.get(evidence[0].chunk.chunk_id, 99) <= 2


def test_ask_through_the_served_llm_cites_real_passages(index: Pipeline) -> None:
    answer = index.ask(QUESTIONS["kb/guides/filter-replacement.md"]["question"], mode="generative")
    assert answer.mode in ("generative", "extractive") and answer.text.strip()
    assert answer.mode == "generative" or answer.degraded  # checked, and fell back visibly
    assert answer.citations
    given = {h.chunk.chunk_id for h in answer.hits}
    for citation in answer.citations:
        assert citation.chunk_id in given
        document = index.document(citation.doc_id)
        assert document is not None
        assert document.text[citation.start : citation.end] == citation.text
        assert f"[{citation.n}]" in answer.text


def test_cli_ask_with_served_models(index: Pipeline, base_url: str) -> None:
    # No --embedder: the index's manifest names openai:smollm2; its server comes from the option.
    question = QUESTIONS["kb/policies/returns-and-refunds.txt"]["question"]
    done = subprocess.run(
        [
            *(sys.executable, "-m", "ragfusion", "ask", question, "--index", str(index.index_dir)),
            *("--llm", f"openai:{MODEL}", "--llm-base-url", base_url),
            *("--embed-base-url", base_url, "-k", "2", "--json", "--no-stream"),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        env={
            **{k: v for k, v in os.environ.items() if not k.endswith("_BASE_URL")},
            "HF_HUB_OFFLINE": "1",
        },
        cwd=ROOT,
    )
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    assert data["answer"].strip() and data["queries"][0] == question
    for citation in data["citations"]:
        assert Path(citation["source"]).name in {Path(name).name for name in FILES}
