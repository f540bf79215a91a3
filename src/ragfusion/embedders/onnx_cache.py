"""Where exported ONNX models live: ``$RAGFUSION_CACHE/onnx/<key>/`` (default cache root
``~/.cache/ragfusion``), one folder per key.

The key hashes the model files' contents, the torch and onnx versions and the export recipe,
so a new model, a new exporter or a new recipe gets a fresh export and never a stale one.
Hashing 90 MB of weights costs ~0.13 s, so digests are remembered per (path, size, mtime).
Every file here is written to a temporary name and renamed: readers never see half a file.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.metadata
import json
import os
import tempfile
from pathlib import Path
from typing import Any

CACHE_ENV = "RAGFUSION_CACHE"
# Bump when the export recipe (wrapper, opset, graph optimisation) changes.
EXPORT_RECIPE = "bert-eager-opset17-ortfused-v1"
# Files that decide what an export produces; missing ones are skipped.
MODEL_FILES = (
    "config.json",
    "model.safetensors",
    "pytorch_model.bin",
    "tokenizer.json",
    "sentence_bert_config.json",
    "modules.json",
    "1_Pooling/config.json",
)
_DIGESTS_FILE = "file-digests.json"


def cache_root() -> Path:
    """The folder holding exported models (``$RAGFUSION_CACHE/onnx``)."""
    env = os.environ.get(CACHE_ENV)
    if env:
        base = Path(env).expanduser()
    else:
        xdg = os.environ.get("XDG_CACHE_HOME")
        base = (Path(xdg) if xdg else Path.home() / ".cache") / "ragfusion"
    return base / "onnx"


def package_version(name: str) -> str:
    """Installed version of a distribution without importing it ("none" if absent)."""
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return "none"


def write_atomic(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` via a temporary file in the same folder and a rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def read_json(path: Path) -> dict[str, Any] | None:
    """A JSON object from ``path``, or None if it is missing or unreadable."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def _file_digest(path: Path, memo: dict[str, Any]) -> tuple[str, bool]:
    """SHA-256 of a file, from ``memo`` when size and mtime are unchanged; (digest, computed)."""
    stat = path.stat()
    entry = memo.get(str(path))
    if (
        isinstance(entry, dict)
        and entry.get("size") == stat.st_size
        and entry.get("mtime_ns") == stat.st_mtime_ns
    ):
        return str(entry["sha256"]), False
    with path.open("rb") as handle:
        digest = hashlib.file_digest(handle, "sha256").hexdigest()
    memo[str(path)] = {"size": stat.st_size, "mtime_ns": stat.st_mtime_ns, "sha256": digest}
    return digest, True


def cache_key(model_path: Path, root: Path) -> str:
    """A short hex key for the model folder's contents, torch/onnx versions and the recipe."""
    memo_path = root / _DIGESTS_FILE
    memo = read_json(memo_path) or {}
    parts = [
        EXPORT_RECIPE,
        f"torch={package_version('torch')}",
        f"onnx={package_version('onnx')}",
    ]
    changed = False
    for name in MODEL_FILES:
        file = model_path / name
        if file.is_file():
            digest, computed = _file_digest(file.resolve(), memo)
            parts.append(f"{name}={digest}")
            changed = changed or computed
    if changed:
        with contextlib.suppress(OSError):  # the memo only saves time
            write_atomic(memo_path, json.dumps(memo, indent=1).encode())
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:20]
