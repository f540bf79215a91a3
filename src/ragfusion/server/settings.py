"""Service settings: where the index is, who may call it, and how big a request may be."""

from __future__ import annotations

import ipaddress
import os
from dataclasses import dataclass
from pathlib import Path

from ragfusion.errors import ConfigError

API_KEYS_ENV = "RAGFUSION_API_KEYS"
MAX_JSON_BYTES = 1 << 20  # 1 MiB: a question, options and a chat history fit easily
MAX_UPLOAD_BYTES = 100 << 20  # per upload request, all files together
UPLOAD_DIR = "uploads"


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def keys_from_env() -> tuple[str, ...]:
    raw = os.environ.get(API_KEYS_ENV, "")
    return tuple(k.strip() for k in raw.split(",") if k.strip())


@dataclass(frozen=True)
class ServerSettings:
    index_dir: Path
    host: str = "127.0.0.1"
    port: int = 8000
    api_keys: tuple[str, ...] = ()
    max_json_bytes: int = MAX_JSON_BYTES
    max_upload_bytes: int = MAX_UPLOAD_BYTES
    warm_up: bool = True

    def __post_init__(self) -> None:
        if not self.api_keys and not is_loopback(self.host):
            raise ConfigError(
                f"Refusing to serve on {self.host} without API keys: anyone on the network "
                f"could read and change the index. Set {API_KEYS_ENV}=key1,key2 (or pass "
                "--api-key), or bind to 127.0.0.1"
            )
        if any(len(k) < 16 for k in self.api_keys):
            raise ConfigError("API keys must be at least 16 characters long")

    @property
    def upload_dir(self) -> Path:
        return self.index_dir / UPLOAD_DIR
