"""The OpenAI-compatible backends' logic against scripted servers (httpx.MockTransport):
retries and backoff, error messages, JSON response formats, SSE streaming, embeddings.
The same backends against a real llama.cpp server: tests/test_openai_backends.py."""

from __future__ import annotations

import json
import socket
import sys
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
from typer.testing import CliRunner

from ragfusion.config import config_for_index
from ragfusion.embedders import make_embedder
from ragfusion.embedders.openai_compat import OpenAICompatEmbedder
from ragfusion.errors import ConfigError, MissingDependencyError, ModelError
from ragfusion.http_retry import RetryPolicy, normalise_base_url, retry_after_seconds
from ragfusion.ingest.chunking import ChunkingConfig
from ragfusion.ingest.manifest import Manifest, write_manifest
from ragfusion.llm import make_llm
from ragfusion.llm.openai_compat import OpenAICompatLLM
from ragfusion.llm.sse import sse_data

BASE = "http://models.test/v1"
HELLO = [{"role": "user", "content": "hello"}]
Handler = Callable[[httpx.Request], httpx.Response]


class Script:
    """A fake server: answers each request with the next scripted handler (the last one
    repeats) and records the requests and the sleeps between retries."""

    def __init__(self, *handlers: Handler) -> None:
        self.handlers = list(handlers)
        self.requests: list[httpx.Request] = []
        self.sleeps: list[float] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if request.url.path.endswith("/models"):
            return httpx.Response(200, json={"data": [{"id": "served-a"}, {"id": "served-b"}]})
        handler = self.handlers.pop(0) if len(self.handlers) > 1 else self.handlers[0]
        return handler(request)

    @property
    def posts(self) -> list[dict[str, Any]]:
        return [json.loads(r.content) for r in self.requests if r.method == "POST"]

    def llm(self, **options: Any) -> OpenAICompatLLM:
        return OpenAICompatLLM(
            "m", BASE, transport=httpx.MockTransport(self), sleep=self.sleeps.append, **options
        )

    def embedder(self, **options: Any) -> OpenAICompatEmbedder:
        return OpenAICompatEmbedder(
            "e", BASE, transport=httpx.MockTransport(self), sleep=self.sleeps.append, **options
        )


def reply(text: str) -> Handler:
    return lambda request: httpx.Response(
        200, json={"choices": [{"message": {"role": "assistant", "content": text}}]}
    )


def status(code: int, message: str = "nope", headers: dict[str, str] | None = None) -> Handler:
    return lambda request: httpx.Response(
        code, json={"error": {"message": message}}, headers=headers
    )


def fail(exc_type: type[httpx.TransportError]) -> Handler:
    def handler(request: httpx.Request) -> httpx.Response:
        raise exc_type("scripted failure", request=request)

    return handler


def sse(*events: Any, done: bool = True, break_after: int | None = None) -> Handler:
    """A streamed reply: each event a JSON chunk (str: a content delta), sent in 7-byte
    pieces that split lines; ``break_after`` events, the connection resets."""

    def body() -> Iterator[bytes]:
        texts = [": keep-alive comment\n\n"]
        for event in events:
            chunk = event
            if isinstance(event, str):
                chunk = {"choices": [{"delta": {"content": event}, "finish_reason": None}]}
            texts.append(f"data: {json.dumps(chunk)}\n\n")
        if done:
            texts.append("data: [DONE]\n\n")
        for n, text in enumerate(texts[1:]):
            if n == break_after:
                raise httpx.ReadError("connection reset")
            data = (texts[0] + text if n == 0 else text).encode()
            for i in range(0, len(data), 7):
                yield data[i : i + 7]

    return lambda request: httpx.Response(
        200, content=body(), headers={"content-type": "text/event-stream"}
    )


def finish(reason: str = "stop") -> dict[str, Any]:
    return {"choices": [{"delta": {}, "finish_reason": reason}]}


# base URLs, specs and configuration --------------------------------------------------------------
@pytest.mark.parametrize(
    ("given", "used"),
    [
        ("http://127.0.0.1:8000", "http://127.0.0.1:8000/v1"),
        ("http://127.0.0.1:8000/", "http://127.0.0.1:8000/v1"),
        ("http://127.0.0.1:8000/v1/", "http://127.0.0.1:8000/v1"),
        ("https://gateway.example/openai/v2", "https://gateway.example/openai/v2"),
    ],
)
def test_base_url_gets_v1_only_without_a_path(given: str, used: str) -> None:
    assert normalise_base_url(given) == used


def test_base_url_without_scheme_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="not a base URL"):
        normalise_base_url("localhost:8000")


def test_openai_specs_need_a_base_url(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("RAGFUSION_LLM_BASE_URL", "RAGFUSION_EMBED_BASE_URL", "OPENAI_BASE_URL"):
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(ConfigError, match="--llm-base-url"):
        make_llm("openai:m")
    with pytest.raises(ConfigError, match="--embed-base-url"):
        make_embedder("openai:m")


def test_without_httpx_the_error_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "httpx", None)  # makes `import httpx` fail
    for name in ("ragfusion.http_retry", "ragfusion.llm.openai_compat"):
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.delitem(sys.modules, "ragfusion.embedders.openai_compat")
    with pytest.raises(MissingDependencyError, match=r"ragfusion\[openai\]"):
        make_llm("openai:m", base_url=BASE)
    with pytest.raises(MissingDependencyError, match=r"ragfusion\[openai\]"):
        make_embedder("openai:m", base_url=BASE)


def test_specs_read_base_urls_and_keys_from_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("RAGFUSION_LLM_BASE_URL", "http://llm.test:1")
    monkeypatch.setenv("RAGFUSION_EMBED_BASE_URL", "http://embed.test:2/v1")
    monkeypatch.setenv("OPENAI_API_KEY", "sk-fallback")
    monkeypatch.setenv("RAGFUSION_LLM_API_KEY", "sk-llm")
    llm = make_llm("openai:qwen")
    embedder = make_embedder("openai:bge")
    assert isinstance(llm, OpenAICompatLLM) and isinstance(embedder, OpenAICompatEmbedder)
    assert (llm.name, llm.api.base_url) == ("openai:qwen", "http://llm.test:1/v1")
    assert (embedder.name, embedder.api.base_url) == ("openai:bge", "http://embed.test:2/v1")
    assert llm.api.client.headers["authorization"] == "Bearer sk-llm"
    assert embedder.api.client.headers["authorization"] == "Bearer sk-fallback"
    assert make_llm("openai:q", base_url="http://other:3").api.base_url == "http://other:3/v1"


def test_an_index_built_by_a_served_embedder_keeps_it(tmp_path: Path) -> None:
    write_manifest(tmp_path, Manifest(embedder="openai:bge", dim=8, chunking=ChunkingConfig()))
    assert config_for_index(tmp_path).embedder == "openai:bge"
    assert config_for_index(tmp_path, embedder="minilm").embedder == "minilm"
    write_manifest(
        tmp_path, Manifest(embedder="all-MiniLM-L6-v2", dim=384, chunking=ChunkingConfig())
    )
    assert config_for_index(tmp_path).embedder == "minilm"


@pytest.mark.parametrize(
    ("command", "options"),
    [
        ("ingest", ["--embedder", "--embed-base-url"]),
        ("search", ["--llm", "--llm-base-url", "--embedder", "--embed-base-url"]),
        ("ask", ["--llm", "--llm-base-url", "--embedder", "--embed-base-url"]),
        ("chat", ["--llm", "--llm-base-url", "--embedder", "--embed-base-url"]),
        ("write", ["--llm", "--llm-base-url", "--embedder", "--embed-base-url"]),
        ("serve", ["--llm", "--llm-base-url", "--embedder", "--embed-base-url"]),
    ],
)
def test_cli_commands_offer_served_models(command: str, options: list[str]) -> None:
    from ragfusion.cli import app

    result = CliRunner().invoke(app, [command, "--help"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    for option in options:
        assert f"{option} " in result.output


def test_cli_rejects_two_llm_choices(tmp_path: Path) -> None:
    from ragfusion.cli import app

    result = CliRunner().invoke(
        app, ["ask", "q", "--index", str(tmp_path), "--llm", "openai:m", "--llm-model", "x.gguf"]
    )
    assert result.exit_code == 1
    assert "not both" in result.output


# retries and error messages ----------------------------------------------------------------------
def test_request_body_and_reply() -> None:
    server = Script(reply("hi there"))
    llm = server.llm(extra_body={"repeat_penalty": 1.15})
    assert llm.complete(HELLO, max_tokens=7, temperature=0.3, seed=5) == "hi there"
    assert server.requests[0].url == f"{BASE}/chat/completions"
    assert server.posts[0] == {
        "model": "m",
        "messages": HELLO,
        "max_tokens": 7,
        "temperature": 0.3,
        "seed": 5,
        "repeat_penalty": 1.15,
    }
    assert "authorization" not in server.requests[0].headers


def test_5xx_and_connection_errors_are_retried_with_growing_backoff() -> None:
    server = Script(status(503), fail(httpx.ConnectError), status(502), reply("ok"))
    assert server.llm().complete(HELLO) == "ok"
    assert len(server.posts) == 4
    policy = RetryPolicy()
    for attempt, slept in enumerate(server.sleeps):
        ceiling = policy.backoff * 2**attempt
        assert ceiling / 2 <= slept < ceiling  # exponential, with jitter
    assert server.sleeps[2] > server.sleeps[0]


def test_429_waits_as_long_as_retry_after_says() -> None:
    later = format_datetime(datetime.now(UTC) + timedelta(seconds=20), usegmt=True)
    server = Script(
        status(429, headers={"Retry-After": "2"}),
        status(429, headers={"Retry-After": later}),
        status(429, headers={"Retry-After": "3600"}),
        reply("ok"),
    )
    assert server.llm().complete(HELLO) == "ok"
    assert server.sleeps[0] == 2.0
    assert 17 < server.sleeps[1] <= 20
    assert server.sleeps[2] == RetryPolicy().max_retry_after
    assert retry_after_seconds("soon") is None


def test_retries_run_out_with_a_message_naming_the_url() -> None:
    server = Script(status(500, "kaboom"))
    with pytest.raises(ModelError, match=r"models\.test/v1/chat/completions.*HTTP 500.*kaboom"):
        server.llm(retries=2).complete(HELLO)
    assert len(server.posts) == 3


@pytest.mark.parametrize("code", [400, 403, 404, 409, 413, 422])
def test_client_errors_other_than_429_are_not_retried(code: int) -> None:
    server = Script(status(code, "bad request"), reply("never"))
    with pytest.raises(ModelError, match=f"HTTP {code}"):
        server.llm().complete(HELLO)
    assert len(server.posts) == 1 and server.sleeps == []


def test_401_points_at_the_key_variable() -> None:
    server = Script(status(401, "invalid api key"))
    with pytest.raises(ModelError, match="needs an API key: set RAGFUSION_LLM_API_KEY"):
        server.llm().complete(HELLO)
    with pytest.raises(ModelError, match="key was rejected: check RAGFUSION_LLM_API_KEY"):
        server.llm(api_key="sk-wrong").complete(HELLO)
    assert server.requests[-1].headers["authorization"] == "Bearer sk-wrong"


def test_404_lists_the_models_the_server_has() -> None:
    server = Script(status(404, "The model `gpt-9` does not exist"))
    with pytest.raises(ModelError, match="no model 'm'; it serves: served-a, served-b"):
        server.llm().complete(HELLO)


def test_read_timeout_is_not_retried() -> None:
    server = Script(fail(httpx.ReadTimeout))
    with pytest.raises(ModelError, match=r"no reply within 9\.0 s"):
        server.llm(timeout=9.0).complete(HELLO)
    assert len(server.posts) == 1


def test_a_reply_that_is_not_a_completion_is_a_model_error() -> None:
    server = Script(lambda request: httpx.Response(200, json={"result": "?"}))
    with pytest.raises(ModelError, match="not a chat completion"):
        server.llm().complete(HELLO)


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port  # nothing listens here once the socket is closed


def test_server_down_fails_fast_and_says_what_to_check() -> None:
    url = f"http://127.0.0.1:{closed_port()}/v1"
    started = time.monotonic()
    with pytest.raises(ModelError) as caught:
        OpenAICompatLLM("m", url).complete(HELLO)
    assert time.monotonic() - started < 3.0  # 4 attempts, about 1 s of backoff in all
    message = str(caught.value)
    assert f"Cannot reach {url}/chat/completions" in message
    assert "after 4 attempts" in message and "server is running" in message
    with pytest.raises(ModelError, match="Cannot reach"):
        OpenAICompatEmbedder("e", url, retries=0).embed_queries(["q"])


# JSON output -------------------------------------------------------------------------------------
SCHEMA = {"type": "object", "properties": {"a": {"type": "integer"}}, "required": ["a"]}


def test_json_object_form_first_then_json_schema_remembered() -> None:
    rejected = status(400, "response_format.schema: Extra inputs are not permitted")
    server = Script(rejected, reply('{"a": 1}'), reply('{"a": 2}'))
    llm = server.llm()
    assert llm.complete(HELLO, json_schema=SCHEMA) == '{"a": 1}'
    assert llm.complete(HELLO, json_schema=SCHEMA) == '{"a": 2}'
    formats = [body["response_format"] for body in server.posts]
    assert formats[0] == {"type": "json_object", "schema": SCHEMA}
    assert (
        formats[1]
        == formats[2]
        == {
            "type": "json_schema",
            "json_schema": {"name": "reply", "schema": SCHEMA, "strict": False},
        }
    )
    assert llm.json_mode == "json_schema"


def test_other_client_errors_do_not_switch_json_form() -> None:
    server = Script(status(400, "maximum context length exceeded"))
    with pytest.raises(ModelError, match="context length"):
        server.llm().complete(HELLO, json_schema=SCHEMA)
    assert len(server.posts) == 1


def test_a_fixed_json_mode_is_the_only_one_sent() -> None:
    server = Script(status(422, "response_format not supported"))
    with pytest.raises(ModelError, match="HTTP 422"):
        server.llm(json_mode="json_schema").complete(HELLO, json_schema=SCHEMA)
    assert [b["response_format"]["type"] for b in server.posts] == ["json_schema"]
    with pytest.raises(ConfigError):
        server.llm(json_mode="grammar")


# streaming ---------------------------------------------------------------------------------------
def test_sse_data_follows_the_event_stream_format() -> None:
    lines = [": comment", "event: x", "data: a", "data:b", "id: 3", "", "", "data: c\r", "data"]
    assert list(sse_data(lines)) == ["a\nb", "c\n"]


def test_stream_yields_the_pieces_in_order() -> None:
    role = {"choices": [{"delta": {"role": "assistant"}, "finish_reason": None}]}
    usage = {"choices": [], "usage": {"total_tokens": 3}}
    server = Script(sse(role, "Hel", "lo ", "wörld", finish(), usage))
    assert list(server.llm().stream(HELLO, max_tokens=9)) == ["Hel", "lo ", "wörld"]
    assert server.posts[0]["stream"] is True and server.posts[0]["max_tokens"] == 9


def test_stream_retries_before_the_first_piece() -> None:
    server = Script(status(503), fail(httpx.RemoteProtocolError), sse("ok", finish()))
    assert list(server.llm().stream(HELLO)) == ["ok"]
    assert len(server.posts) == 3


def test_a_stream_that_breaks_midway_is_a_model_error_without_retry() -> None:
    server = Script(sse("one ", "two ", "three", finish(), break_after=1), reply("never"))
    got: list[str] = []
    with pytest.raises(ModelError, match="broke after 1 pieces"):
        got.extend(server.llm().stream(HELLO))
    assert got == ["one "] and len(server.posts) == 1


def test_a_stream_cut_before_it_finishes_is_a_model_error() -> None:
    server = Script(sse("partial", done=False))
    with pytest.raises(ModelError, match="without finishing"):
        list(server.llm().stream(HELLO))


def test_an_error_event_in_the_stream_is_a_model_error() -> None:
    server = Script(sse("a", {"error": {"message": "out of memory"}}))
    with pytest.raises(ModelError, match="out of memory"):
        list(server.llm().stream(HELLO))


def test_a_refused_stream_reports_the_status() -> None:
    server = Script(status(401, "bad key"))
    with pytest.raises(ModelError, match="HTTP 401"):
        list(server.llm().stream(HELLO))


# embeddings --------------------------------------------------------------------------------------
def embeddings(dim: int = 3, per_token: bool = False, shuffle: bool = False) -> Handler:
    def handler(request: httpx.Request) -> httpx.Response:
        texts = json.loads(request.content)["input"]
        data = []
        for i, text in enumerate(texts):
            vector = [float(len(text)), 1.0] + [0.0] * (dim - 2)
            data.append({"index": i, "embedding": [vector, vector] if per_token else vector})
        return httpx.Response(200, json={"data": data[::-1] if shuffle else data})

    return handler


def test_embedder_learns_dim_once_and_batches() -> None:
    server = Script(embeddings(dim=4, shuffle=True))
    embedder = server.embedder(batch_size=2)
    assert embedder.name == "openai:e" and embedder.tokenizer_file is None
    vectors = embedder.embed_documents(["a", "bb", "ccc", "dddd", ""])
    assert embedder.dim == 4
    assert vectors.shape == (5, 4) and vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, rtol=1e-6)
    # rows follow the reply's "index", not its order: longer text, larger first component
    assert list(np.argsort(vectors[:4, 0])) == [0, 1, 2, 3]
    inputs = [body["input"] for body in server.posts]
    assert inputs == [["dimension probe"], ["a", "bb"], ["ccc", "dddd"], [" "]]
    assert all(body["model"] == "e" for body in server.posts)
    assert embedder.embed_queries([]).shape == (0, 4)


def test_embedder_with_a_given_dim_checks_replies_against_it() -> None:
    server = Script(embeddings(dim=3))
    embedder = server.embedder(dim=8)
    with pytest.raises(ModelError, match=r"returned 3-dim vectors.*expected 8"):
        embedder.embed_queries(["q"])
    assert len(server.posts) == 1  # no probe


def test_per_token_vectors_are_mean_pooled_one_text_per_request() -> None:
    server = Script(embeddings(dim=3, per_token=True))
    embedder = server.embedder(dim=3)
    vectors = embedder.embed_queries(["abc", "de"])
    np.testing.assert_allclose(vectors[0], np.array([3.0, 1.0, 0.0]) / np.sqrt(10), rtol=1e-6)
    np.testing.assert_allclose(vectors[1], np.array([2.0, 1.0, 0.0]) / np.sqrt(5), rtol=1e-6)
    embedder.embed_queries(["x", "y"])
    inputs = [body["input"] for body in server.posts]
    assert inputs == [["abc", "de"], ["abc"], ["de"], ["x"], ["y"]]


def test_a_malformed_embeddings_reply_is_a_model_error() -> None:
    server = Script(lambda request: httpx.Response(200, json={"data": [{"index": 0}]}))
    with pytest.raises(ModelError, match="unusable embeddings reply"):
        server.embedder(dim=3).embed_queries(["a", "b"])


def test_embedder_retries_like_the_llm() -> None:
    server = Script(status(503), status(429, headers={"Retry-After": "1"}), embeddings())
    assert server.embedder(dim=3).embed_queries(["q"]).shape == (1, 3)
    assert len(server.posts) == 3 and server.sleeps[1] == 1.0
