"""Connecting to Milvus: a server by URL, or a Milvus Lite file (``*.db``).

Milvus Lite runs one in-process server per ``.db`` path, shared by every client in the
process; the last client to disconnect from a path stops its server (flushing it to disk).
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

from ragfusion.errors import MissingDependencyError, StoreConnectionError, StoreError

TIMEOUT_S = 60.0
_lite_lock = threading.Lock()
_lite_users: dict[str, int] = {}


def pymilvus_module() -> Any:
    try:
        import pymilvus
    except ImportError as exc:
        raise MissingDependencyError("pymilvus", "milvus", "The Milvus store") from exc
    return pymilvus


def connect(uri: str, token: str = "") -> Any:
    """A MilvusClient for ``uri`` (a Lite ``.db`` path or a server URL); see ``disconnect``."""
    pm = pymilvus_module()
    lite = uri.endswith(".db")
    if lite:
        try:
            import milvus_lite  # noqa: F401
        except ImportError as exc:
            raise MissingDependencyError("milvus-lite", "milvus", "A Milvus Lite file") from exc
        Path(uri).parent.mkdir(parents=True, exist_ok=True)
        with _lite_lock:
            _lite_users[uri] = _lite_users.get(uri, 0) + 1
    try:
        return pm.MilvusClient(uri=uri, token=token, timeout=TIMEOUT_S)
    except pm.MilvusException as exc:
        if lite:
            _release_lite(uri)
            raise StoreConnectionError(
                f"Milvus Lite could not open {uri} ({exc.message}); is another process "
                "using it? Stop it, or choose another file with --store."
            ) from exc
        raise StoreConnectionError(
            f"Cannot connect to Milvus at {uri} ({exc.message}). Start the server, or give "
            "its address with --store milvus://HOST:PORT"
        ) from exc


def disconnect(client: Any, uri: str) -> None:
    client.close()
    if uri.endswith(".db"):
        _release_lite(uri)


def _release_lite(path: str) -> None:
    with _lite_lock:
        _lite_users[path] -= 1
        if _lite_users[path] > 0:
            return
        del _lite_users[path]
    from milvus_lite.server_manager import server_manager_instance

    server_manager_instance.release_server(path)


def drop_collection(uri: str, collection: str, token: str = "") -> None:
    """Delete a collection if it exists (``ingest --rebuild`` of a Milvus-backed index)."""
    pm = pymilvus_module()
    client = connect(uri, token)
    try:
        if client.has_collection(collection):
            client.drop_collection(collection)
    except pm.MilvusException as exc:
        raise StoreError(f"Could not drop {collection} at {uri}: {exc.message}") from exc
    finally:
        disconnect(client, uri)
