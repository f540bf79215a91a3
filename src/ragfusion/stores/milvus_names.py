"""Names both the store factory and MilvusStore use, kept apart so neither imports the other."""

from __future__ import annotations

DEFAULT_COLLECTION = "ragfusion_chunks"
