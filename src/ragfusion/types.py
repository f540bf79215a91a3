"""Immutable value types that flow through the pipeline.

Everything here is a frozen dataclass: stages return new objects instead of mutating the
ones they were given, so a hit can be shared between ranked lists without surprises.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Section:
    """A heading inside a document's text: its title, depth and where it starts."""

    title: str
    level: int
    start: int


@dataclass(frozen=True)
class Document:
    """A loaded source: its extracted text is what chunk offsets point into."""

    doc_id: str
    source: str
    file_type: str
    title: str
    text: str
    content_hash: str
    sections: tuple[Section, ...] = ()
    metadata: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Chunk:
    """A passage of a document. ``document.text[start:end] == text`` always holds."""

    chunk_id: str
    doc_id: str
    source: str
    file_type: str
    ordinal: int
    start: int
    end: int
    heading: str
    text: str


@dataclass(frozen=True)
class Provenance:
    """Where a fused hit came from: which query variant, which retriever, at which rank."""

    query: str
    retriever: str
    rank: int
    score: float


@dataclass(frozen=True)
class Hit:
    """A scored chunk in a ranked list; after fusion, ``provenance`` lists every source."""

    chunk: Chunk
    score: float
    provenance: tuple[Provenance, ...] = ()

    @property
    def chunk_id(self) -> str:
        return self.chunk.chunk_id

    @property
    def doc_id(self) -> str:
        return self.chunk.doc_id


@dataclass(frozen=True)
class RankedList:
    """One retriever's answer to one query variant, best first (ranks are 1-based)."""

    query: str
    retriever: str
    hits: tuple[Hit, ...]
    weight: float = 1.0


@dataclass(frozen=True)
class Citation:
    """A numbered reference in an answer, pointing at exact characters of a document."""

    n: int
    chunk_id: str
    doc_id: str
    source: str
    heading: str
    start: int
    end: int
    text: str


@dataclass(frozen=True)
class SentenceSupport:
    """How one sentence of an answer is supported: ``start``/``end`` index the answer text;
    ``source_start``/``source_end`` the exact characters of document ``doc_id`` behind it.

    ``status`` is ``quoted`` (the sentence is a verbatim span of its source), ``checked``
    (generated; every number, code and name it states is in the passage it cites),
    ``replaced`` (generated, stated something its passage does not, and was replaced by
    the quoted evidence) or ``unverified`` (generated, cites nothing that could be found)."""

    start: int
    end: int
    status: str
    citation: int | None = None
    doc_id: str | None = None
    source_start: int | None = None
    source_end: int | None = None
    note: str = ""


@dataclass(frozen=True)
class Answer:
    """A generated (or extractive) answer with validated citations."""

    question: str
    text: str
    citations: tuple[Citation, ...]
    queries: tuple[str, ...]
    hits: tuple[Hit, ...]
    mode: str
    degraded: bool = False
    warnings: tuple[str, ...] = ()
    timings_ms: dict[str, float] = field(default_factory=dict)
    evidence: float | None = None
    sentences: tuple[SentenceSupport, ...] = ()
