"""The one exception tree of ragfusion. Every message says what went wrong and how to fix it.

RagfusionError
├── ConfigError            bad option or configuration value
├── MissingDependencyError an optional extra is not installed (message has the pip command)
├── LoadError              one input file could not be read (ingest reports it and goes on)
├── IndexStateError        the index directory is missing, corrupt or incompatible
│   └── EmbedderMismatchError  index built with another embedder
├── StoreError             the vector database (Milvus) failed a request
│   └── StoreConnectionError   it cannot be reached or opened
└── ModelError             the embedding model or the LLM failed to load or run
"""

from __future__ import annotations


class RagfusionError(Exception):
    """Base class of every error ragfusion raises on purpose."""


class ConfigError(RagfusionError):
    """An option or configuration value is invalid."""


class MissingDependencyError(RagfusionError):
    """An optional dependency is missing; the message names the package to install."""

    def __init__(self, package: str, extra: str, purpose: str) -> None:
        super().__init__(
            f"{purpose} needs the package '{package}', which is not installed. "
            f"Install it with: pip install 'ragfusion[{extra}]'"
        )
        self.package = package
        self.extra = extra


class LoadError(RagfusionError):
    """A file could not be loaded. ``path`` and ``reason`` are shown to the user."""

    def __init__(self, path: str, reason: str) -> None:
        super().__init__(f"{path}: {reason}")
        self.path = path
        self.reason = reason


class IndexStateError(RagfusionError):
    """The index directory cannot be used as it is."""


class EmbedderMismatchError(IndexStateError):
    """The index was built with a different embedding model than the one configured."""


class StoreError(RagfusionError):
    """The vector database refused or failed a request; the message says which."""


class StoreConnectionError(StoreError):
    """The vector database cannot be reached (server down, wrong URI, file locked)."""


class ModelError(RagfusionError):
    """A model could not be loaded or failed while running."""
