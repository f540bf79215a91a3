"""Plain text and Markdown: decode bytes carefully, find Markdown headings."""

from __future__ import annotations

import codecs
import contextlib
import re

from ragfusion.errors import LoadError
from ragfusion.ingest.loaders.base import LoadedText
from ragfusion.types import Section

_SNIFF_BYTES = 8192
# An ATX heading line (CommonMark): 1-6 '#', white space, then the title (see _heading_title).
_ATX_HEADING = re.compile(r"(#{1,6})[ \t]+(.*)")
# A code fence opener: up to 3 spaces, then 3+ backticks or tildes, then an info string.
_FENCE_OPEN = re.compile(r" {0,3}(`{3,}|~{3,})(.*)")
_FENCE_CLOSE = re.compile(r" {0,3}(`{3,}|~{3,})[ \t\r]*")
_LINE = re.compile(r"^.*", re.MULTILINE)
# A decoded text counts as plausible when at least this share of it is printable.
_MIN_PRINTABLE = 0.95


def decode_text(data: bytes, path: str) -> str:
    """Decode file bytes to text: BOMs honoured, UTF-8 preferred, others detected.

    Raises LoadError for binary data and for bytes whose encoding cannot be determined.
    """
    for bom, encoding in (
        (codecs.BOM_UTF8, "utf-8-sig"),
        (codecs.BOM_UTF32_LE, "utf-32"),
        (codecs.BOM_UTF32_BE, "utf-32"),
        (codecs.BOM_UTF16_LE, "utf-16"),
        (codecs.BOM_UTF16_BE, "utf-16"),
    ):
        if data.startswith(bom):
            try:
                return data.decode(encoding)
            except UnicodeDecodeError as exc:
                raise LoadError(
                    path,
                    f"has a {encoding} byte-order mark but is not valid "
                    f"{encoding} ({exc.reason} at byte {exc.start})",
                ) from exc
    if b"\x00" in data[:_SNIFF_BYTES]:
        raise LoadError(
            path,
            "looks like a binary file (it contains NUL bytes), not text; "
            "check the file type or remove it from the folder",
        )
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as utf8_error:
        return _decode_legacy(data, path, utf8_error)


def _decode_legacy(data: bytes, path: str, utf8_error: UnicodeDecodeError) -> str:
    """Decode bytes that are neither UTF-8 nor BOM-marked (and NUL-free).

    Windows-1252 comes first when the bytes are valid cp1252, the result is mostly printable
    and charset-normalizer does not find it chaotic: on short or Western European text the
    detector's guess is unreliable (it picks UTF-16-BE for 'café', cp1250 for French), while
    Cyrillic, Greek, CJK or Central European text decoded as cp1252 reads as chaos and goes
    to the detector. A UTF-16/32 guess is never taken: such text has NUL bytes or a BOM.
    """
    from charset_normalizer import from_bytes

    sample = data[: 1 << 20]  # detection on the first MiB is enough
    with contextlib.suppress(UnicodeDecodeError):
        text = data.decode("cp1252")
        if _mostly_printable(text) and from_bytes(sample, cp_isolation=["cp1252"]).best():
            return text
    for match in from_bytes(sample):
        encoding = (match.encoding or "").lower().replace("-", "_")
        if not encoding or encoding.startswith(("utf_16", "utf_32")):
            continue
        with contextlib.suppress(UnicodeDecodeError, LookupError):
            text = data.decode(encoding)
            if _mostly_printable(text):
                return text
    raise LoadError(
        path,
        f"is not valid UTF-8 (byte {utf8_error.start}) and its encoding could not be detected; "
        "convert it, e.g. iconv -f LATIN1 -t UTF-8 FILE > FILE.utf8",
    )


def _mostly_printable(text: str) -> bool:
    if not text:
        return False
    printable = sum(1 for c in text if c.isprintable() or c in "\t\n\r")
    return printable >= _MIN_PRINTABLE * len(text)


def load_plain_text(data: bytes, path: str, stem: str) -> LoadedText:
    text = decode_text(data, path)
    first_line = next((line.strip() for line in text.splitlines() if line.strip()), "")
    title = first_line if 0 < len(first_line) <= 120 else stem
    return LoadedText(text=text, title=title)


def markdown_sections(text: str) -> tuple[Section, ...]:
    """ATX headings (``# Title``) outside fenced code blocks, with their offsets.

    Fences follow CommonMark: a fence opened by N backticks (or tildes) is closed only by a
    line of at least N of the same character; an unclosed fence runs to the end of the text.
    """
    sections = []
    fence: str | None = None  # the opening run of the fence we are inside, if any
    for line in _LINE.finditer(text):
        content = line.group()
        if fence is not None:
            close = _FENCE_CLOSE.fullmatch(content)
            if close and close.group(1)[0] == fence[0] and len(close.group(1)) >= len(fence):
                fence = None
            continue
        opening = _FENCE_OPEN.fullmatch(content)
        if opening and not (opening.group(1)[0] == "`" and "`" in opening.group(2)):
            fence = opening.group(1)
            continue
        heading = _ATX_HEADING.fullmatch(content)
        title = _heading_title(heading.group(2)) if heading else ""
        if heading and title:  # '## ##' is an empty heading: nothing to cite
            sections.append(Section(title=title, level=len(heading.group(1)), start=line.start()))
    return tuple(sections)


def _heading_title(raw: str) -> str:
    """The title of an ATX heading: an optional closing run of '#' is dropped only when white
    space precedes it ('## Cleaning ##' -> 'Cleaning', '# Tips for C#' keeps its '#')."""
    title = raw.rstrip(" \t\r")
    unclosed = title.rstrip("#")
    if unclosed != title and (not unclosed or unclosed[-1] in " \t"):
        title = unclosed
    return title.strip()


def load_markdown(data: bytes, path: str, stem: str) -> LoadedText:
    text = decode_text(data, path)
    sections = markdown_sections(text)
    top = [s for s in sections if s.level == 1]
    title = (top or list(sections) or [Section(stem, 1, 0)])[0].title
    return LoadedText(text=text, title=title, sections=sections)
