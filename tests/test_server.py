"""The HTTP service on a real loopback port, with fake models (fast logic tests). The same
service with the real models, the web page in a browser and API fuzzing are in
tests/test_server_live.py."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from tests.conftest import HashEmbedder, ScriptedLLM
from tests.server_harness import running_server, sse_events

from ragfusion.config import PipelineConfig
from ragfusion.errors import ConfigError
from ragfusion.pipeline import Pipeline
from ragfusion.server.app import safe_upload_name
from ragfusion.server.settings import ServerSettings

ANSWER = "Replace the HEPA filter every 6 months [1]."
KEY = "test-key-0123456789abcdef"


def make_pipe(path: Path, corpus: Path, replies: list[str] | None = None) -> Pipeline:
    pipe = Pipeline.open(
        path,
        PipelineConfig(answer_mode="generative"),
        embedder=HashEmbedder(),
        llm=ScriptedLLM(replies or [ANSWER]),
    )
    pipe.ingest([corpus])
    return pipe


@pytest.fixture
def pipe(tmp_path: Path, corpus: Path) -> Iterator[Pipeline]:
    with make_pipe(tmp_path / "idx", corpus) as opened:
        yield opened


@pytest.fixture
def client(pipe: Pipeline) -> Iterator[httpx.Client]:
    with running_server(pipe) as base, httpx.Client(base_url=base, timeout=30) as http:
        yield http


def assert_error(response: httpx.Response, status: int, code: str) -> str:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error"}
    assert body["error"]["status"] == status and body["error"]["code"] == code
    message: str = body["error"]["message"]
    assert message
    return message


def test_health_and_openapi(client: httpx.Client) -> None:
    health = client.get("/healthz").json()
    assert health["status"] == "ok" and health["documents"] == 3 and health["chunks"] >= 3
    spec = client.get("/openapi.json").json()
    for path in ("/v1/search", "/v1/ask", "/v1/chat", "/v1/documents", "/v1/chat/completions"):
        assert path in spec["paths"]


def test_search_returns_fused_hits_with_provenance(client: httpx.Client) -> None:
    body = client.post(
        "/v1/search",
        json={"question": "how often to replace the HEPA filter", "k": 3, "queries": ["filter"]},
    ).json()
    assert body["hits"][0]["source"].endswith("filters.md")
    assert [q["kind"] for q in body["query_plan"]] == ["original", "user"]
    assert {(lst["retriever"], lst["query"]) for lst in body["lists"]} == {
        ("bm25", "how often to replace the HEPA filter"),
        ("dense", "how often to replace the HEPA filter"),
        ("bm25", "filter"),
        ("dense", "filter"),
    }
    assert all(p["retriever"] in ("bm25", "dense") for p in body["hits"][0]["provenance"])


def test_search_filters_by_file_type(client: httpx.Client) -> None:
    body = client.post(
        "/v1/search", json={"question": "warranty filter wifi", "file_types": ["txt"]}
    ).json()
    assert body["hits"] and all(h["file_type"] == "txt" for h in body["hits"])


def test_ask_json_and_stream(client: httpx.Client) -> None:
    answer = client.post("/v1/ask", json={"question": "How often to replace the filter?"}).json()
    assert answer["answer"] == ANSWER and answer["mode"] == "generative"
    assert answer["citations"][0]["source"].endswith("filters.md")
    streamed = client.post(
        "/v1/ask", json={"question": "How often to replace the filter?", "stream": True}
    )
    assert streamed.headers["content-type"].startswith("text/event-stream")
    events = sse_events(streamed)
    kinds = [name for name, _ in events]
    assert kinds[:2] == ["queries", "hits"] and kinds[-2:] == ["citations", "done"]
    tokens = "".join(json.loads(data) for name, data in events if name == "token")
    assert tokens == ANSWER
    assert json.loads(events[-1][1])["citations"] == json.loads(events[-2][1])


def test_extractive_ask_quotes_the_documents(client: httpx.Client) -> None:
    body = client.post("/v1/ask", json={"question": "warranty years", "extractive": True}).json()
    assert body["mode"] == "extractive"
    for citation in body["citations"]:
        assert citation["text"] in body["answer"]


def test_chat_rewrites_a_follow_up_with_the_history(client: httpx.Client) -> None:
    first = client.post("/v1/chat", json={"message": "How long is the warranty?"}).json()
    conversation = first["conversation"]
    assert conversation["how"] == "as-is"
    follow = client.post(
        "/v1/chat", json={"message": "and can I extend it?", "conversation_id": conversation["id"]}
    ).json()
    # The scripted model's reply is not JSON, so the history fallback is used.
    assert follow["conversation"]["how"] == "context"
    assert "warranty" in follow["conversation"]["standalone"]
    assert follow["queries"][0] == follow["conversation"]["standalone"]
    turns = client.get(f"/v1/conversations/{conversation['id']}").json()["turns"]
    assert [t["role"] for t in turns] == ["user", "assistant", "user", "assistant"]
    assert turns[2]["standalone"] == follow["conversation"]["standalone"]
    assert turns[3]["citations"]


def test_chat_unknown_conversation_is_404(client: httpx.Client) -> None:
    response = client.post("/v1/chat", json={"message": "hi there", "conversation_id": "0" * 32})
    assert "No conversation" in assert_error(response, 404, "not_found")
    assert_error(client.get("/v1/conversations/nope"), 404, "not_found")


def test_upload_ingests_in_the_background_and_reupload_updates(client: httpx.Client) -> None:
    files = [("files", ("zephyr.txt", b"The Zephyr warranty lasts seven years.", "text/plain"))]
    job = client.post("/v1/documents", files=files)
    assert job.status_code == 202, job.text
    status = wait_for_job(client, job.json()["id"])
    assert status["status"] == "done" and status["report"]["added"] == 1
    found = client.post("/v1/search", json={"question": "Zephyr warranty", "k": 1}).json()
    assert "seven years" in found["hits"][0]["text"]
    again = [("files", ("zephyr.txt", b"The Zephyr warranty lasts nine years.", "text/plain"))]
    status = wait_for_job(client, client.post("/v1/documents", files=again).json()["id"])
    assert status["report"]["updated"] == 1 and status["report"]["added"] == 0
    docs = client.get("/v1/documents").json()["documents"]
    assert sum(d["source"].endswith("zephyr.txt") for d in docs) == 1


def wait_for_job(client: httpx.Client, job_id: str) -> dict[str, object]:
    for _ in range(300):
        status: dict[str, object] = client.get(f"/v1/jobs/{job_id}").json()
        if status["status"] in ("done", "failed"):
            return status
        import time

        time.sleep(0.05)
    raise AssertionError("the ingest job did not finish")


def test_bad_uploads_are_reported_per_file(client: httpx.Client) -> None:
    files = [
        ("files", ("empty.txt", b"", "text/plain")),
        ("files", ("binary.txt", bytes(range(256)) * 8, "text/plain")),
        ("files", ("fine.md", b"# Fine\n\nA perfectly good note about descaling.", "text/md")),
    ]
    status = wait_for_job(client, client.post("/v1/documents", files=files).json()["id"])
    assert status["status"] == "done"
    report = status["report"]
    assert isinstance(report, dict)
    assert report["added"] == 1
    reasons = {Path(s["path"]).name: s["reason"] for s in report["skipped"]}
    assert set(reasons) == {"empty.txt", "binary.txt"}


def test_upload_names_cannot_escape_the_upload_folder(client: httpx.Client, pipe: Pipeline) -> None:
    files = [("files", ("../../../evil.txt", b"escape attempt text here", "text/plain"))]
    status = wait_for_job(client, client.post("/v1/documents", files=files).json()["id"])
    assert status["status"] == "done"
    assert (pipe.index_dir / "uploads" / "evil.txt").is_file()
    assert not (pipe.index_dir.parent / "evil.txt").exists()
    assert safe_upload_name("..\\..\\x.md") == "x.md"
    assert safe_upload_name("a/b/../c.PDF") == "c.PDF"


def test_unsupported_and_missing_uploads(client: httpx.Client) -> None:
    bad = [("files", ("tool.exe", b"MZ...", "application/octet-stream"))]
    assert ".pdf" in assert_error(client.post("/v1/documents", files=bad), 415, "unsupported_type")
    assert_error(client.post("/v1/documents"), 422, "invalid_request")


def test_delete_document(client: httpx.Client) -> None:
    docs = client.get("/v1/documents").json()["documents"]
    target = next(d for d in docs if d["source"].endswith("wifi.md"))
    removed = client.delete(f"/v1/documents/{target['doc_id']}").json()
    assert removed["chunks_removed"] >= 1
    assert_error(client.get(f"/v1/documents/{target['doc_id']}"), 404, "not_found")
    assert_error(client.delete(f"/v1/documents/{target['doc_id']}"), 404, "not_found")
    body = client.post("/v1/search", json={"question": "Wi-Fi pairing mode 2.4 GHz"}).json()
    assert all(not h["source"].endswith("wifi.md") for h in body["hits"])


def test_document_text_matches_citation_offsets(client: httpx.Client) -> None:
    answer = client.post("/v1/ask", json={"question": "replace the filter"}).json()
    citation = answer["citations"][0]
    doc = client.get(f"/v1/documents/{citation['doc_id']}").json()
    assert doc["text"][citation["start"] : citation["end"]] == citation["text"]


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("/v1/search", {"question": ""}, "question"),
        ("/v1/search", {"question": "x", "k": 0}, "k"),
        ("/v1/search", {"question": "x", "retrievers": ["magic"]}, "retrievers"),
        ("/v1/search", {"question": "x", "surprise": 1}, "surprise"),
        ("/v1/ask", {"question": "x", "k": 500}, "k"),
        ("/v1/chat", {"message": "x", "conversation_id": "../../etc"}, "conversation_id"),
        ("/v1/chat/completions", {"messages": []}, "messages"),
    ],
)
def test_malformed_requests_get_clear_422s(
    client: httpx.Client, path: str, body: dict[str, object], field: str
) -> None:
    assert field in assert_error(client.post(path, json=body), 422, "invalid_request")


def test_broken_json_and_unknown_routes(client: httpx.Client) -> None:
    broken = client.post(
        "/v1/search", content=b"{nope", headers={"content-type": "application/json"}
    )
    assert_error(broken, 422, "invalid_request")
    assert_error(client.get("/v1/nothing-here"), 404, "not_found")
    assert_error(client.get("/v1/search"), 405, "method_not_allowed")


def test_request_size_limits(pipe: Pipeline) -> None:
    with (
        running_server(pipe, max_json_bytes=2000, max_upload_bytes=5000) as base,
        httpx.Client(base_url=base, timeout=30) as http,
    ):
        big = http.post("/v1/search", json={"question": "x" * 3000})
        assert "limit" in assert_error(big, 413, "too_large")

        def chunks() -> Iterator[bytes]:  # no Content-Length: counted while reading
            yield b'{"question": "'
            for _ in range(10):
                yield b"y" * 500
            yield b'"}'

        streamed = http.post(
            "/v1/search", content=chunks(), headers={"content-type": "application/json"}
        )
        assert_error(streamed, 413, "too_large")
        upload = http.post("/v1/documents", files=[("files", ("a.txt", b"z" * 8000, "text/plain"))])
        assert_error(upload, 413, "too_large")
        assert http.get("/healthz").status_code == 200


def test_api_keys(pipe: Pipeline) -> None:
    with (
        running_server(pipe, api_keys=(KEY,)) as base,
        httpx.Client(base_url=base, timeout=30) as http,
    ):
        denied = http.post("/v1/search", json={"question": "filter"})
        assert "Authorization: Bearer" in assert_error(denied, 401, "unauthorized")
        wrong = {"Authorization": "Bearer wrong-key-0123456789"}
        assert_error(http.get("/v1/documents", headers=wrong), 401, "unauthorized")
        assert_error(http.get("/metrics"), 401, "unauthorized")
        ok = {"Authorization": f"Bearer {KEY}"}
        assert http.post("/v1/search", json={"question": "filter"}, headers=ok).status_code == 200
        assert http.get("/healthz").status_code == 200  # liveness stays open
        assert http.get("/").status_code == 200  # the page asks for the key itself


def test_keys_are_required_off_loopback(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="without API keys"):
        ServerSettings(tmp_path, host="0.0.0.0")
    with pytest.raises(ConfigError, match="16 characters"):
        ServerSettings(tmp_path, host="0.0.0.0", api_keys=("short",))
    assert ServerSettings(tmp_path, host="0.0.0.0", api_keys=(KEY,)).api_keys == (KEY,)
    assert ServerSettings(tmp_path, host="::1").host == "::1"


def test_openai_chat_completions(client: httpx.Client) -> None:
    body = {
        "model": "ragfusion",
        "messages": [
            {"role": "system", "content": "Be nice."},
            {"role": "user", "content": "How often should the filter be replaced?"},
        ],
    }
    reply = client.post("/v1/chat/completions", json=body).json()
    assert reply["object"] == "chat.completion"
    assert reply["choices"][0]["message"] == {"role": "assistant", "content": ANSWER}
    assert reply["choices"][0]["finish_reason"] == "stop"
    assert reply["citations"][0]["source"].endswith("filters.md")
    streamed = client.post("/v1/chat/completions", json={**body, "stream": True})
    lines = [ln[6:] for ln in streamed.text.split("\n\n") if ln.startswith("data: ")]
    assert lines[-1] == "[DONE]"
    chunks = [json.loads(line) for line in lines[:-1]]
    assert chunks[0]["choices"][0]["delta"] == {"role": "assistant"}
    text = "".join(c["choices"][0]["delta"].get("content", "") for c in chunks)
    assert text == ANSWER
    assert chunks[-1]["choices"][0]["finish_reason"] == "stop" and chunks[-1]["citations"]
    assert client.get("/v1/models").json()["data"][0]["id"] == "ragfusion"


def test_openai_last_message_must_be_the_users(client: httpx.Client) -> None:
    body = {"messages": [{"role": "assistant", "content": "Hello!"}]}
    message = assert_error(client.post("/v1/chat/completions", json=body), 400, "invalid_request")
    assert "last message" in message


def test_metrics_count_requests_by_route(client: httpx.Client) -> None:
    client.post("/v1/search", json={"question": "filter"})
    client.post("/v1/search", json={"question": ""})
    text = client.get("/metrics").text
    assert 'ragfusion_requests_total{method="POST",route="/v1/search",status="200"} 1.0' in text
    assert 'ragfusion_requests_total{method="POST",route="/v1/search",status="422"} 1.0' in text
    assert "ragfusion_request_duration_seconds_bucket" in text


def test_the_page_and_its_assets_are_served(client: httpx.Client) -> None:
    page = client.get("/")
    assert page.status_code == 200 and "<title>ragfusion</title>" in page.text
    for asset in ("/static/app.js", "/static/app.css"):
        assert client.get(asset).status_code == 200
    assert "http" not in page.text.replace("http-equiv", "")  # nothing from another host
    assert_error(client.get("/static/../../pyproject.toml"), 404, "not_found")
