"""Replays what `make fuzz` found (tests/fuzz-regressions/): each saved loader input must
give a Document or a clear LoadError, and each saved request a clear 4xx or a success."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from tests.conftest import HashEmbedder, ScriptedLLM
from tests.fuzz_support import HTTP_REGRESSIONS, LOADER_REGRESSIONS
from tests.server_harness import running_server
from tests.test_loader_fuzz import load_or_error

from ragfusion.config import PipelineConfig
from ragfusion.pipeline import Pipeline

LOADER_CASES = sorted(LOADER_REGRESSIONS.glob("*")) if LOADER_REGRESSIONS.is_dir() else []
HTTP_CASES = sorted(HTTP_REGRESSIONS.glob("*.json")) if HTTP_REGRESSIONS.is_dir() else []


def test_regressions_are_kept() -> None:
    assert LOADER_CASES, "tests/fuzz-regressions/loaders/ should hold the cases fuzzing found"


@pytest.mark.parametrize("case", LOADER_CASES, ids=lambda p: p.name)
def test_saved_loader_input(tmp_path: Path, case: Path) -> None:
    load_or_error(tmp_path, case.suffix, case.read_bytes())


@pytest.fixture(scope="module")
def base_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    root = tmp_path_factory.mktemp("replay")
    (root / "docs").mkdir()
    (root / "docs" / "a.md").write_text("# Filters\n\nReplace the HEPA filter every 6 months.\n")
    llm = ScriptedLLM(["The filter lasts 6 months [1]."])
    with Pipeline.open(root / "idx", PipelineConfig(), embedder=HashEmbedder(), llm=llm) as pipe:
        pipe.ingest([root / "docs"])
        with running_server(pipe) as base:
            yield base


@pytest.mark.parametrize("case", HTTP_CASES, ids=lambda p: p.name)
def test_saved_request(base_url: str, case: Path) -> None:
    saved = json.loads(case.read_text())
    body = saved.get("body")
    content = (
        json.dumps(body) if body is not None and "json" in (saved["media_type"] or "") else None
    )
    response = httpx.request(
        saved["method"],
        base_url + saved["path"],
        params=saved.get("query"),
        headers={**saved.get("headers", {}), "content-type": saved["media_type"] or "text/plain"},
        content=content if content is not None else (body if isinstance(body, str) else None),
        timeout=30,
    )
    assert response.status_code < 500, saved["curl"]
    if response.status_code >= 400:
        assert response.json()["error"]["message"]
