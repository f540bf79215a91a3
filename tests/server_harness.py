"""Run the service on a real loopback port inside the test process (uvicorn in a thread)."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import uvicorn

from ragfusion.pipeline import Pipeline
from ragfusion.server.app import create_app
from ragfusion.server.settings import ServerSettings


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextmanager
def running_server(pipe: Pipeline, **settings: Any) -> Iterator[str]:
    """Serve ``pipe`` on 127.0.0.1 and yield the base URL; stop the server afterwards."""
    port = free_port()
    config = ServerSettings(pipe.index_dir, "127.0.0.1", port, warm_up=False, **settings)
    server = uvicorn.Server(
        uvicorn.Config(create_app(config, pipe), host="127.0.0.1", port=port, log_level="error")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the test server did not start")
        time.sleep(0.02)
    try:
        yield base
    finally:
        server.should_exit = True
        thread.join(timeout=30)


def sse_events(response: httpx.Response) -> list[tuple[str, str]]:
    """(event, data) pairs of a Server-Sent-Events body."""
    events = []
    for block in response.text.split("\n\n"):
        if not block.strip():
            continue
        name, data = "message", []
        for line in block.split("\n"):
            if line.startswith("event: "):
                name = line[7:]
            elif line.startswith("data: "):
                data.append(line[6:])
        events.append((name, "\n".join(data)))
    return events
