"""Shared fixtures. Fakes (a hashing embedder, a scripted LLM) serve the unit tests of
logic; tests marked ``models`` use the real bundled MiniLM and SmolLM2."""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from ragfusion.embedders.base import Vectors, normalise_rows
from ragfusion.llm.base import Message

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")

# Loads the hypothesis profile (reproducible "ci" unless `make fuzz` asks for "fuzz").
from tests import fuzz_support

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples" / "kb"


def kb_questions(*, answerable: bool = True) -> list[dict[str, Any]]:
    """examples/questions.jsonl: the answerable questions (the first 12 are the original
    set), or with ``answerable=False`` the ones the knowledge base does not answer."""
    path = ROOT / "examples" / "questions.jsonl"
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]
    return [q for q in rows if q.get("answerable", True) == answerable]


_WORD = re.compile(r"\w+")


class HashEmbedder:
    """Bag of hashed words: texts sharing words get similar vectors. Deterministic."""

    def __init__(self, dim: int = 64, name: str = "hash-test") -> None:
        self._dim = dim
        self._name = name
        self.calls: list[int] = []

    @property
    def name(self) -> str:
        return self._name

    @property
    def dim(self) -> int:
        return self._dim

    @property
    def tokenizer_file(self) -> Path | None:
        return None

    def _embed(self, texts: Sequence[str]) -> Vectors:
        self.calls.append(len(texts))
        out = np.zeros((len(texts), self._dim), dtype=np.float32)
        for row, text in enumerate(texts):
            for word in _WORD.findall(text.lower()):
                digest = hashlib.blake2b(word.encode(), digest_size=8).digest()
                out[row, int.from_bytes(digest[:4], "little") % self._dim] += 1.0
        out[:, 0] += 1e-3  # no all-zero rows
        return normalise_rows(out)

    def embed_documents(self, texts: Sequence[str]) -> Vectors:
        return self._embed(texts)

    def embed_queries(self, texts: Sequence[str]) -> Vectors:
        return self._embed(texts)


class ScriptedLLM:
    """Replies from a script, one per call (the last repeats); records every prompt."""

    def __init__(self, replies: Sequence[str], name: str = "scripted") -> None:
        self.replies = list(replies)
        self.prompts: list[list[Message]] = []
        self.schemas: list[Mapping[str, Any] | None] = []
        self._name = name

    @property
    def name(self) -> str:
        return self._name

    def _next(self) -> str:
        return self.replies.pop(0) if len(self.replies) > 1 else self.replies[0]

    def complete(
        self,
        messages: Sequence[Message],
        *,
        max_tokens: int = 256,
        temperature: float = 0.0,
        json_schema: Mapping[str, Any] | None = None,
        seed: int | None = None,
    ) -> str:
        self.prompts.append(list(messages))
        self.schemas.append(json_schema)
        return self._next()

    def stream(
        self,
        messages: Sequence[Message],
        *,
        max_tokens: int = 256,
        temperature: float = 0.0,
        seed: int | None = None,
    ) -> Iterator[str]:
        self.prompts.append(list(messages))
        reply = self._next()
        for i in range(0, len(reply), 3):  # small pieces split markers across chunks
            yield reply[i : i + 3]


def pytest_sessionfinish(session: pytest.Session) -> None:
    count_file = os.environ.get("RAGFUSION_FUZZ_COUNT_FILE")
    if count_file:
        fuzz_support.write_count(count_file)


@pytest.fixture
def hash_embedder() -> HashEmbedder:
    return HashEmbedder()


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    """A small writable corpus of Markdown and text files."""
    root = tmp_path / "corpus"
    (root / "guides").mkdir(parents=True)
    (root / "guides" / "filters.md").write_text(
        "# Filters\n\n## Replacing the filter\n\nReplace the HEPA filter every 6 months. "
        "Open the rear cover and pull the old filter out.\n\n## Resetting the light\n\n"
        "Hold the filter button for 3 seconds to reset the filter light.\n"
    )
    (root / "guides" / "wifi.md").write_text(
        "# Wi-Fi\n\nPress and hold the Wi-Fi button for 5 seconds to enter pairing mode. "
        "The router must use the 2.4 GHz band.\n"
    )
    (root / "warranty.txt").write_text(
        "Warranty\n\nThe purifier has a warranty of 2 years from the date of purchase. "
        "Register within 30 days to extend it to 3 years.\n"
    )
    return root
