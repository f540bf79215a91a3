"""ragfusion: retrieval-augmented generation with fusion, offline by default.

Importing this package is cheap: models, torch and the index libraries load only when used.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

__all__ = [
    "Answer",
    "Chunk",
    "Citation",
    "Document",
    "Hit",
    "MetadataFilter",
    "Pipeline",
    "PipelineConfig",
    "Provenance",
    "RagfusionError",
    "RankedList",
    "__version__",
]

_LAZY = {
    "Pipeline": "ragfusion.pipeline",
    "PipelineConfig": "ragfusion.config",
    "MetadataFilter": "ragfusion.stores.base",
    "RagfusionError": "ragfusion.errors",
    "Answer": "ragfusion.types",
    "Chunk": "ragfusion.types",
    "Citation": "ragfusion.types",
    "Document": "ragfusion.types",
    "Hit": "ragfusion.types",
    "Provenance": "ragfusion.types",
    "RankedList": "ragfusion.types",
}

if TYPE_CHECKING:
    from ragfusion.config import PipelineConfig
    from ragfusion.errors import RagfusionError
    from ragfusion.pipeline import Pipeline
    from ragfusion.stores.base import MetadataFilter
    from ragfusion.types import Answer, Chunk, Citation, Document, Hit, Provenance, RankedList


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'ragfusion' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(module), name)
