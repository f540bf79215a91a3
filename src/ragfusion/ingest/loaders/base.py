"""What every loader returns, and a builder that turns structured content into text."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from ragfusion.types import Section

_SPACES = re.compile(r"[ \t\r\f\v\u00a0]+")
# A line a Markdown parser would read as an ATX heading (CommonMark: up to 3 spaces of indent).
_HEADING_LIKE = re.compile(r" {0,3}#{1,6}(?:[ \t]|$)")


def collapse_spaces(text: str) -> str:
    """Collapse runs of horizontal white space and trim; newlines are kept."""
    return "\n".join(_SPACES.sub(" ", line).strip() for line in text.splitlines()).strip()


@dataclass(frozen=True)
class LoadedText:
    """A loader's output: the text chunk offsets will point into, and its structure."""

    text: str
    title: str
    sections: tuple[Section, ...] = ()
    metadata: dict[str, Any] = field(default_factory=dict)


class MarkdownTextBuilder:
    """Accumulates headings and blocks as Markdown-like text, recording section offsets.

    HTML and DOCX are rendered this way so one structure-aware (Markdown) chunker serves
    every structured format, and headings become sections with exact offsets.
    """

    def __init__(self) -> None:
        self._parts: list[str] = []
        self._length = 0
        self._sections: list[Section] = []

    def _append(self, block: str) -> int:
        if self._parts:
            self._parts.append("\n\n")
            self._length += 2
        start = self._length
        self._parts.append(block)
        self._length += len(block)
        return start

    def heading(self, title: str, level: int) -> None:
        title = " ".join(title.split())
        if not title:
            return
        level = min(max(level, 1), 6)
        start = self._append("#" * level + " " + title)
        self._sections.append(Section(title=title, level=level, start=start))

    def block(self, text: str, prefix: str = "") -> None:
        text = collapse_spaces(text)
        if text:
            self._append(_protect_headings(prefix + text))

    def verbatim(self, text: str) -> None:
        """Preformatted text, white space kept; only leading/trailing blank lines go."""
        lines = text.replace("\r\n", "\n").split("\n")
        kept = [i for i, line in enumerate(lines) if line.strip()]
        if kept:
            self._append(_protect_headings("\n".join(lines[kept[0] : kept[-1] + 1])))

    @property
    def text(self) -> str:
        return "".join(self._parts)

    @property
    def sections(self) -> tuple[Section, ...]:
        return tuple(self._sections)

    def first_heading(self) -> str:
        return self._sections[0].title if self._sections else ""


def _protect_headings(text: str) -> str:
    """Indent lines that look like Markdown headings ('# comment' in code, '# of items').

    Only ``heading()`` makes headings: sections come from real headings, and the Markdown
    chunker must not split at, or drop as heading-only, a line of ordinary content.
    """
    return "\n".join(
        "    " + line if _HEADING_LIKE.match(line) else line for line in text.split("\n")
    )
