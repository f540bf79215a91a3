"""Language models behind one small contract; ``make_llm`` builds one from a spec.

Specs: ``smollm2`` (the bundled SmolLM2-135M-Instruct GGUF, the default, or the file named
by ``$RAGFUSION_GGUF``), ``gguf:/path/to/model.gguf`` (any local chat GGUF) or
``openai:MODEL`` (a model on an OpenAI-compatible server; base URL from ``base_url``,
``$RAGFUSION_LLM_BASE_URL`` or ``$OPENAI_BASE_URL``; see ``llm.openai_compat``).
"""

from __future__ import annotations

from pathlib import Path

from ragfusion.errors import ConfigError, MissingDependencyError
from ragfusion.llm.base import LLM, Message

DEFAULT_LLM = "smollm2"


def make_llm(spec: str = DEFAULT_LLM, *, base_url: str | None = None) -> LLM:
    """Build the LLM a spec names; ``base_url`` is for ``openai:`` specs only."""
    if spec.startswith("openai:"):
        try:
            from ragfusion.llm.openai_compat import OpenAICompatLLM
        except ImportError as exc:
            raise MissingDependencyError("httpx", "openai", "An OpenAI-compatible LLM") from exc
        return OpenAICompatLLM(spec[7:], base_url)
    from ragfusion.llm.llama_cpp import LlamaCppLLM

    if spec in ("smollm2", "default"):
        return LlamaCppLLM()
    if spec.startswith("gguf:"):
        return LlamaCppLLM(Path(spec[5:]).expanduser())
    if spec.endswith(".gguf"):
        return LlamaCppLLM(Path(spec).expanduser())
    raise ConfigError(
        f"Unknown LLM '{spec}'. Use 'smollm2' (bundled), a path to a chat "
        "GGUF file ('gguf:/path/model.gguf') or 'openai:MODEL' (an OpenAI-compatible server)."
    )


__all__ = ["DEFAULT_LLM", "LLM", "Message", "make_llm"]
