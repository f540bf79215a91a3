"""Sentence embeddings on ONNX Runtime: the default backend of the bundled MiniLM.

Same vectors as sentence-transformers on torch (fast tokenizer with the model's max length,
mean pooling over the attention mask, L2 normalisation), about 4x faster per query, and a
cold start that needs neither torch nor sentence-transformers once the export is cached.

First use exports the model (``onnx_export``) into the cache (``onnx_cache``) and checks on a
fixed sample that its vectors match torch's (cosine > ``MIN_COSINE``); the torch vectors are
kept beside the file, and every later load re-checks the cached file against them, so a
corrupt or stale file is rebuilt instead of used. If ONNX Runtime is missing or the check
fails, the embedder warns and runs on torch (unless ``strict``).
"""

from __future__ import annotations

import json
import os
import threading
import time
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

from ragfusion.embedders.base import Embedder, Vectors, normalise_rows
from ragfusion.embedders.onnx_cache import (
    cache_key,
    cache_root,
    package_version,
    read_json,
    write_atomic,
)
from ragfusion.errors import MissingDependencyError, ModelError

MIN_COSINE = 0.999
DEFAULT_BATCH = 32  # measured: 16-64 are within noise on 2 cores; sorted batches pad little
MODEL_FILE = "model.onnx"
META_FILE = "meta.json"
# Checked before first use: short and long (truncated), accents, digits, odd spacing.
SAMPLE_TEXTS = (
    "How often should I replace the HEPA filter?",
    "  Warranty: 2 years from the date of purchase; register within 30 days.  ",
    "Élan vital, naïve café — résumé of ünïcödé text, 1,234.5 mg/kg.",
    "protein folding " * 200,
    "x",
)
# Loads re-check the cached file on the short samples only: ~10 ms instead of ~200.
QUICK_CHECK_CHARS = 200


class Exporter(Protocol):
    """Turns a model folder into an ONNX file, and embeds texts the reference way."""

    def export(self, model_path: Path, target: Path) -> bool:
        """Write the ONNX file; True if its graph is already fully optimised (fused)."""
        ...

    def reference(self, model_path: Path, texts: Sequence[str]) -> Vectors: ...


def min_cosine(a: Vectors, b: Vectors) -> float:
    """Smallest row-wise cosine of two sets of unit vectors (-1 if the shapes differ)."""
    if a.shape != b.shape:
        return -1.0
    return float(np.min(np.sum(a * b, axis=1)))


def mean_pool(hidden: npt.NDArray[np.float32], mask: npt.NDArray[np.int64]) -> Vectors:
    """Mean of the token vectors under the attention mask, as sentence-transformers pools."""
    weights = mask.astype(np.float32)
    summed = np.einsum("btd,bt->bd", hidden, weights)
    counts = np.clip(weights.sum(axis=1, keepdims=True), 1e-9, None)
    return np.asarray(summed / counts, dtype=np.float32)


def _settings(model_path: Path) -> tuple[int, bool]:
    """(max tokens, lower-case first) as sentence-transformers applies them."""
    config = json.loads((model_path / "config.json").read_text())
    limit = int(config.get("max_position_embeddings", 512))
    st_config = read_json(model_path / "sentence_bert_config.json") or {}
    tok_config = read_json(model_path / "tokenizer_config.json") or {}
    max_length = st_config.get("max_seq_length") or tok_config.get("model_max_length") or limit
    pooling = read_json(model_path / "1_Pooling" / "config.json") or {}
    modes = [k for k, v in pooling.items() if k.startswith("pooling_mode_") and v]
    if modes and modes != ["pooling_mode_mean_tokens"]:
        raise ModelError(
            f"{model_path} pools with {modes}; the ONNX backend does mean pooling only. "
            "Use the torch backend: RAGFUSION_EMBED_BACKEND=torch"
        )
    return min(int(max_length), limit), bool(st_config.get("do_lower_case", False))


class OnnxEncoder:
    """Fast tokenizer + ONNX Runtime session + mean pooling: texts in, unit vectors out."""

    def __init__(
        self,
        onnx_file: Path,
        model_path: Path,
        batch_size: int = DEFAULT_BATCH,
        *,
        fused: bool = False,
    ) -> None:
        try:
            import onnxruntime as ort
            from tokenizers import Tokenizer
        except ImportError as exc:
            raise MissingDependencyError("onnxruntime", "local", "ONNX embedding") from exc
        self.max_length, self._lower = _settings(model_path)
        self.batch_size = batch_size
        self._tokenizer = Tokenizer.from_file(str(model_path / "tokenizer.json"))
        self._tokenizer.no_padding()  # batches are padded here, after sorting by length
        self._tokenizer.enable_truncation(self.max_length)
        options = ort.SessionOptions()
        options.log_severity_level = 3  # errors only
        if fused:  # already optimised at export: basic passes load 0.14 s faster, run as fast
            options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_BASIC
        self._session: Any = ort.InferenceSession(
            str(onnx_file), options, providers=["CPUExecutionProvider"]
        )
        self._inputs = {i.name for i in self._session.get_inputs()}
        self._output = self._session.get_outputs()[0].name
        self.dim = int(self._session.get_outputs()[0].shape[-1])

    def embed(self, texts: Sequence[str]) -> Vectors:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        batch = [t.lower() for t in texts] if self._lower else list(texts)
        encodings = self._tokenizer.encode_batch(batch)
        lengths = np.array([len(e.ids) for e in encodings])
        order = np.argsort(-lengths, kind="stable")  # similar lengths share a batch
        out = np.empty((len(texts), self.dim), dtype=np.float32)
        for start in range(0, len(order), self.batch_size):
            rows = order[start : start + self.batch_size]
            width = int(lengths[rows].max())
            ids = np.zeros((len(rows), width), dtype=np.int64)
            mask = np.zeros_like(ids)
            types = np.zeros_like(ids)
            for r, i in enumerate(rows):
                e = encodings[i]
                ids[r, : len(e.ids)] = e.ids
                mask[r, : len(e.ids)] = e.attention_mask
                types[r, : len(e.ids)] = e.type_ids
            feed = {"input_ids": ids, "attention_mask": mask, "token_type_ids": types}
            hidden = self._session.run([self._output], {k: feed[k] for k in self._inputs})[0]
            out[rows] = mean_pool(hidden, mask)
        return normalise_rows(out)


def load_encoder(
    model_path: Path,
    *,
    root: Path | None = None,
    exporter: Exporter | None = None,
    batch_size: int = DEFAULT_BATCH,
) -> tuple[OnnxEncoder, dict[str, Any]]:
    """The verified ONNX encoder for a model folder: from the cache, else freshly exported.

    Returns the encoder and what happened (``source`` is ``cache`` or ``export``).
    Raises ModelError if a fresh export does not reproduce the reference vectors.
    """
    root = root or cache_root()
    key = cache_key(model_path, root)
    folder = root / key
    model_file, meta_file = folder / MODEL_FILE, folder / META_FILE
    started = time.perf_counter()
    meta = read_json(meta_file)
    problem = "no cached export"
    if meta is not None and model_file.is_file():
        try:
            encoder = OnnxEncoder(model_file, model_path, batch_size, fused=bool(meta["fused"]))
            quick = [i for i, t in enumerate(meta["sample"]) if len(t) <= QUICK_CHECK_CHARS]
            reference = np.asarray(meta["reference"], dtype=np.float32)[quick]
            cosine = min_cosine(encoder.embed([meta["sample"][i] for i in quick]), reference)
        except MissingDependencyError:
            raise
        except Exception as exc:  # unreadable file or meta: rebuild below
            problem = f"cached export unusable: {exc}"
        else:
            if cosine > MIN_COSINE:
                info = {"source": "cache", "path": str(model_file), "cosine_min": cosine}
                return encoder, info | {"seconds": round(time.perf_counter() - started, 3)}
            problem = f"cached export drifted (cosine {cosine:.6f})"
    exporter = exporter or _torch_exporter()
    folder.mkdir(parents=True, exist_ok=True)
    tmp = folder / f".{MODEL_FILE}.{time.time_ns()}.tmp"
    try:
        fused = exporter.export(model_path, tmp)
        encoder = OnnxEncoder(tmp, model_path, batch_size, fused=fused)
        reference = exporter.reference(model_path, SAMPLE_TEXTS)
        cosine = min_cosine(encoder.embed(SAMPLE_TEXTS), reference)
        if not cosine > MIN_COSINE:
            raise ModelError(
                f"The ONNX export of {model_path} does not reproduce the torch vectors "
                f"(cosine {cosine:.6f} <= {MIN_COSINE}); it was not used"
            )
        with tmp.open("rb") as handle:
            os.fsync(handle.fileno())
        os.replace(tmp, model_file)  # atomic: readers see the old file or the new one
    finally:
        tmp.unlink(missing_ok=True)
    meta = {
        "key": key,
        "model_path": str(model_path),
        "torch": package_version("torch"),
        "onnx": package_version("onnx"),
        "onnxruntime": package_version("onnxruntime"),
        "max_length": encoder.max_length,
        "fused": fused,
        "cosine_min": cosine,
        "rebuilt_because": problem,
        "sample": list(SAMPLE_TEXTS),
        "reference": reference.tolist(),
    }
    write_atomic(meta_file, (json.dumps(meta, indent=1) + "\n").encode())
    info = {"source": "export", "path": str(model_file), "cosine_min": cosine}
    return encoder, info | {"reason": problem, "seconds": round(time.perf_counter() - started, 3)}


def _torch_exporter() -> Exporter:
    from ragfusion.embedders.onnx_export import TorchExporter

    return TorchExporter()


class OnnxEmbedder:
    """A sentence-transformers model folder run on ONNX Runtime (default: bundled MiniLM).

    Its ``name`` is the model's, like the torch embedder's: both give the same vectors, so
    an index built with one is searched with the other. Without ``strict``, any failure to
    get a verified ONNX model warns and falls back to ``fallback`` (torch by default).
    """

    def __init__(
        self,
        model_path: Path | None = None,
        *,
        name: str | None = None,
        batch_size: int = DEFAULT_BATCH,
        cache_dir: Path | None = None,
        exporter: Exporter | None = None,
        strict: bool = False,
        fallback: Callable[[], Embedder] | None = None,
    ) -> None:
        from ragfusion.embedders.sentence_transformers import (
            BUNDLED_MINILM,
            _model_dim,
            bundled_minilm_path,
        )

        self._path = model_path if model_path is not None else bundled_minilm_path()
        self._name = name or (BUNDLED_MINILM if model_path is None else self._path.name)
        self._dim = _model_dim(self._path)
        self.batch_size = batch_size
        self._cache_dir = cache_dir
        self._exporter = exporter
        self._strict = strict
        self._fallback_factory = fallback
        self._encoder: OnnxEncoder | None = None
        self._fallback: Embedder | None = None
        self._lock = threading.Lock()
        self.load_info: dict[str, Any] = {}

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
    def backend(self) -> str:
        """``onnx``, ``torch`` (fallen back) or ``unloaded``."""
        if self._encoder is not None:
            return "onnx"
        return "torch" if self._fallback is not None else "unloaded"

    def warm_up(self) -> None:
        """Load (or export and verify) the model now instead of on the first embed call."""
        with self._lock:
            if self._encoder is not None or self._fallback is not None:
                return
            try:
                self._encoder, self.load_info = load_encoder(
                    self._path,
                    root=self._cache_dir,
                    exporter=self._exporter,
                    batch_size=self.batch_size,
                )
            except Exception as exc:
                if self._strict:
                    if isinstance(exc, ModelError | MissingDependencyError):
                        raise
                    raise ModelError(f"ONNX embedding of {self._path} failed: {exc}") from exc
                self._fallback = self._make_fallback()
                self.load_info = {"source": "fallback", "reason": str(exc)}
                warnings.warn(
                    f"ONNX Runtime embedding is unavailable ({exc}); using "
                    "sentence-transformers on torch instead (same vectors, slower queries). "
                    "Set RAGFUSION_EMBED_BACKEND=torch to choose torch without this warning.",
                    RuntimeWarning,
                    stacklevel=3,
                )

    def _make_fallback(self) -> Embedder:
        if self._fallback_factory is not None:
            return self._fallback_factory()
        from ragfusion.embedders.sentence_transformers import SentenceTransformerEmbedder

        return SentenceTransformerEmbedder(self._path, name=self._name)

    def _embed(self, texts: Sequence[str], documents: bool) -> Vectors:
        if not texts:
            return np.zeros((0, self._dim), dtype=np.float32)
        self.warm_up()
        if self._encoder is not None:
            return self._encoder.embed(texts)
        assert self._fallback is not None
        if documents:
            return self._fallback.embed_documents(texts)
        return self._fallback.embed_queries(texts)

    def embed_documents(self, texts: Sequence[str]) -> Vectors:
        return self._embed(texts, documents=True)

    def embed_queries(self, texts: Sequence[str]) -> Vectors:
        return self._embed(texts, documents=False)
