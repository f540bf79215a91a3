"""Conversation history for multi-turn chat, kept in SQLite next to the index.

Each turn stores what the user typed, the standalone question it was searched as, and the
answer with its citations, so a conversation can be resumed, shown or audited later.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ragfusion.errors import ConfigError

CONVERSATIONS_FILE = "conversations.sqlite3"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS conversations (
    id TEXT PRIMARY KEY,
    created_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS turns (
    conversation_id TEXT NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
    seq INTEGER NOT NULL,
    role TEXT NOT NULL CHECK (role IN ('user', 'assistant')),
    content TEXT NOT NULL,
    standalone TEXT,
    citations TEXT NOT NULL DEFAULT '[]',
    created_at REAL NOT NULL,
    PRIMARY KEY (conversation_id, seq)
);
"""


@dataclass(frozen=True)
class Turn:
    role: str
    content: str
    standalone: str | None
    citations: list[dict[str, Any]]
    created_at: float


class UnknownConversationError(ConfigError):
    """A conversation id that does not exist."""


class ConversationStore:
    """Thread-safe access to the conversations file (one connection, one lock)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._db = sqlite3.connect(
            str(path), isolation_level=None, check_same_thread=False, timeout=30.0
        )
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA foreign_keys=ON")
        self._db.executescript(_SCHEMA)

    def create(self) -> str:
        conversation_id = uuid.uuid4().hex
        with self._lock:
            self._db.execute(
                "INSERT INTO conversations (id, created_at) VALUES (?, ?)",
                (conversation_id, time.time()),
            )
        return conversation_id

    def exists(self, conversation_id: str) -> bool:
        with self._lock:
            row = self._db.execute(
                "SELECT 1 FROM conversations WHERE id = ?", (conversation_id,)
            ).fetchone()
        return row is not None

    def require(self, conversation_id: str) -> None:
        if not self.exists(conversation_id):
            raise UnknownConversationError(
                f"No conversation with id {conversation_id!r}; start a new one by leaving "
                "the id out"
            )

    def append(
        self,
        conversation_id: str,
        role: str,
        content: str,
        *,
        standalone: str | None = None,
        citations: list[dict[str, Any]] | None = None,
    ) -> None:
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                (seq,) = self._db.execute(
                    "SELECT COALESCE(MAX(seq), 0) + 1 FROM turns WHERE conversation_id = ?",
                    (conversation_id,),
                ).fetchone()
                self._db.execute(
                    "INSERT INTO turns VALUES (?, ?, ?, ?, ?, ?, ?)",
                    (
                        conversation_id,
                        seq,
                        role,
                        content,
                        standalone,
                        json.dumps(citations or [], ensure_ascii=False),
                        time.time(),
                    ),
                )
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise

    def turns(self, conversation_id: str, last: int | None = None) -> list[Turn]:
        """The conversation's turns in order (only the ``last`` ones if given)."""
        query = (
            "SELECT role, content, standalone, citations, created_at FROM turns "
            "WHERE conversation_id = ? ORDER BY seq DESC"
        )
        params: tuple[Any, ...] = (conversation_id,)
        if last is not None:
            query += " LIMIT ?"
            params += (last,)
        with self._lock:
            rows = self._db.execute(query, params).fetchall()
        return [Turn(r[0], r[1], r[2], json.loads(r[3]), r[4]) for r in reversed(rows)]

    def delete(self, conversation_id: str) -> bool:
        with self._lock:
            cursor = self._db.execute("DELETE FROM conversations WHERE id = ?", (conversation_id,))
        return cursor.rowcount > 0

    def close(self) -> None:
        with self._lock:
            self._db.close()
