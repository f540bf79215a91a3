"""One writer per index directory, across processes: an advisory lock on a file.

The lock is ``flock``-based, so the kernel drops it when its holder dies (kill -9 included):
no stale lock is ever left behind. On systems without ``fcntl`` it is a no-op.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from ragfusion.errors import IndexStateError

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

_POLL_S = 0.05
LOCK_FILE = "write.lock"
WRITE_LOCK_TIMEOUT_S = 30.0  # how long a second writer waits before it gives up


class WriteLock:
    """An exclusive, non-reentrant-across-objects lock held between ``acquire`` and ``release``.

    Two objects on the same file exclude each other even inside one process.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd: int | None = None

    @property
    def held(self) -> bool:
        return self._fd is not None

    def acquire(self, timeout: float) -> bool:
        """Take the lock, waiting up to ``timeout`` seconds; False if another holder keeps it."""
        if self._fd is not None:
            return True
        if fcntl is None:  # pragma: no cover - Windows
            self._fd = -1
            return True
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        deadline = time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    os.close(fd)
                    return False
                time.sleep(_POLL_S)
                continue
            self._fd = fd
            return True

    def release(self) -> None:
        fd, self._fd = self._fd, None
        if fd is not None and fd >= 0:
            os.close(fd)  # closing the descriptor drops the flock


def acquire_for_writing(lock: WriteLock, index_dir: Path) -> None:
    """Take ``lock`` before a write transaction on ``index_dir``, waiting up to
    ``WRITE_LOCK_TIMEOUT_S``; a clear IndexStateError if another writer keeps it."""
    if lock.held:
        return
    try:
        acquired = lock.acquire(WRITE_LOCK_TIMEOUT_S)
    except OSError as exc:
        raise IndexStateError(f"The index at {index_dir} cannot be written ({exc})") from exc
    if not acquired:
        raise IndexStateError(
            f"Another process has been writing to the index at {index_dir} for over "
            f"{WRITE_LOCK_TIMEOUT_S:.0f}s (an ingest or sync?); try again when it has finished"
        )
