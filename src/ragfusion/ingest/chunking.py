"""Token-aware, structure-aware chunking with overlap (semantic-text-splitter).

Markdown-like text (Markdown, and HTML/DOCX, which loaders render as Markdown) is split at
headings, then paragraphs, then sentences; plain text and PDF at paragraphs, then sentences.
Sizes are counted in tokens of the embedding model's own tokenizer, so no chunk is silently
truncated by the embedder.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from itertools import chain
from pathlib import Path
from typing import Protocol

from ragfusion.errors import MissingDependencyError
from ragfusion.ingest.ids import chunk_id
from ragfusion.types import Chunk, Document, Section

_MARKDOWN_TYPES = frozenset({"md", "html", "docx"})
# An ATX heading line: up to 3 spaces, 1-6 '#', then white space or the end of the line.
_HEADING_LINE = re.compile(r" {0,3}#{1,6}(?:[ \t]|$)")
_BLANK_LINE = re.compile(r"\n[ \t]*\n")
# The splitter's time grows with the square of the length of a run of text without a blank
# line (a 1.6 MB line: 34 s; 20 MB: hours), so longer runs are cut into windows of about
# this many chunks first (then 20 MB of one line takes seconds without a tokenizer).
_WINDOW_CHUNKS = 20
_MIN_WINDOW_CHARS = 16_384


@dataclass(frozen=True)
class ChunkingConfig:
    """Chunk capacity and overlap in tokens; recorded in the index manifest."""

    max_tokens: int = 200
    overlap_tokens: int = 32

    def __post_init__(self) -> None:
        if self.max_tokens < 16:
            raise ValueError(f"max_tokens must be at least 16, got {self.max_tokens}")
        if not 0 <= self.overlap_tokens < self.max_tokens:
            raise ValueError("overlap_tokens must be >= 0 and smaller than max_tokens")


class _Splitter(Protocol):
    def chunk_indices(self, text: str) -> list[tuple[int, str]]: ...


class Chunker:
    """Splits Documents into Chunks whose text is exactly ``document.text[start:end]``."""

    def __init__(self, config: ChunkingConfig, tokenizer_file: Path | None = None) -> None:
        try:
            import semantic_text_splitter as sts
        except ImportError as exc:  # pragma: no cover - core dependency
            raise MissingDependencyError("semantic-text-splitter", "local", "Chunking") from exc
        self.config = config
        self._window = max(_MIN_WINDOW_CHARS, _WINDOW_CHUNKS * 4 * config.max_tokens)
        capacity = config.max_tokens
        overlap = config.overlap_tokens
        if tokenizer_file is not None:
            from tokenizers import Tokenizer

            tokenizer = Tokenizer.from_file(str(tokenizer_file))
            tokenizer.no_truncation()
            tokenizer.no_padding()
            self._text: _Splitter = sts.TextSplitter.from_huggingface_tokenizer(
                tokenizer, capacity, overlap=overlap
            )
            self._markdown: _Splitter = sts.MarkdownSplitter.from_huggingface_tokenizer(
                tokenizer, capacity, overlap=overlap
            )
        else:
            # No tokenizer: approximate a token as 4 characters.
            self._text = sts.TextSplitter(capacity * 4, overlap=overlap * 4)
            self._markdown = sts.MarkdownSplitter(capacity * 4, overlap=overlap * 4)

    def split(self, document: Document) -> list[Chunk]:
        splitter = self._markdown if document.file_type in _MARKDOWN_TYPES else self._text
        chunks: list[Chunk] = []
        text = document.text
        pieces = (
            (first + start, piece)
            for first, last in text_spans(text, self._window)
            for start, piece in splitter.chunk_indices(text[first:last])
        )
        for start, piece in pieces:
            end = start + len(piece)
            if not piece.strip() or _is_heading_only(document, start, piece):
                continue
            chunks.append(
                Chunk(
                    chunk_id=chunk_id(document.doc_id, start, end, piece),
                    doc_id=document.doc_id,
                    source=document.source,
                    file_type=document.file_type,
                    ordinal=len(chunks),
                    start=start,
                    end=end,
                    heading=heading_path(document.sections, start, document.title),
                    text=piece,
                )
            )
        return chunks


def text_spans(text: str, window: int) -> list[tuple[int, int]]:
    """Consecutive spans covering ``text``, for the splitter to take one at a time.

    Usually a single span. A run of more than ``window`` characters without a blank line
    is cut into pieces of at most ``window`` characters (at a line break, else a sentence
    end, else a space, else anywhere); chunks do not cross those cuts.
    """
    spans: list[tuple[int, int]] = []
    span_start = run_start = 0
    for blank in chain(_BLANK_LINE.finditer(text), [None]):
        run_end = blank.start() if blank else len(text)
        if run_end - run_start > window:
            if run_start > span_start:
                spans.append((span_start, run_start))
            spans.extend(_windows(text, run_start, run_end, window))
            span_start = run_end
        if blank:
            run_start = blank.end()
    if span_start < len(text) or not spans:
        spans.append((span_start, len(text)))
    return spans


def _windows(text: str, start: int, end: int, window: int) -> Iterator[tuple[int, int]]:
    while end - start > window:
        limit = start + window
        cut = limit  # no separator in the second half of the window: cut anywhere
        for separator in ("\n", ". ", " "):
            found = text.rfind(separator, start + window // 2, limit)
            if found != -1:
                cut = found + len(separator)
                break
        yield start, cut
        start = cut
    yield start, end


def _is_heading_only(document: Document, start: int, piece: str) -> bool:
    """A chunk that is nothing but Markdown heading lines carries no answer on its own.

    Only Markdown-like text has headings; in plain text and PDF a line such as
    '#1 Always unplug...' is content. A heading is 1-6 '#' followed by a space or tab (or
    nothing), indented by at most 3 spaces: loaders indent '# comment' lines of code by 4.
    The splitter trims pieces, so the first line is judged as it stands in the document
    (with its indentation, or as the tail of a longer line).
    """
    if document.file_type not in _MARKDOWN_TYPES:
        return False
    window = max(0, start - 8)  # a heading is indented by 3 spaces at most: look back a bit
    line_start = document.text.rfind("\n", window, start) + 1
    if line_start == 0 and window > 0:
        return False  # the piece starts far into a line: its first line is no heading
    lines = (document.text[line_start:start] + piece).splitlines()
    lines = [line for line in lines if line.strip()]
    return bool(lines) and all(_HEADING_LINE.match(line) for line in lines)


def heading_path(sections: tuple[Section, ...], offset: int, title: str = "") -> str:
    """Breadcrumb of the headings in force at ``offset``, e.g. ``Setup > Wi-Fi``.

    A chunk that begins with its own heading is labelled by it.
    """
    stack: list[Section] = []
    for section in sections:
        if section.start > offset:
            break
        while stack and stack[-1].level >= section.level:
            stack.pop()
        stack.append(section)
    titles = [s.title for s in stack]
    if titles and title and titles[0] == title and len(titles) > 1:
        titles = titles[1:]  # the document title is shown separately
    return " > ".join(titles)
