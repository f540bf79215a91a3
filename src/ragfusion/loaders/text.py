"""Plain text and Markdown: decode bytes carefully, find Markdown headings."""

from __future__ import annotations

import codecs
import contextlib
import re

from ragfusion.errors import LoadError
from ragfusion.loaders.base import LoadedText
from ragfusion.types import Section

_SNIFF_BYTES = 8192
_ATX_HEADING = re.compile(r"^(#{1,6})[ \t]+(.+?)[ \t#]*$", re.MULTILINE)
_FENCE = re.compile(r"^(```|~~~)", re.MULTILINE)


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
    from charset_normalizer import from_bytes

    best = from_bytes(data[: 1 << 20]).best()  # detection on the first MiB is enough
    if best is not None and best.encoding:
        with contextlib.suppress(UnicodeDecodeError, LookupError):
            return data.decode(best.encoding)
    raise LoadError(
        path,
        f"is not valid UTF-8 (byte {utf8_error.start}) and its encoding could not be detected; "
        "convert it, e.g. iconv -f LATIN1 -t UTF-8 FILE > FILE.utf8",
    )


def load_plain_text(data: bytes, path: str, stem: str) -> LoadedText:
    text = decode_text(data, path)
    first_line = next((line.strip() for line in text.splitlines() if line.strip()), "")
    title = first_line if 0 < len(first_line) <= 120 else stem
    return LoadedText(text=text, title=title)


def markdown_sections(text: str) -> tuple[Section, ...]:
    """ATX headings (``# Title``) outside fenced code blocks, with their offsets."""
    fenced: list[tuple[int, int]] = []
    fence_marks = [m.start() for m in _FENCE.finditer(text)]
    for open_at, close_at in zip(fence_marks[::2], fence_marks[1::2], strict=False):
        fenced.append((open_at, close_at))
    sections = []
    for m in _ATX_HEADING.finditer(text):
        if any(a <= m.start() <= b for a, b in fenced):
            continue
        sections.append(Section(title=m.group(2).strip(), level=len(m.group(1)), start=m.start()))
    return tuple(sections)


def load_markdown(data: bytes, path: str, stem: str) -> LoadedText:
    text = decode_text(data, path)
    sections = markdown_sections(text)
    top = [s for s in sections if s.level == 1]
    title = (top or list(sections) or [Section(stem, 1, 0)])[0].title
    return LoadedText(text=text, title=title, sections=sections)
