"""DOCX: paragraphs and tables in body order; Heading styles become sections."""

from __future__ import annotations

import io
import re
import zipfile
from typing import Any

from ragfusion.errors import LoadError, MissingDependencyError
from ragfusion.ingest.loaders.base import LoadedText, MarkdownTextBuilder, collapse_spaces

# A .docx is a zip: refuse archives that would inflate far beyond any real document.
MAX_UNCOMPRESSED_BYTES = 512 * 1024 * 1024
MAX_COMPRESSION_RATIO = 200


def _check_archive(data: bytes, path: str) -> None:
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            infos = archive.infolist()
    except zipfile.BadZipFile as exc:
        raise LoadError(
            path, "is not a valid .docx (not a zip archive); re-save it from your word processor"
        ) from exc
    total = sum(info.file_size for info in infos)
    packed = max(sum(info.compress_size for info in infos), 1)
    too_large = total > MAX_UNCOMPRESSED_BYTES
    suspicious = total / packed > MAX_COMPRESSION_RATIO and total > 1 << 24
    if too_large or suspicious:
        raise LoadError(
            path,
            f"would inflate to {total / 2**20:.0f} MiB from "
            f"{len(data) / 2**20:.1f} MiB (a zip bomb?); refusing to open it",
        )


def load_docx(data: bytes, path: str, stem: str) -> LoadedText:
    try:
        import docx
    except ImportError as exc:  # pragma: no cover - python-docx is a core dependency
        raise MissingDependencyError("python-docx", "docx", "Reading .docx files") from exc

    _check_archive(data, path)
    try:
        document = docx.Document(io.BytesIO(data))
        builder = _body_text(document)
    except Exception as exc:  # python-docx reports a damaged package in many ways
        raise LoadError(path, damage_reason(exc)) from exc
    if not builder.text.strip():
        raise LoadError(path, "contains no text")
    try:
        core_title = document.core_properties.title or ""
    except Exception:  # damaged core properties are not worth losing the document for
        core_title = ""
    title = core_title.strip() or builder.first_heading() or stem
    return LoadedText(text=builder.text, title=title, sections=builder.sections)


_RESAVE = "re-save it in a word processor (File > Save As > Word Document)"
# python-docx reaches a missing part as an attribute of the generic Part that stands in.
_MISSING_PART = re.compile(r"'Part' object has no attribute '(\w+)'")
_MISSING_ITEM = re.compile(r"There is no item named '([^']+)' in the archive")


def damage_reason(exc: BaseException) -> str:
    """What is wrong with a .docx package that python-docx failed on, and how to fix it."""
    detail = f"{type(exc).__name__}: {exc}"
    opened = "could not be opened as .docx"
    missing = _MISSING_PART.search(str(exc)) if isinstance(exc, AttributeError) else None
    if missing:
        part = missing.group(1).removesuffix("_part")
        return f"{opened}: it is damaged, it has no {part} part ({detail}); {_RESAVE}"
    if type(exc).__name__ == "PackageNotFoundError":
        return f"{opened}: it is not a Word package ({detail}); {_RESAVE}"
    if type(exc).__name__ == "XMLSyntaxError":
        return f"{opened}: one of its XML parts is malformed ({exc}); {_RESAVE}"
    item = _MISSING_ITEM.search(str(exc)) if isinstance(exc, KeyError) else None
    if item:
        return f"{opened}: it is damaged, its part {item.group(1)} is missing; {_RESAVE}"
    if isinstance(exc, KeyError):
        return (
            f"{opened}: it refers to a part or relationship that is missing ({detail}); {_RESAVE}"
        )
    if isinstance(exc, ValueError) and "content type" in str(exc):
        return f"{opened}: it is not a Word document ({exc}); {_RESAVE}"
    return f"{opened}: it is damaged ({detail}); {_RESAVE}"


def _body_text(document: Any) -> MarkdownTextBuilder:
    """Paragraphs and table rows in body order, as Markdown-like text with sections."""
    from docx.table import Table
    from docx.text.paragraph import Paragraph

    builder = MarkdownTextBuilder()
    for element in document.element.body.iterchildren():
        tag = element.tag.rsplit("}", 1)[-1]
        if tag == "p":
            paragraph = Paragraph(element, document)
            style = (paragraph.style.name if paragraph.style is not None else "") or ""
            level = _heading_level(style)
            if level:
                builder.heading(paragraph.text, level)
            elif "List" in style:
                builder.block(paragraph.text, prefix="- ")
            else:
                builder.block(paragraph.text)
        elif tag == "tbl":
            for row in Table(element, document).rows:
                # A merged cell is repeated once per grid column it spans: keep one copy,
                # keyed by its <w:tc> element (equal text in different cells is kept).
                unique = {cell._tc: cell for cell in row.cells}
                cells = [collapse_spaces(cell.text) for cell in unique.values()]
                builder.block(" | ".join(c for c in cells if c))
    return builder


def _heading_level(style: str) -> int:
    if style == "Title":
        return 1
    if style.startswith("Heading "):
        suffix = style.removeprefix("Heading ").strip()
        if suffix.isdigit():
            return int(suffix)
    return 0
