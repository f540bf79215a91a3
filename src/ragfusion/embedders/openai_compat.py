"""Embeddings from any OpenAI-compatible ``/embeddings`` endpoint (vLLM, Ollama, llama.cpp's
servers, OpenAI, text-embeddings-inference).

The base URL follows the LLM backend's rule (``ragfusion.llm.openai_compat``): the API root,
``/v1`` added to a URL without a path. The key comes from ``$RAGFUSION_EMBED_API_KEY`` or
``$OPENAI_API_KEY``. The name recorded in the index manifest is ``openai:MODEL``, so an index
built with one served model refuses queries embedded by another.

llama-cpp-python's server returns one vector per token for models without a pooling type
(chat models such as SmolLM2); those are mean-pooled here. Its per-token vectors are only right
for the first text of a request (0.3.36, ``Llama.embed``: the offset of later texts counts
tokens, not floats), so once a server answers per token, texts go one per request. Rows are
L2-normalised float32.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import httpx
import numpy as np
import numpy.typing as npt

from ragfusion.embedders.base import Vectors, normalise_rows
from ragfusion.errors import ConfigError, ModelError
from ragfusion.http_retry import ApiClient
from ragfusion.llm.openai_compat import first_env, resolve_base_url

BASE_URL_ENVS = ("RAGFUSION_EMBED_BASE_URL", "OPENAI_BASE_URL")
API_KEY_ENVS = ("RAGFUSION_EMBED_API_KEY", "OPENAI_API_KEY")
DEFAULT_BATCH = 64
_PROBE = "dimension probe"


class OpenAICompatEmbedder:
    """Texts to unit vectors over HTTP, ``batch_size`` texts per request.

    ``dim`` is asked of the server with one short request the first time it is needed,
    unless given; every reply is checked against it.
    """

    def __init__(
        self,
        model: str,
        base_url: str | None = None,
        *,
        dim: int | None = None,
        batch_size: int = DEFAULT_BATCH,
        api_key: str | None = None,
        timeout: float = 120.0,
        connect_timeout: float = 5.0,
        retries: int = 3,
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if not model:
            raise ConfigError("An OpenAI-compatible embedder needs a model name: openai:MODEL")
        if batch_size < 1 or (dim is not None and dim < 1):
            raise ConfigError("batch_size and dim must be at least 1")
        self.model = model
        self.batch_size = batch_size
        self.api = ApiClient(
            resolve_base_url(base_url, BASE_URL_ENVS, "--embed-base-url"),
            api_key=api_key or first_env(API_KEY_ENVS),
            key_env=" or ".join(API_KEY_ENVS),
            timeout=timeout,
            connect_timeout=connect_timeout,
            retries=retries,
            transport=transport,
            sleep=sleep,
        )
        self._dim = dim
        self._lock = threading.Lock()
        self._per_token = False  # the server answers per token: one text per request

    @property
    def name(self) -> str:
        return f"openai:{self.model}"

    @property
    def dim(self) -> int:
        if self._dim is None:
            with self._lock:
                if self._dim is None:
                    self._dim = int(self._request([_PROBE]).shape[1])
        return self._dim

    @property
    def tokenizer_file(self) -> Path | None:
        return None  # the chunker counts about 4 characters per token

    def warm_up(self) -> None:
        """Reach the server and learn the dimension now rather than on the first query."""
        _ = self.dim

    def embed_documents(self, texts: Sequence[str]) -> Vectors:
        return self._embed(texts)

    def embed_queries(self, texts: Sequence[str]) -> Vectors:
        return self._embed(texts)

    def _embed(self, texts: Sequence[str]) -> Vectors:
        dim = self.dim
        if not texts:
            return np.zeros((0, dim), dtype=np.float32)
        parts, start = [], 0
        while start < len(texts):
            batch = texts[start : start + (1 if self._per_token else self.batch_size)]
            vectors = self._request(batch)
            if self._per_token and len(batch) > 1:  # found out just now: ask again, one by one
                vectors = np.concatenate([self._request([text]) for text in batch])
            parts.append(vectors)
            start += len(batch)
        out = np.concatenate(parts)
        if out.shape[1] != dim:
            raise ModelError(
                f"{self.api.url('embeddings')} returned {out.shape[1]}-dim vectors for model "
                f"{self.model!r}, expected {dim}; did the server switch models?"
            )
        return out

    def _request(self, texts: Sequence[str]) -> Vectors:
        # Servers reject empty inputs; a blank text gets the vector of a single space.
        inputs = [t if t.strip() else " " for t in texts]
        response = self.api.post("embeddings", {"model": self.model, "input": inputs})
        self.api.check(response, self.model)
        try:
            data = response.json()["data"]
            order = sorted(range(len(data)), key=lambda i: int(data[i].get("index", i)))
            raw = [np.asarray(data[i]["embedding"], dtype=np.float32) for i in order]
            self._per_token = self._per_token or any(row.ndim == 2 for row in raw)
            rows = [_pooled(row) for row in raw]
            sizes = sorted({row.shape[0] for row in rows})
            if len(rows) != len(inputs) or len(sizes) != 1:
                raise ValueError(f"{len(rows)} vectors of sizes {sizes}")
            vectors = np.stack(rows)
        except (ValueError, KeyError, TypeError) as exc:
            raise ModelError(
                f"{response.request.url} sent an unusable embeddings reply for "
                f"{len(inputs)} texts ({exc}); is {self.model!r} an embedding model?"
            ) from exc
        return normalise_rows(vectors)

    def close(self) -> None:
        self.api.close()


def _pooled(array: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
    """One vector: as given, or the mean of per-token vectors."""
    if array.ndim == 2:
        array = array.mean(axis=0)
    if array.ndim != 1 or array.shape[0] == 0:
        raise ValueError(f"an embedding of shape {array.shape}")
    return array
