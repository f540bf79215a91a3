"""Chat models behind any OpenAI-compatible server: llama.cpp's servers, vLLM, Ollama, OpenAI.

The base URL is the API root the paths ``/chat/completions`` and ``/models`` hang off, as
in the OpenAI SDK: ``http://127.0.0.1:8000/v1``, ``http://localhost:11434/v1`` (Ollama),
``https://api.openai.com/v1``. A URL with no path gets ``/v1`` added; any other path is used
as given. The API key (sent as a bearer token, never written anywhere) comes from
``$RAGFUSION_LLM_API_KEY`` or ``$OPENAI_API_KEY``.

JSON output: llama.cpp's servers take ``{"type": "json_object", "schema": ...}``; OpenAI and
vLLM take ``{"type": "json_schema", "json_schema": {"name", "schema"}}``. ``json_mode="auto"``
sends the first and, if the server rejects it, the second, and remembers what worked.

A wrong model name: OpenAI, vLLM and Ollama answer 404 and the error lists the served
models; llama-cpp-python's server (``python -m llama_cpp.server``) ignores the name and
answers with the model it has loaded.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

import httpx

from ragfusion.errors import ConfigError, ModelError
from ragfusion.http_retry import ApiClient, error_text
from ragfusion.llm.base import Message
from ragfusion.llm.sse import DONE, sse_data

BASE_URL_ENVS = ("RAGFUSION_LLM_BASE_URL", "OPENAI_BASE_URL")
API_KEY_ENVS = ("RAGFUSION_LLM_API_KEY", "OPENAI_API_KEY")
JSON_MODES = ("auto", "json_object", "json_schema")
_SCHEMA_NAME = "reply"


def first_env(names: Sequence[str]) -> str | None:
    """The value of the first of ``names`` that is set and not blank."""
    for name in names:
        value = os.environ.get(name, "").strip()
        if value:
            return value
    return None


def resolve_base_url(base_url: str | None, envs: Sequence[str], option: str) -> str:
    """``base_url`` or the first environment variable set; a clear error if neither is."""
    found = base_url or first_env(envs)
    if not found:
        raise ConfigError(
            f"An OpenAI-compatible model needs the server's base URL: pass {option} URL or set "
            f"{' or '.join(envs)} (e.g. http://127.0.0.1:8000/v1, http://localhost:11434/v1 "
            "for Ollama, https://api.openai.com/v1)"
        )
    return found


class OpenAICompatLLM:
    """A chat model served over HTTP. Thread-safe: requests share one connection pool."""

    def __init__(
        self,
        model: str,
        base_url: str | None = None,
        *,
        api_key: str | None = None,
        timeout: float = 120.0,
        connect_timeout: float = 5.0,
        retries: int = 3,
        json_mode: str = "auto",
        extra_body: Mapping[str, Any] | None = None,
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if not model:
            raise ConfigError("An OpenAI-compatible LLM needs a model name: openai:MODEL")
        if json_mode not in JSON_MODES:
            raise ConfigError(f"json_mode={json_mode!r}; use one of {', '.join(JSON_MODES)}")
        self.model = model
        self.api = ApiClient(
            resolve_base_url(base_url, BASE_URL_ENVS, "--llm-base-url"),
            api_key=api_key or first_env(API_KEY_ENVS),
            key_env=" or ".join(API_KEY_ENVS),
            timeout=timeout,
            connect_timeout=connect_timeout,
            retries=retries,
            transport=transport,
            sleep=sleep,
        )
        self.json_mode = json_mode
        self.extra_body = dict(extra_body or {})

    @property
    def name(self) -> str:
        return f"openai:{self.model}"

    def warm_up(self) -> None:
        """Connect early; ModelError if the server cannot be reached."""
        self.api.ping()

    def _body(
        self, messages: Sequence[Message], max_tokens: int, temperature: float, seed: int | None
    ) -> dict[str, Any]:
        body: dict[str, Any] = {
            "model": self.model,
            "messages": [dict(m) for m in messages],
            "max_tokens": max_tokens,
            "temperature": temperature,
        }
        if seed is not None:
            body["seed"] = seed
        return {**body, **self.extra_body}

    def complete(
        self,
        messages: Sequence[Message],
        *,
        max_tokens: int = 256,
        temperature: float = 0.0,
        json_schema: Mapping[str, Any] | None = None,
        seed: int | None = None,
    ) -> str:
        body = self._body(messages, max_tokens, temperature, seed)
        if json_schema is not None:
            response = self._post_json(body, json_schema)
        else:
            response = self.api.post("chat/completions", body)
        self.api.check(response, self.model)
        try:
            content = response.json()["choices"][0]["message"].get("content")
        except (ValueError, KeyError, IndexError, TypeError, AttributeError) as exc:
            raise ModelError(
                f"{response.request.url} sent a reply that is not a chat completion: "
                f"{error_text(response)}"
            ) from exc
        return str(content or "")

    def _post_json(self, body: dict[str, Any], schema: Mapping[str, Any]) -> httpx.Response:
        """POST with a JSON response format, trying the other form if the server rejects one."""
        forms = ["json_object", "json_schema"] if self.json_mode == "auto" else [self.json_mode]
        response: httpx.Response | None = None
        for i, form in enumerate(forms):
            response = self.api.post(
                "chat/completions", {**body, "response_format": _response_format(form, schema)}
            )
            last = i == len(forms) - 1
            if last or not _rejects_response_format(response):
                if response.status_code < 400:
                    self.json_mode = form  # remember what this server takes
                return response
        assert response is not None
        return response

    def stream(
        self,
        messages: Sequence[Message],
        *,
        max_tokens: int = 256,
        temperature: float = 0.0,
        seed: int | None = None,
    ) -> Iterator[str]:
        body = {**self._body(messages, max_tokens, temperature, seed), "stream": True}
        response = self.api.post("chat/completions", body, stream=True)
        self.api.check(response, self.model)  # errors were read and retried before any text
        url = response.request.url
        pieces, finished = 0, False
        try:
            for data in sse_data(response.iter_lines()):
                if data.strip() == DONE:
                    finished = True
                    break
                piece, ended = _delta(data, url)
                finished = finished or ended
                if piece:
                    pieces += 1
                    yield piece
        except httpx.HTTPError as exc:
            raise ModelError(
                f"The reply stream from {url} broke after {pieces} pieces "
                f"({type(exc).__name__}: {exc}); check the server's logs"
            ) from exc
        finally:
            response.close()
        if not finished:
            raise ModelError(
                f"The reply stream from {url} ended after {pieces} pieces without finishing; "
                "the server stopped or a proxy cut the connection"
            )

    def close(self) -> None:
        self.api.close()


def _response_format(form: str, schema: Mapping[str, Any]) -> dict[str, Any]:
    if form == "json_object":
        return {"type": "json_object", "schema": dict(schema)}
    return {
        "type": "json_schema",
        "json_schema": {"name": _SCHEMA_NAME, "schema": dict(schema), "strict": False},
    }


def _rejects_response_format(response: httpx.Response) -> bool:
    """Did the server refuse the request because of its ``response_format``?"""
    if response.status_code not in (400, 422, 500):
        return False
    text = error_text(response).lower()
    return any(word in text for word in ("response_format", "json", "schema"))


def _delta(data: str, url: httpx.URL) -> tuple[str, bool]:
    """The text of one streamed chunk and whether it ends the reply."""
    try:
        chunk = json.loads(data)
    except ValueError as exc:
        raise ModelError(f"The reply stream from {url} sent a piece that is not JSON") from exc
    if not isinstance(chunk, dict):
        raise ModelError(f"The reply stream from {url} sent an unexpected piece: {data[:200]}")
    if "error" in chunk:
        error = chunk["error"]
        message = error.get("message", error) if isinstance(error, dict) else error
        raise ModelError(f"The server at {url} failed while streaming: {message}")
    choices = chunk.get("choices") or []
    if not choices:  # e.g. a final usage-only chunk
        return "", False
    choice = choices[0]
    delta = choice.get("delta") or {}
    return str(delta.get("content") or ""), choice.get("finish_reason") is not None
