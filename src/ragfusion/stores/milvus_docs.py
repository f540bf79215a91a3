"""The SQLite side catalog of a MilvusStore: documents and which chunk ids each one has.

Milvus holds the chunks (text, metadata, both vectors). Whole documents stay here because
their text can exceed Milvus' 64 KiB VARCHAR limit, and because the questions ingest asks on
every file ("is this content hash stored?", "which chunk ids does this document have?")
become local, transactional reads instead of server round trips. The catalog is small: no
chunk text, no vectors.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterable, Sequence
from pathlib import Path

from ragfusion.stores.base import DocumentInfo
from ragfusion.stores.sqlite_tx import SqliteTransactions
from ragfusion.types import Chunk, Document, Section

SCHEMA = """
CREATE TABLE IF NOT EXISTS documents (
    doc_id       TEXT PRIMARY KEY,
    source       TEXT NOT NULL UNIQUE,
    file_type    TEXT NOT NULL,
    title        TEXT NOT NULL,
    content_hash TEXT NOT NULL,
    text         TEXT NOT NULL,
    sections     TEXT NOT NULL,
    metadata     TEXT NOT NULL,
    ingested_at  REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS chunks (
    chunk_id TEXT PRIMARY KEY,
    doc_id   TEXT NOT NULL REFERENCES documents(doc_id) ON DELETE CASCADE,
    ordinal  INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS chunks_by_doc ON chunks(doc_id);
"""
_SQL_VARIABLE_BATCH = 900


class DocumentCatalog(SqliteTransactions):
    """Documents and their chunk ids; one connection, explicit transactions."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._db = sqlite3.connect(
            str(path), isolation_level=None, check_same_thread=False, timeout=30.0
        )
        self._db.execute("PRAGMA foreign_keys = ON")
        self._db.execute("PRAGMA journal_mode = WAL")
        self._db.execute("PRAGMA synchronous = NORMAL")
        self._db.executescript(SCHEMA)
        self._in_tx = False

    # documents -----------------------------------------------------------------------------
    def content_hash_of(self, doc_id: str) -> str | None:
        row = self._db.execute(
            "SELECT content_hash FROM documents WHERE doc_id = ?", (doc_id,)
        ).fetchone()
        return None if row is None else str(row[0])

    def header_of(self, doc_id: str) -> tuple[str, str] | None:
        """(title, file_type) of a stored document: what every chunk row repeats."""
        row = self._db.execute(
            "SELECT title, file_type FROM documents WHERE doc_id = ?", (doc_id,)
        ).fetchone()
        return None if row is None else (str(row[0]), str(row[1]))

    def put_document(self, document: Document, chunks: Sequence[Chunk]) -> None:
        """Store the document and make its chunk list exactly ``chunks``."""
        sections = json.dumps([[s.title, s.level, s.start] for s in document.sections])
        self._db.execute(
            "INSERT INTO documents (doc_id, source, file_type, title, content_hash, text, "
            "sections, metadata, ingested_at) VALUES (?,?,?,?,?,?,?,?,?) "
            "ON CONFLICT(doc_id) DO UPDATE SET source=excluded.source, "
            "file_type=excluded.file_type, title=excluded.title, "
            "content_hash=excluded.content_hash, text=excluded.text, "
            "sections=excluded.sections, metadata=excluded.metadata, "
            "ingested_at=excluded.ingested_at",
            (
                document.doc_id,
                document.source,
                document.file_type,
                document.title,
                document.content_hash,
                document.text,
                sections,
                json.dumps(document.metadata, default=str),
                time.time(),
            ),
        )
        self._db.execute("DELETE FROM chunks WHERE doc_id = ?", (document.doc_id,))
        self._db.executemany(
            "INSERT INTO chunks (chunk_id, doc_id, ordinal) VALUES (?,?,?)",
            [(c.chunk_id, document.doc_id, c.ordinal) for c in chunks],
        )

    def get_document(self, doc_id: str) -> Document | None:
        row = self._db.execute(
            "SELECT doc_id, source, file_type, title, text, content_hash, sections, metadata "
            "FROM documents WHERE doc_id = ?",
            (doc_id,),
        ).fetchone()
        if row is None:
            return None
        sections = tuple(Section(str(t), int(lv), int(st)) for t, lv, st in json.loads(row[6]))
        return Document(
            doc_id=row[0],
            source=row[1],
            file_type=row[2],
            title=row[3],
            text=row[4],
            content_hash=row[5],
            sections=sections,
            metadata=json.loads(row[7]),
        )

    def delete_documents(self, doc_ids: Iterable[str]) -> int:
        """Remove documents and their chunk rows; returns the number of chunks removed."""
        removed = 0
        for doc_id in doc_ids:
            cursor = self._db.execute("DELETE FROM chunks WHERE doc_id = ?", (doc_id,))
            removed += max(cursor.rowcount, 0)
            self._db.execute("DELETE FROM documents WHERE doc_id = ?", (doc_id,))
        return removed

    def list_documents(self) -> list[DocumentInfo]:
        rows = self._db.execute(
            "SELECT d.doc_id, d.source, d.file_type, d.title, d.content_hash, "
            "(SELECT COUNT(*) FROM chunks c WHERE c.doc_id = d.doc_id), d.ingested_at "
            "FROM documents d ORDER BY d.source"
        ).fetchall()
        return [DocumentInfo(*row) for row in rows]

    def titles(self, doc_ids: Iterable[str]) -> dict[str, str]:
        ids = list(dict.fromkeys(doc_ids))
        out: dict[str, str] = {}
        for i in range(0, len(ids), _SQL_VARIABLE_BATCH):
            part = ids[i : i + _SQL_VARIABLE_BATCH]
            marks = ",".join("?" * len(part))
            for doc_id, title in self._db.execute(
                f"SELECT doc_id, title FROM documents WHERE doc_id IN ({marks})", part
            ):
                out[str(doc_id)] = str(title)
        return out

    def count_documents(self) -> int:
        return int(self._db.execute("SELECT COUNT(*) FROM documents").fetchone()[0])

    # chunks --------------------------------------------------------------------------------
    def chunk_ordinals(self, doc_id: str) -> dict[str, int]:
        return {
            str(cid): int(ordinal)
            for cid, ordinal in self._db.execute(
                "SELECT chunk_id, ordinal FROM chunks WHERE doc_id = ?", (doc_id,)
            )
        }

    def count_chunks(self) -> int:
        return int(self._db.execute("SELECT COUNT(*) FROM chunks").fetchone()[0])

    def chunk_owners(self) -> dict[str, str]:
        """Every stored chunk id with its document id."""
        return {str(c): str(d) for c, d in self._db.execute("SELECT chunk_id, doc_id FROM chunks")}
