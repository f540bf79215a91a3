"""Language models behind one small contract; ``make_llm`` builds one from a spec.

Specs: ``smollm2`` (the bundled SmolLM2-135M-Instruct GGUF, the default, or the file named
by ``$RAGFUSION_GGUF``) or ``gguf:/path/to/model.gguf`` (any local chat GGUF).
"""

from __future__ import annotations

from pathlib import Path

from ragfusion.errors import ConfigError
from ragfusion.llm.base import LLM, Message

DEFAULT_LLM = "smollm2"


def make_llm(spec: str = DEFAULT_LLM) -> LLM:
    from ragfusion.llm.llama_cpp import LlamaCppLLM

    if spec in ("smollm2", "default"):
        return LlamaCppLLM()
    if spec.startswith("gguf:"):
        return LlamaCppLLM(Path(spec[5:]).expanduser())
    if spec.endswith(".gguf"):
        return LlamaCppLLM(Path(spec).expanduser())
    raise ConfigError(
        f"Unknown LLM '{spec}'. Use 'smollm2' (bundled) or a path to a chat "
        "GGUF file ('gguf:/path/model.gguf')."
    )


__all__ = ["DEFAULT_LLM", "LLM", "Message", "make_llm"]
