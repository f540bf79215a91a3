"""Uploaded file names: made safe to write and checked against the loaders' types."""

from __future__ import annotations

import re

from ragfusion.ingest.loaders import SUPPORTED_SUFFIXES
from ragfusion.server.errors import ApiError

_SAFE_NAME = re.compile(r"[^\w.\- ()]+", re.UNICODE)
_MAX_NAME = 200


def safe_upload_name(raw: str | None) -> str:
    """A plain file name from a client-supplied one: no folders, no traversal, no control
    characters; the suffix must be one the loaders read."""
    name = re.split(r"[\\/]", raw or "")[-1]
    name = _SAFE_NAME.sub("_", name).strip(" .")
    if not name:
        raise ApiError(400, "invalid_file", "An uploaded file has no usable name")
    stem, dot, suffix = name.rpartition(".")
    if not dot or f".{suffix.lower()}" not in SUPPORTED_SUFFIXES:
        raise ApiError(
            415,
            "unsupported_type",
            f"{name!r} is not a supported type; upload " + ", ".join(SUPPORTED_SUFFIXES),
        )
    return (stem[: _MAX_NAME - len(suffix) - 1] + "." + suffix) if stem else name
