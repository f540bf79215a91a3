"""Indexing: load, chunk, embed and store documents, and make an index match its folders.

Unchanged documents write nothing; a changed one replaces only its own chunks and reuses
the stored vectors of chunk texts it already had; each run commits (or rolls back) as one.
"""

from __future__ import annotations

import dataclasses
import os
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from ragfusion.config import PipelineConfig
from ragfusion.embedders import Embedder
from ragfusion.embedders.base import Vectors
from ragfusion.errors import LoadError
from ragfusion.ingest.chunking import Chunker
from ragfusion.ingest.ids import content_hash, document_id
from ragfusion.ingest.loaders import Skipped, discover, load_document
from ragfusion.stores.base import Store
from ragfusion.types import Chunk, Document

__all__ = [
    "Indexer",
    "IngestProgress",
    "IngestReport",
    "TextRecord",
    "embedding_text",
]


def embedding_text(title: str, chunk: Chunk) -> str:
    """What the embedder sees for a chunk: title and heading path give it context."""
    parts = [title] if title and title not in chunk.text[:200] else []
    if chunk.heading and chunk.heading != title:
        parts.append(chunk.heading)
    parts.append(chunk.text)
    return "\n".join(parts)


@dataclass(frozen=True)
class IngestProgress:
    files_done: int
    files_total: int
    chunks_added: int
    current: str


@dataclass(frozen=True)
class IngestReport:
    files: int
    added: int
    updated: int
    unchanged: int
    chunks_added: int
    chunks_removed: int
    skipped: tuple[Skipped, ...]
    seconds: float
    timings_s: dict[str, float] = field(default_factory=dict)
    removed: int = 0  # documents removed because their file is gone (sync only)
    # New chunks whose text the document already had (an edit before them moved their
    # offsets, hence their ids): their stored vectors were reused, not embedded again.
    chunks_reused: int = 0

    @property
    def chunks_per_second(self) -> float:
        return self.chunks_added / self.seconds if self.seconds > 0 else 0.0


@dataclass(frozen=True)
class TextRecord:
    """A text to ingest that is not a file; ``id`` becomes the document's source."""

    id: str
    text: str
    title: str = ""

    def to_document(self) -> Document:
        if not self.text.strip():
            raise LoadError(self.id, "is empty; there is nothing to ingest")
        return Document(
            doc_id=document_id(self.id),
            source=self.id,
            file_type="txt",
            title=self.title.strip(),
            text=self.text,
            content_hash=content_hash((self.title + "\0" + self.text).encode()),
        )


@dataclass
class _PendingDoc:
    document: Document
    chunks: list[Chunk]
    new: list[Chunk]  # the chunks to embed
    is_update: bool
    reused: dict[str, Vectors] = field(default_factory=dict)  # chunk id -> stored vector


def _is_under(source: str, roots: Sequence[str]) -> bool:
    """Whether a document source is one of ``roots`` or lies in one of them (a folder)."""
    return any(source == r or source.startswith(r.rstrip(os.sep) + os.sep) for r in roots)


class Indexer:
    """Writes documents into one store: the ingest stage of a ``Pipeline``.

    ``chunker`` is called when a document needs chunking, so that the chunker (and its
    tokenizer) load only when something changed.
    """

    def __init__(
        self,
        store: Store,
        embedder: Embedder,
        config: PipelineConfig,
        chunker: Callable[[], Chunker],
    ) -> None:
        self.store = store
        self.embedder = embedder
        self.config = config
        self._chunker = chunker

    def ingest(
        self,
        paths: Sequence[str | Path],
        progress: Callable[[IngestProgress], None] | None = None,
    ) -> IngestReport:
        """Index the files found under ``paths``; see ``Pipeline.ingest``."""
        files, skipped = discover(paths)
        max_bytes = self.config.max_file_bytes
        loads = (lambda f=file: load_document(f, max_bytes) for file in files)
        return self.ingest_loads(loads, len(files), list(skipped), progress)

    def ingest_records(
        self,
        records: Sequence[TextRecord],
        progress: Callable[[IngestProgress], None] | None = None,
    ) -> IngestReport:
        """Index texts that are not files; see ``Pipeline.ingest_records``."""
        loads = (lambda r=record: r.to_document() for record in records)
        return self.ingest_loads(loads, len(records), [], progress)

    def sync(
        self,
        paths: Sequence[str | Path],
        progress: Callable[[IngestProgress], None] | None = None,
    ) -> IngestReport:
        """Make the index match ``paths``; see ``Pipeline.sync``."""
        started = time.perf_counter()
        files, skipped = discover(paths)
        roots = [str(Path(p).expanduser().resolve()) for p in paths]
        found = {str(file) for file in files}
        gone = [
            info.doc_id
            for info in self.store.list_documents()
            if info.source not in found and _is_under(info.source, roots)
        ]
        chunks_removed = 0
        try:  # staged with the ingest below: one commit (or rollback) covers both
            for doc_id in gone:
                chunks_removed += self.store.delete_document(doc_id)
        except BaseException:
            self.store.rollback()
            raise
        max_bytes = self.config.max_file_bytes
        loads = (lambda f=file: load_document(f, max_bytes) for file in files)
        report = self.ingest_loads(loads, len(files), list(skipped), progress)
        return dataclasses.replace(
            report,
            removed=len(gone),
            chunks_removed=report.chunks_removed + chunks_removed,
            seconds=time.perf_counter() - started,
        )

    def ingest_loads(
        self,
        loads: Iterable[Callable[[], Document]],
        total: int,
        skipped: list[Skipped],
        progress: Callable[[IngestProgress], None] | None,
    ) -> IngestReport:
        """Index the documents ``loads`` return (``total`` of them), embedding in batches
        of ``config.embed_batch`` new chunks; a load that fails is added to ``skipped``."""
        started = time.perf_counter()
        timings = {"load_chunk": 0.0, "embed": 0.0, "index": 0.0}
        counts = {"added": 0, "updated": 0, "unchanged": 0, "chunks_added": 0, "removed": 0}
        counts["reused"] = 0
        pending: list[_PendingDoc] = []
        pending_new = 0
        since_commit = 0

        def flush() -> None:
            nonlocal pending, pending_new, since_commit
            new_chunks = [(p.document.title, c) for p in pending for c in p.new]
            t = time.perf_counter()
            vectors = self.embedder.embed_documents(
                [embedding_text(title, c) for title, c in new_chunks]
            )
            timings["embed"] += time.perf_counter() - t
            by_id = {c.chunk_id: vectors[i] for i, (_, c) in enumerate(new_chunks)}
            for p in pending:
                by_id.update(p.reused)
            t = time.perf_counter()
            for p in pending:
                result = self.store.upsert(p.document, p.chunks, by_id)
                counts["chunks_added"] += result.added
                counts["removed"] += result.removed
                counts["updated" if p.is_update else "added"] += 1
                since_commit += result.added
            if since_commit >= self.config.commit_every_chunks:
                self.store.commit()
                since_commit = 0
            timings["index"] += time.perf_counter() - t
            pending, pending_new = [], 0

        try:
            for done, load in enumerate(loads, start=1):
                t = time.perf_counter()
                label = ""
                try:
                    document = load()
                    label = document.source
                    stored_hash = self.store.content_hash_of(document.doc_id)
                    if stored_hash == document.content_hash:
                        counts["unchanged"] += 1
                        continue
                    chunks = self._chunker().split(document)
                    if not chunks:
                        raise LoadError(document.source, "produced no text chunks")
                except LoadError as exc:
                    label = exc.path
                    skipped.append(Skipped(exc.path, exc.reason))
                    continue
                finally:
                    timings["load_chunk"] += time.perf_counter() - t
                    if progress:
                        progress(IngestProgress(done, total, counts["chunks_added"], label))
                existing = self.store.chunk_ids_of(document.doc_id)
                new = [c for c in chunks if c.chunk_id not in existing]
                reused = self._reusable_vectors(document, new) if existing and new else {}
                new = [c for c in new if c.chunk_id not in reused]
                counts["reused"] += len(reused)
                pending.append(_PendingDoc(document, chunks, new, stored_hash is not None, reused))
                pending_new += len(new)
                if pending_new >= self.config.embed_batch:
                    flush()
            if pending:
                flush()
            t = time.perf_counter()
            self.store.commit()
            timings["index"] += time.perf_counter() - t
        except BaseException:
            self.store.rollback()
            raise
        return IngestReport(
            files=total,
            added=counts["added"],
            updated=counts["updated"],
            unchanged=counts["unchanged"],
            chunks_added=counts["chunks_added"],
            chunks_removed=counts["removed"],
            skipped=tuple(skipped),
            seconds=time.perf_counter() - started,
            timings_s={k: round(v, 3) for k, v in timings.items()},
            chunks_reused=counts["reused"],
        )

    def _reusable_vectors(self, document: Document, new: list[Chunk]) -> dict[str, Vectors]:
        """Stored vectors for new chunks whose embedded text the stored version already has.

        The stored version is chunked again (the chunking settings are the index's) to map
        each old chunk's embedded text to its id; an old chunk the store no longer holds (a
        chunker upgrade split differently) is simply embedded again.
        """
        old = self.store.get_document(document.doc_id)
        if old is None:
            return {}
        by_text = {embedding_text(old.title, c): c.chunk_id for c in self._chunker().split(old)}
        wanted = {c.chunk_id: by_text.get(embedding_text(document.title, c)) for c in new}
        stored = self.store.vectors_of([old_id for old_id in wanted.values() if old_id])
        return {cid: stored[old_id] for cid, old_id in wanted.items() if old_id in stored}
