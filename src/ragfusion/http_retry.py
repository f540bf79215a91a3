"""HTTP to model servers: retries with backoff, and errors that say what to check.

Shared by the OpenAI-compatible LLM and embedding backends. The policy:

- connection failures (refused, reset, closed before answering), 429 and 5xx are retried
  with exponential backoff and jitter, honouring ``Retry-After``;
- any other 4xx is returned at once: sending the same request again cannot fix it;
- a read timeout is not retried: the server is busy or the request is too big, and a second
  copy of a slow generation only adds load.

``send`` returns the last response (whatever its status); ``raise_for_status`` turns an
error status into a ``ModelError`` that names the URL and the likely cause.
"""

from __future__ import annotations

import email.utils
import random
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import httpx

from ragfusion.errors import ConfigError, ModelError

RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
_RETRY_ERRORS = (
    httpx.ConnectError,
    httpx.ConnectTimeout,
    httpx.RemoteProtocolError,
    httpx.ReadError,
)
_BODY_CHARS = 300


@dataclass(frozen=True)
class RetryPolicy:
    """``retries`` extra attempts; attempt n waits ``backoff * 2**n`` seconds (capped at
    ``max_backoff``) times a random factor in [0.5, 1), or what ``Retry-After`` asks, up to
    ``max_retry_after``."""

    retries: int = 3
    backoff: float = 0.25
    max_backoff: float = 8.0
    max_retry_after: float = 30.0

    def delay(self, attempt: int, retry_after: float | None = None) -> float:
        if retry_after is not None:
            return max(0.0, min(retry_after, self.max_retry_after))
        ceiling = min(self.max_backoff, self.backoff * 2.0**attempt)
        return ceiling * (0.5 + random.random() / 2)


def retry_after_seconds(value: str | None) -> float | None:
    """Seconds a ``Retry-After`` header asks for (delta-seconds or an HTTP date)."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def send(
    client: httpx.Client,
    method: str,
    url: str,
    *,
    json: Mapping[str, Any] | None = None,
    stream: bool = False,
    policy: RetryPolicy = RetryPolicy(),
    sleep: Callable[[float], None] = time.sleep,
) -> httpx.Response:
    """Send a request, retrying as the module docstring says. With ``stream`` the returned
    response is open (the caller reads and closes it); error responses are always read."""
    attempt = 0
    while True:
        request = client.build_request(method, url, json=json)
        try:
            response = client.send(request, stream=stream)
        except httpx.ReadTimeout as exc:
            raise ModelError(
                f"{url} sent no reply within {_read_timeout(client)} s; the server is busy or "
                "the request is too large: raise the timeout or lower max tokens"
            ) from exc
        except _RETRY_ERRORS as exc:
            if attempt >= policy.retries:
                raise ModelError(
                    f"Cannot reach {url} ({type(exc).__name__}: {exc}) after {attempt + 1} "
                    "attempts; check that the model server is running and the base URL is right"
                ) from exc
            sleep(policy.delay(attempt))
            attempt += 1
            continue
        except httpx.HTTPError as exc:
            raise ModelError(f"Request to {url} failed: {type(exc).__name__}: {exc}") from exc
        if response.status_code < 400:
            return response
        if stream:
            response.read()
            response.close()
        if response.status_code not in RETRY_STATUSES or attempt >= policy.retries:
            return response
        wait = retry_after_seconds(response.headers.get("retry-after"))
        sleep(policy.delay(attempt, wait))
        attempt += 1


def _read_timeout(client: httpx.Client) -> float | None:
    return client.timeout.read


def error_text(response: httpx.Response) -> str:
    """The server's own error message, shortened: OpenAI's ``{"error": {"message"}}``,
    FastAPI's ``{"detail"}``, or the raw body."""
    try:
        data = response.json()
    except ValueError:
        data = None
    text: Any = response.text
    if isinstance(data, dict):
        error = data.get("error")
        if isinstance(error, dict):
            text = error.get("message", error)
        elif error is not None:
            text = error
        elif "detail" in data:
            text = data["detail"]
    flat = " ".join(str(text).split())
    return flat[:_BODY_CHARS] + ("…" if len(flat) > _BODY_CHARS else "")


def raise_for_status(
    response: httpx.Response,
    *,
    model: str,
    key_env: str,
    list_models: Callable[[], list[str] | None] | None = None,
) -> None:
    """Raise a ``ModelError`` naming the URL and what to check, if ``response`` failed."""
    status = response.status_code
    if status < 400:
        return
    url = str(response.request.url)
    detail = error_text(response)
    if status in (401, 403):
        sent = "authorization" in response.request.headers
        hint = (
            f"the API key was rejected: check {key_env}"
            if sent
            else f"the server needs an API key: set {key_env}"
        )
        raise ModelError(f"{url} answered HTTP {status} ({detail}); {hint}")
    if status == 404:
        served = list_models() if list_models is not None else None
        if served:
            hint = f"it serves no model {model!r}; it serves: {', '.join(served[:20])}"
        else:
            hint = (
                f"check the base URL (most servers want it to end in /v1) and the model name "
                f"{model!r}"
            )
        raise ModelError(f"{url} answered HTTP 404 ({detail}); {hint}")
    if status == 429 or status >= 500:
        raise ModelError(
            f"{url} answered HTTP {status} ({detail}), also when retried; the server is "
            "overloaded or failing: check its logs, or retry later"
        )
    raise ModelError(f"{url} refused the request with HTTP {status}: {detail}")


def auth_headers(api_key: str | None) -> dict[str, str]:
    return {"Authorization": f"Bearer {api_key}"} if api_key else {}


def normalise_base_url(base_url: str) -> str:
    """The API root requests go under: ``http://host:port`` becomes ``http://host:port/v1``
    (where every OpenAI-compatible server mounts its API); any other path is kept as given."""
    base = base_url.strip().rstrip("/")
    parts = httpx.URL(base)
    if parts.scheme not in ("http", "https") or not parts.host:
        raise ConfigError(f"{base_url!r} is not a base URL; give one like http://127.0.0.1:8000/v1")
    return base if parts.path not in ("", "/") else base + "/v1"


class ApiClient:
    """One OpenAI-compatible server: base URL, API key, timeouts and retry policy.

    The underlying ``httpx.Client`` (a connection pool, thread-safe) is made on first use.
    ``transport`` and ``sleep`` exist for tests (``httpx.MockTransport``, no real waiting).
    """

    def __init__(
        self,
        base_url: str,
        *,
        api_key: str | None,
        key_env: str,
        timeout: float = 120.0,
        connect_timeout: float = 5.0,
        retries: int = 3,
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.base_url = normalise_base_url(base_url)
        self.key_env = key_env
        self.policy = RetryPolicy(retries=max(0, retries))
        self._api_key = api_key
        self._timeout = httpx.Timeout(timeout, connect=connect_timeout)
        self._transport = transport
        self._sleep = sleep
        self._client: httpx.Client | None = None

    @property
    def client(self) -> httpx.Client:
        if self._client is None:
            self._client = httpx.Client(
                timeout=self._timeout,
                headers=auth_headers(self._api_key),
                transport=self._transport,
            )
        return self._client

    def url(self, path: str) -> str:
        return f"{self.base_url}/{path.lstrip('/')}"

    def post(self, path: str, body: Mapping[str, Any], *, stream: bool = False) -> httpx.Response:
        """POST with retries; the response may carry an error status (see ``check``)."""
        return send(
            self.client,
            "POST",
            self.url(path),
            json=body,
            stream=stream,
            policy=self.policy,
            sleep=self._sleep,
        )

    def ping(self) -> None:
        """Connect (with retries) and ask for ``/models``; ModelError if unreachable."""
        send(self.client, "GET", self.url("models"), policy=self.policy, sleep=self._sleep)

    def models(self) -> list[str] | None:
        """The model ids ``GET /models`` lists, or None if that fails (best effort, once)."""
        try:
            response = self.client.get(self.url("models"), timeout=5.0)
            data = response.json()["data"]
            return [str(item["id"]) for item in data]
        except (httpx.HTTPError, ValueError, KeyError, TypeError):
            return None

    def check(self, response: httpx.Response, model: str) -> None:
        raise_for_status(response, model=model, key_env=self.key_env, list_models=self.models)

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None
