"""Explicit write transactions on a SQLite connection opened in autocommit mode."""

from __future__ import annotations

import sqlite3


class SqliteTransactions:
    """``begin`` / ``commit`` / ``rollback`` around ``self._db``; each is a no-op when there
    is nothing to do, so callers may repeat them. ``BEGIN IMMEDIATE`` takes SQLite's write
    lock at once, so a second writer waits at ``begin`` instead of failing at its first
    write."""

    _db: sqlite3.Connection
    _in_tx: bool = False

    @property
    def in_transaction(self) -> bool:
        return self._in_tx

    def begin(self) -> None:
        if not self._in_tx:
            self._db.execute("BEGIN IMMEDIATE")
            self._in_tx = True

    def commit(self) -> None:
        if self._in_tx:
            self._db.execute("COMMIT")
            self._in_tx = False

    def rollback(self) -> None:
        if self._in_tx:
            self._db.execute("ROLLBACK")
            self._in_tx = False

    def close(self) -> None:
        self.rollback()
        self._db.close()
