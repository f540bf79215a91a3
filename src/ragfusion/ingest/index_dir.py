"""Opening an index directory: its manifest (written for a new index, checked against the
embedder for an existing one) and the store it records."""

from __future__ import annotations

from pathlib import Path

from ragfusion.embedders import Embedder
from ragfusion.errors import IndexStateError, RagfusionError
from ragfusion.ingest.chunking import ChunkingConfig
from ragfusion.ingest.manifest import (
    MANIFEST_FILE,
    Manifest,
    check_compatible,
    read_manifest,
    write_manifest,
)
from ragfusion.stores.base import Store
from ragfusion.stores.factory import open_store, parse_store_spec, resolve_store

__all__ = ["open_index"]


def open_index(
    path: Path,
    embedder: Embedder,
    chunking: ChunkingConfig,
    *,
    create: bool = True,
    store: str | None = None,
) -> tuple[Store, Manifest]:
    """The store of the index at ``path`` and its manifest. With ``create``, a missing index
    is started (in a new or empty folder) with ``chunking`` and the ``store`` backend; an
    existing one keeps what its manifest records and must match ``embedder``."""
    manifest = read_manifest(path)
    created = manifest is None
    if manifest is None:
        if not create:
            raise IndexStateError(
                f"No index at {path}. Create one with: ragfusion ingest PATH... --index {path}"
            )
        if path.exists() and any(path.iterdir()):
            raise IndexStateError(
                f"{path} is not empty and holds no ragfusion index; choose a "
                "new or empty folder for --index"
            )
        path.mkdir(parents=True, exist_ok=True)
        spec = parse_store_spec(store, path).text
        manifest = Manifest(embedder=embedder.name, dim=embedder.dim, chunking=chunking, store=spec)
        write_manifest(path, manifest)
    check_compatible(path, manifest, embedder.name, embedder.dim)
    store_spec = resolve_store(path, manifest.store, store)
    try:
        opened = open_store(store_spec, path, manifest.dim)
    except RagfusionError:
        if created:  # not an index until its store opens: let a retry choose another
            (path / MANIFEST_FILE).unlink(missing_ok=True)
        raise
    return opened, manifest
