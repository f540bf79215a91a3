"""Citation markers in generated text: validate them (also while streaming), attribute
uncited sentences, and find sentence spans with exact offsets.

A citation is ``[n]`` (also ``[n, m]``, ``[n-m]``) where n numbers a passage given to the
model. Anything else in brackets is left alone; numbers outside the passages are removed.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

_MARKER = re.compile(r"\[\s*\d+(?:\s*(?:[,;]|-|–)\s*\d+)*\s*\]")
_MARKER_BODY = re.compile(r"^\s*\d+(?:\s*(?:[,;]|-|–)\s*\d+)*\s*$")
_MAX_MARKER_CHARS = 24
_MAX_RANGE = 20
_SENTENCE_END = re.compile(r"(?<=[.!?])[\"')\]]*\s+")
# A full stop that ends a word such as "St." or "e.g.", an initial ("W. E. B.") or a dotted
# abbreviation ("U.S.") ends no sentence; nor does one followed by a lower-case word.
_ABBREVIATION = re.compile(
    r"(?:^|(?<=[\s(\[\"']))(?:(?:st|dr|mr|mrs|ms|prof|mt|ft|jr|sr|no|nos|vs|approx|ca|cf|fig|"
    r"figs|vol|ed|eds|gen|col|lt|sgt|capt|rev|hon|gov|sen|rep|pres|jan|feb|mar|apr|jun|jul|"
    r"aug|sep|sept|oct|nov|dec|etc|e\.g|i\.e|a\.m|p\.m)|[A-Z]|(?:[A-Za-z]\.)+[A-Za-z])\.$",
    re.IGNORECASE,
)
_LOWER_NEXT = re.compile(r"[a-z]")
_BLOCK_START = re.compile(r"[ \t]*(?:[-*+][ \t]|\d+[.)][ \t]|#{1,6}[ \t]|\|)")
_WORD = re.compile(r"\w+", re.UNICODE)
_LIST_OR_HEADING = re.compile(r"^(?:#{1,6}\s+|[-*+]\s+|\d+[.)]\s+)")


def parse_marker(body: str) -> list[int]:
    """Numbers in a marker body such as ``1, 3-4`` (ranges expanded, bounded)."""
    numbers: list[int] = []
    for part in re.split(r"\s*[,;]\s*", body.strip()):
        bounds = re.split(r"\s*[-–]\s*", part)
        if len(bounds) == 2 and bounds[0].isdigit() and bounds[1].isdigit():
            low, high = int(bounds[0]), int(bounds[1])
            if low <= high and high - low <= _MAX_RANGE:
                numbers.extend(range(low, high + 1))
        elif part.isdigit():
            numbers.append(int(part))
    return numbers


def _render(numbers: Iterable[int]) -> str:
    return "".join(f"[{n}]" for n in numbers)


class CitationFilter:
    """Streams text through, rewriting citation markers to valid ``[n]`` markers only.

    Feed pieces as the model produces them; text is held back only while a ``[`` might
    still turn into a marker. ``cited`` lists valid numbers in order of first use.
    """

    def __init__(self, passages: int) -> None:
        self.passages = passages
        self.cited: list[int] = []
        self.removed: list[int] = []
        self._held = ""

    def _resolve(self, marker_body: str) -> str:
        valid = []
        for n in parse_marker(marker_body):
            if 1 <= n <= self.passages:
                if n not in valid:
                    valid.append(n)
            else:
                self.removed.append(n)
        for n in valid:
            if n not in self.cited:
                self.cited.append(n)
        return _render(valid)

    def feed(self, piece: str) -> str:
        out: list[str] = []
        for char in piece:
            if self._held:
                self._held += char
                if char == "]":
                    body = self._held[1:-1]
                    out.append(self._resolve(body) if _MARKER_BODY.match(body) else self._held)
                    self._held = ""
                elif not (char.isdigit() or char in " ,;-–") or len(self._held) > _MAX_MARKER_CHARS:
                    out.append(self._held)
                    self._held = ""
            elif char == "[":
                self._held = char
            else:
                out.append(char)
        return "".join(out)

    def finish(self) -> str:
        held, self._held = self._held, ""
        return held


def validate_citations(text: str, passages: int) -> tuple[str, list[int], list[int]]:
    """Text with invalid markers removed; returns (text, cited numbers, removed numbers)."""
    flt = CitationFilter(passages)
    cleaned = flt.feed(text) + flt.finish()
    return cleaned, flt.cited, flt.removed


def strip_markers(text: str) -> str:
    return _MARKER.sub("", text)


def _blocks(text: str) -> list[tuple[int, int, bool]]:
    """(start, end, is_heading) of paragraphs, list items, table rows and heading lines.
    Single line breaks inside a paragraph are hard wrapping and do not end a block."""
    blocks: list[tuple[int, int, bool]] = []
    start: int | None = None
    offset = 0
    for line in text.splitlines(keepends=True):
        line_start, offset = offset, offset + len(line)
        stripped = line.strip()
        if not stripped or _BLOCK_START.match(line):
            if start is not None:
                blocks.append((start, line_start, False))
                start = None
            if stripped.startswith("#") and _BLOCK_START.match(line):
                blocks.append((line_start, offset, True))
                continue
        if stripped and start is None:
            start = line_start
    if start is not None:
        blocks.append((start, len(text), False))
    return blocks


def _no_break(text: str, block_start: int, end: int, next_start: int) -> bool:
    """Whether the stop before ``end`` is an abbreviation's or is followed by a lower-case
    word, so the sentence goes on."""
    if _LOWER_NEXT.match(text, next_start):
        return True
    if text[end - 1 : end] != ".":  # the match starts right after its stop
        return False
    word_start = max(text.rfind(" ", block_start, end), text.rfind("\n", block_start, end)) + 1
    return bool(_ABBREVIATION.search(text, max(word_start, block_start), end))


def sentence_spans(
    text: str, *, headings: bool = True, item_chars: int = 0
) -> list[tuple[int, int]]:
    """(start, end) of each sentence, list item or table row; ``text[start:end]`` is trimmed
    of space and of a leading Markdown list or heading marker. ``headings=False`` drops
    heading lines; a list item of up to ``item_chars`` characters stays one span."""
    out: list[tuple[int, int]] = []
    for block_start, block_end, is_heading in _blocks(text):
        if is_heading and not headings:
            continue
        head = text[block_start:block_end]
        marker = _LIST_OR_HEADING.match(head.lstrip())
        if marker:  # skip "1. " so its full stop is not read as a sentence end
            block_start += len(head) - len(head.lstrip()) + marker.end()
        cuts = [block_start]
        whole = bool(marker) and not is_heading and block_end - block_start <= item_chars
        for match in () if whole else _SENTENCE_END.finditer(text, block_start, block_end):
            if _no_break(text, block_start, match.start(), match.end()):
                continue
            cuts += [match.start(), match.end()]
        cuts.append(block_end)
        for a, b in zip(cuts[::2], cuts[1::2], strict=True):
            segment = text[a:b]
            a += len(segment) - len(segment.lstrip())
            b = a + len(text[a:b].rstrip())
            if b > a:
                out.append((a, b))
    return out


def content_words(text: str) -> set[str]:
    return {w for w in _WORD.findall(text.lower()) if len(w) > 2}


def attribute(sentence: str, passages: list[str], min_overlap: float = 0.5) -> int | None:
    """1-based number of the passage that best supports ``sentence`` by word overlap, if any
    passage contains at least ``min_overlap`` of the sentence's content words (and 2+)."""
    words = content_words(strip_markers(sentence))
    if len(words) < 2:
        return None
    best, best_share = None, 0.0
    for number, passage in enumerate(passages, start=1):
        shared = words & content_words(passage)
        share = len(shared) / len(words)
        if len(shared) >= 2 and share > best_share:
            best, best_share = number, share
    return best if best_share >= min_overlap else None
