"""The index directory explains itself: ``manifest.json`` records how it was built.

No secrets are ever written here; settings that only affect queries live in the config.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from ragfusion.errors import EmbedderMismatchError, IndexStateError
from ragfusion.ingest.chunking import ChunkingConfig

FORMAT_VERSION = 1
MANIFEST_FILE = "manifest.json"


@dataclass(frozen=True)
class Manifest:
    embedder: str
    dim: int
    chunking: ChunkingConfig
    store: str = "local"
    format_version: int = FORMAT_VERSION

    def to_json(self) -> dict[str, Any]:
        from ragfusion import __version__

        return {
            "format_version": self.format_version,
            "created_by": f"ragfusion {__version__}",
            "store": self.store,
            "embedder": {"name": self.embedder, "dim": self.dim},
            "chunking": asdict(self.chunking),
            **_engines(self.store),
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Manifest:
        return cls(
            embedder=str(data["embedder"]["name"]),
            dim=int(data["embedder"]["dim"]),
            chunking=ChunkingConfig(**data["chunking"]),
            store=str(data["store"]),
            format_version=int(data["format_version"]),
        )


def _engines(store: str) -> dict[str, Any]:
    """What the store's search indexes are, for a reader of the manifest."""
    if store == "local":
        return {
            "bm25": {"engine": "tantivy", "analyzer": "simple+lowercase+stopwords+snowball-en"},
            "vectors": {"engine": "usearch", "metric": "cos", "dtype": "f32"},
        }
    return {
        "bm25": {
            "engine": "milvus",
            "function": "BM25",
            "analyzer": "simple+lowercase+stopwords+snowball-en, then standard",
        },
        "vectors": {"engine": "milvus", "index": "HNSW", "metric": "COSINE", "dtype": "f32"},
    }


def read_manifest(index_dir: Path) -> Manifest | None:
    path = index_dir / MANIFEST_FILE
    if not path.exists():
        return None
    try:
        manifest = Manifest.from_json(json.loads(path.read_text(encoding="utf-8")))
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise IndexStateError(
            f"The manifest {path} is unreadable ({exc}); rebuild the index with: "
            f"ragfusion ingest --rebuild PATH... --index {index_dir}"
        ) from exc
    if manifest.format_version > FORMAT_VERSION:
        raise IndexStateError(
            f"The index at {index_dir} has format {manifest.format_version}, newer "
            f"than this ragfusion understands ({FORMAT_VERSION}); upgrade with: "
            "pip install -U ragfusion"
        )
    return manifest


def write_manifest(index_dir: Path, manifest: Manifest) -> None:
    path = index_dir / MANIFEST_FILE
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(manifest.to_json(), indent=2) + "\n", encoding="utf-8")
    os.replace(tmp, path)


def check_compatible(index_dir: Path, found: Manifest, embedder: str, dim: int) -> None:
    """Fail with a rebuild command if the index was built with another embedder."""
    if found.embedder != embedder or found.dim != dim:
        raise EmbedderMismatchError(
            f"Index at {index_dir} was built with embedder {found.embedder} ({found.dim} dims); "
            f"this run uses {embedder} ({dim} dims). Use the same embedder, or rebuild with: "
            f"ragfusion ingest --rebuild PATH... --index {index_dir}"
        )
