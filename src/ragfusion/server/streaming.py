"""Streaming answers: a blocking generator run on a worker thread, as Server-Sent Events."""

from __future__ import annotations

import asyncio
import contextlib
import json
import threading
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

from fastapi.responses import StreamingResponse

from ragfusion.errors import RagfusionError
from ragfusion.pipeline import AnswerEvent
from ragfusion.serialize import answer_json, hit_json
from ragfusion.server.errors import error_body, status_of


async def threaded_events(make: Callable[[], Iterator[Any]]) -> AsyncIterator[Any]:
    """Run a blocking generator start to finish on its own thread; yield its items here
    without holding a thread per waiting client. If the client goes away, the thread stops
    at the next item."""
    loop = asyncio.get_running_loop()
    items: asyncio.Queue[tuple[str, Any]] = asyncio.Queue()
    stop = threading.Event()

    def put(kind: str, value: Any) -> None:
        with contextlib.suppress(RuntimeError):  # the loop closed: nobody is listening
            loop.call_soon_threadsafe(items.put_nowait, (kind, value))

    def work() -> None:
        try:
            for item in make():
                put("item", item)
                if stop.is_set():
                    break
            put("end", None)
        except BaseException as exc:
            put("error", exc)

    threading.Thread(target=work, name="answer", daemon=True).start()
    try:
        while True:
            kind, value = await items.get()
            if kind == "end":
                return
            if kind == "error":
                raise value
            yield value
    finally:
        stop.set()


def sse(event: str, data: Any) -> str:
    return f"event: {event}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n"


def event_json(event: AnswerEvent) -> Any:
    if event.kind == "hits":
        return [hit_json(h, i) for i, h in enumerate(event.data, start=1)]
    if event.kind == "done":
        return answer_json(event.data)
    return event.data


async def sse_stream(make: Callable[[], Iterator[AnswerEvent]]) -> AsyncIterator[str]:
    try:
        async for event in threaded_events(make):
            if event.kind == "done":
                citations = answer_json(event.data)["citations"]
                yield sse("citations", citations)
            yield sse(event.kind, event_json(event))
    except RagfusionError as exc:
        status, code = status_of(exc)
        yield sse("error", error_body(status, code, str(exc))["error"])


def sse_response(stream: AsyncIterator[str]) -> StreamingResponse:
    return StreamingResponse(
        stream,
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )
