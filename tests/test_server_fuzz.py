"""Fuzz every route of the OpenAPI spec (schemathesis, bounded): whatever a client sends,
the service answers with a clear 4xx or a success, never a 5xx. Fake models, real server."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from tests.conftest import HashEmbedder, ScriptedLLM
from tests.fuzz_support import count_case, examples, save_http_regression
from tests.server_harness import running_server

from ragfusion.config import PipelineConfig
from ragfusion.pipeline import Pipeline

EXAMPLES_PER_ROUTE = examples(30)


@pytest.fixture(scope="module")
def api_schema(tmp_path_factory: pytest.TempPathFactory) -> Iterator[schemathesis.BaseSchema]:
    root = tmp_path_factory.mktemp("fuzz")
    docs = root / "docs"
    docs.mkdir()
    (docs / "a.md").write_text("# Filters\n\nReplace the HEPA filter every 6 months.\n")
    (docs / "b.txt").write_text("The warranty lasts 2 years from the date of purchase.\n")
    llm = ScriptedLLM(["The filter lasts 6 months [1]."])
    with Pipeline.open(root / "idx", PipelineConfig(), embedder=HashEmbedder(), llm=llm) as pipe:
        pipe.ingest([docs])
        with running_server(pipe) as base:
            yield schemathesis.openapi.from_url(f"{base}/openapi.json")


def test_no_request_makes_the_server_fail(api_schema: schemathesis.BaseSchema) -> None:
    checked = []
    statuses: list[int] = []
    for result in api_schema.get_all_operations():
        operation = result.ok()

        @given(case=operation.as_strategy())
        @settings(
            max_examples=EXAMPLES_PER_ROUTE,
            deadline=None,
            suppress_health_check=list(HealthCheck),
        )
        def fuzz(case: schemathesis.Case) -> None:
            count_case()
            try:
                response = case.call(timeout=30)
                statuses.append(response.status_code)
                case.validate_response(response, checks=[not_a_server_error])
                if response.status_code >= 400:
                    body = response.json()
                    assert set(body["error"]) == {"status", "code", "message"}, body
                    assert body["error"]["message"]
            except BaseException:
                save_http_regression(request_of(case))
                raise

        fuzz()
        checked.append(operation.label)
    assert len(checked) >= 10, checked
    print(f"{len(statuses)} requests to {len(checked)} routes: {sorted(set(statuses))}")
    assert len(statuses) >= 5 * len(checked)
    assert 200 in statuses and 422 in statuses


def request_of(case: schemathesis.Case) -> dict[str, object]:
    """A failing case as plain data that tests/test_fuzz_regressions.py can send again."""
    return {
        "method": case.method,
        "path": case.formatted_path,
        "query": case.query,
        "headers": {k: v for k, v in (case.headers or {}).items() if k.lower() != "authorization"},
        "media_type": case.media_type,
        "body": case.body if isinstance(case.body, dict | list | str | int | float) else None,
        "curl": case.as_curl_command(),
    }


def test_uploaded_fuzz_files_stay_in_the_upload_folder(tmp_path: Path) -> None:
    # The property the fuzzing above relies on, stated directly.
    from ragfusion.server.app import ApiError, safe_upload_name

    for raw in ["../../x.txt", "/etc/passwd.txt", "C:\\\\Windows\\\\x.md", "a\x00b.md", ".. .md"]:
        try:
            name = safe_upload_name(raw)
        except ApiError as exc:  # refusing a name is fine; escaping is not
            assert exc.status in (400, 415)
            continue
        assert "/" not in name and "\\" not in name and "\x00" not in name
        assert (tmp_path / name).resolve().parent == tmp_path.resolve()
