"""Which Store an index uses, from a short spec saved in the index manifest.

    spec                           store
    None, "local"                  LocalStore in the index directory (SQLite, tantivy, usearch)
    "milvus-lite"                  MilvusStore on the Milvus Lite file INDEX_DIR/milvus.db
    "PATH.db"                      MilvusStore on that Milvus Lite file (relative: in INDEX_DIR)
    "milvus://HOST:PORT[/NAME]"    MilvusStore on a Milvus server, collection NAME
    "http(s)://HOST:PORT[/NAME]"   the same, with the scheme pymilvus uses

The spec is written to the manifest, so it never holds a secret: a server's token (an API key
or "user:password") comes from the environment variable RAGFUSION_MILVUS_TOKEN.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from ragfusion.errors import ConfigError
from ragfusion.stores.base import Store
from ragfusion.stores.milvus_names import DEFAULT_COLLECTION as DEFAULT_COLLECTION

LOCAL = "local"
MILVUS_LITE = "milvus-lite"
LITE_FILE = "milvus.db"
TOKEN_ENV = "RAGFUSION_MILVUS_TOKEN"
_COLLECTION_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,254}")
_FORMS = "local, milvus-lite, PATH.db or milvus://HOST:PORT[/COLLECTION]"


@dataclass(frozen=True)
class StoreSpec:
    """A parsed spec: ``text`` is what the manifest records; ``uri`` what pymilvus opens."""

    kind: str
    text: str
    uri: str = ""
    collection: str = DEFAULT_COLLECTION

    @property
    def target(self) -> tuple[str, str, str]:
        """What identifies the data: two specs with equal targets open the same store."""
        return (self.kind, self.uri, self.collection)


def parse_store_spec(spec: str | None, index_dir: Path) -> StoreSpec:
    text = (spec or LOCAL).strip()
    if text == LOCAL:
        return StoreSpec(LOCAL, LOCAL)
    if text == MILVUS_LITE:
        return StoreSpec("milvus", text, str(index_dir / LITE_FILE))
    if text.endswith(".db") and "://" not in text:
        path = Path(text).expanduser()
        return StoreSpec("milvus", text, str(path if path.is_absolute() else index_dir / path))
    parts = urlsplit(text)
    if parts.scheme not in ("milvus", "http", "https") or not parts.hostname:
        raise ConfigError(f"Unknown store {text!r}; use {_FORMS}")
    if parts.username or parts.password:
        raise ConfigError(
            f"Put Milvus credentials in the environment variable {TOKEN_ENV}, not in the "
            "store spec (it is saved in the index manifest)"
        )
    collection = parts.path.strip("/") or DEFAULT_COLLECTION
    if not _COLLECTION_NAME.fullmatch(collection):
        raise ConfigError(
            f"{collection!r} is not a Milvus collection name: use letters, digits and _, "
            "starting with a letter or _"
        )
    scheme = "http" if parts.scheme == "milvus" else parts.scheme
    return StoreSpec("milvus", text.rstrip("/"), f"{scheme}://{parts.netloc}", collection)


def resolve_store(index_dir: Path, recorded: str, requested: str | None) -> StoreSpec:
    """The store an existing index recorded; asking for a different one is an error."""
    found = parse_store_spec(recorded, index_dir)
    if requested is not None and parse_store_spec(requested, index_dir).target != found.target:
        raise ConfigError(
            f"The index at {index_dir} uses the store {recorded!r}, not {requested!r}. Leave "
            f"out --store, or rebuild it with: ragfusion ingest --rebuild PATH... --index "
            f"{index_dir} --store {requested}"
        )
    return found


def open_store(spec: str | StoreSpec | None, index_dir: Path, dim: int) -> Store:
    """Open (creating if needed) the store an index uses."""
    parsed = spec if isinstance(spec, StoreSpec) else parse_store_spec(spec, index_dir)
    if parsed.kind == LOCAL:
        from ragfusion.stores.local import LocalStore

        return LocalStore(index_dir, dim)
    from ragfusion.stores.milvus import MilvusStore

    token = os.environ.get(TOKEN_ENV, "")
    return MilvusStore(parsed.uri, index_dir, dim, collection=parsed.collection, token=token)


def drop_store(spec: str | None, index_dir: Path) -> None:
    """Delete what a store keeps outside the index directory (before ``--rebuild``)."""
    parsed = parse_store_spec(spec, index_dir)
    if parsed.kind == LOCAL:
        return
    from ragfusion.stores.milvus_client import drop_collection

    drop_collection(parsed.uri, parsed.collection, os.environ.get(TOKEN_ENV, ""))
