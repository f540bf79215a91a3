"""API errors: the JSON error body and the HTTP status each project error maps to."""

from __future__ import annotations

from typing import Any

from ragfusion.apps.conversations import UnknownConversationError
from ragfusion.errors import (
    ConfigError,
    IndexStateError,
    MissingDependencyError,
    ModelError,
    RagfusionError,
)


class ApiError(Exception):
    """An error answered as ``{"error": {"status", "code", "message"}}``."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


def error_body(status: int, code: str, message: str) -> dict[str, Any]:
    return {"error": {"status": status, "code": code, "message": message}}


def status_of(exc: RagfusionError) -> tuple[int, str]:
    if isinstance(exc, UnknownConversationError):
        return 404, "not_found"
    if isinstance(exc, ConfigError):
        return 400, "invalid_request"
    if isinstance(exc, ModelError | MissingDependencyError):
        return 503, "model_unavailable"
    if isinstance(exc, IndexStateError):
        return 409, "index_state"
    return 500, "internal_error"
