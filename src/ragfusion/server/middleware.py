"""ASGI middleware: the request body limit (413) and per-route request metrics."""

from __future__ import annotations

import json
import time

from starlette.middleware.body_limit import RequestBodyLimitResponder
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ragfusion.server.errors import error_body
from ragfusion.server.metrics import Metrics


class BodyLimit:
    """Rejects request bodies over the limit with 413, whether or not the client sent
    Content-Length (Starlette's limiter does the counting). Uploads have a larger limit."""

    def __init__(self, app: ASGIApp, json_limit: int, upload_limit: int) -> None:
        self.app, self.json_limit, self.upload_limit = app, json_limit, upload_limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        upload = scope["path"].rstrip("/") == "/v1/documents" and scope["method"] == "POST"
        limit = self.upload_limit if upload else self.json_limit
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > limit):
            await _too_large(send, limit)
            return
        await RequestBodyLimitResponder(self.app, limit)(scope, receive, send)


def _too_large_text(limit: int) -> str:
    return f"The request body is over the limit of {limit:,} bytes; send less or split it up"


async def _too_large(send: Send, limit: int) -> None:
    body = json.dumps(error_body(413, "too_large", _too_large_text(limit))).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 413,
            "headers": [(b"content-type", b"application/json"), (b"connection", b"close")],
        }
    )
    await send({"type": "http.response.body", "body": body})


class MeasureRequests:
    """Counts requests and times them to the end of the response, per route template."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app, self.metrics = app, metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def send_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_status)
        finally:
            path = getattr(scope.get("route"), "path", "unmatched")
            self.metrics.observe(scope["method"], path, status, time.perf_counter() - started)
