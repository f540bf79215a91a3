"""Find input files and load them into Documents, one small loader per format.

``discover`` walks paths and reports what it skips; ``load_document`` reads one file and
raises ``LoadError`` (with the path and a reason that says how to fix it) when it cannot.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from ragfusion.errors import LoadError, RagfusionError
from ragfusion.ingest.ids import content_hash, document_id
from ragfusion.ingest.loaders.base import LoadedText
from ragfusion.types import Document

Loader = Callable[[bytes, str, str], LoadedText]

DEFAULT_MAX_FILE_BYTES = 100 * 1024 * 1024


def _loaders() -> dict[str, tuple[str, Loader]]:
    from ragfusion.ingest.loaders.docx import load_docx
    from ragfusion.ingest.loaders.html import load_html
    from ragfusion.ingest.loaders.pdf import load_pdf
    from ragfusion.ingest.loaders.text import load_markdown, load_plain_text

    return {
        ".txt": ("txt", load_plain_text),
        ".text": ("txt", load_plain_text),
        ".md": ("md", load_markdown),
        ".markdown": ("md", load_markdown),
        ".html": ("html", load_html),
        ".htm": ("html", load_html),
        ".pdf": ("pdf", load_pdf),
        ".docx": ("docx", load_docx),
    }


SUPPORTED_SUFFIXES = (".txt", ".text", ".md", ".markdown", ".html", ".htm", ".pdf", ".docx")


@dataclass(frozen=True)
class Skipped:
    """A file that was not ingested, and why."""

    path: str
    reason: str


def discover(paths: Iterable[str | Path]) -> tuple[list[Path], list[Skipped]]:
    """Expand files and folders (recursively, hidden entries excluded) into input files."""
    files: list[Path] = []
    skipped: list[Skipped] = []
    seen: set[Path] = set()

    def consider(path: Path, explicit: bool) -> None:
        resolved = path.resolve()
        if resolved in seen:
            return
        seen.add(resolved)
        if not explicit:  # explicit paths were checked with is_file() already
            problem = _not_a_regular_file(path)
            if problem:
                skipped.append(Skipped(str(path), problem))
                return
        if path.suffix.lower() in SUPPORTED_SUFFIXES:
            files.append(resolved)
        elif explicit or not path.name.startswith("."):
            supported = ", ".join(SUPPORTED_SUFFIXES)
            skipped.append(
                Skipped(
                    str(path),
                    f"unsupported file type '{path.suffix or '(none)'}' (supported: {supported})",
                )
            )

    for raw in paths:
        root = Path(raw).expanduser()
        if root.is_file():
            consider(root, explicit=True)
        elif root.is_dir():
            for dirpath, dirnames, filenames in os.walk(root):
                dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
                for name in sorted(filenames):
                    if not name.startswith("."):
                        consider(Path(dirpath) / name, explicit=False)
        elif root.exists():
            skipped.append(Skipped(str(root), "is neither a regular file nor a folder"))
        else:
            skipped.append(Skipped(str(root), "does not exist; check the path"))
    return files, skipped


def _file_kind(mode: int) -> str:
    if stat.S_ISDIR(mode):
        return "a folder"
    if stat.S_ISFIFO(mode):
        return "a named pipe (FIFO)"
    if stat.S_ISSOCK(mode):
        return "a socket"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    return "a special file"


def _not_a_regular_file(path: Path) -> str:
    """Why ``path`` (symbolic links followed) is not a regular file; '' if it is one."""
    try:
        mode = os.stat(path).st_mode
    except OSError as exc:
        if os.path.islink(path):
            return "is a broken symbolic link"
        return f"cannot be read ({exc.strerror or exc})"
    if stat.S_ISREG(mode):
        return ""
    return f"is {_file_kind(mode)}, not a regular file"


def _human_size(n: int) -> str:
    """Bytes in the unit that reads best: '99 bytes', '1.5 KiB', '100 MiB', '2 GiB'."""
    if n < 1024:
        return f"{n} byte" if n == 1 else f"{n} bytes"
    for unit, scale in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if n >= scale:
            return f"{n / scale:.1f}".removesuffix(".0") + f" {unit}"
    raise AssertionError("unreachable")  # pragma: no cover


def _size_reason(size: int, max_bytes: int) -> str:
    size_text, limit_text = _human_size(size), _human_size(max_bytes)
    if size_text == limit_text:  # rounded to the same figure: show the exact counts
        size_text, limit_text = f"{size:,} bytes", f"{max_bytes:,} bytes"
    return f"is {size_text}, over the limit of {limit_text}; split it or raise --max-file-mb"


def _read_regular_file(file: Path, source: str, max_bytes: int) -> bytes:
    """The bytes of a regular file of at most ``max_bytes``; LoadError for anything else.

    A named pipe or device would block or never end: refuse it before opening (os.stat),
    and again on the open descriptor in case the path was swapped in between.
    """
    mode = os.stat(file).st_mode
    if not stat.S_ISREG(mode):
        raise LoadError(source, f"cannot be read: it is {_file_kind(mode)}, not a regular file")
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0)
    fd = os.open(file, flags)
    with os.fdopen(fd, "rb") as handle:
        info = os.fstat(handle.fileno())
        if not stat.S_ISREG(info.st_mode):
            kind = _file_kind(info.st_mode)
            raise LoadError(source, f"cannot be read: it is {kind}, not a regular file")
        if info.st_size > max_bytes:
            raise LoadError(source, _size_reason(info.st_size, max_bytes))
        data = handle.read(max_bytes + 1)  # the file may have grown since fstat
    if len(data) > max_bytes:
        raise LoadError(source, _size_reason(len(data), max_bytes))
    return data


def load_document(path: str | Path, max_bytes: int = DEFAULT_MAX_FILE_BYTES) -> Document:
    """Load one file into a Document; raises LoadError with a reason on any failure."""
    file = Path(path).resolve()
    source = str(file)
    entry = _loaders().get(file.suffix.lower())
    if entry is None:
        raise LoadError(source, f"unsupported file type '{file.suffix}'")
    file_type, loader = entry
    try:
        data = _read_regular_file(file, source, max_bytes)
    except PermissionError as exc:
        raise LoadError(source, "cannot be read: permission denied (check its mode/owner)") from exc
    except OSError as exc:
        raise LoadError(source, f"cannot be read ({exc.strerror or exc})") from exc
    if not data.strip():
        raise LoadError(source, "is empty; there is nothing to ingest")
    try:
        loaded = loader(data, source, file.stem)
    except RagfusionError:
        raise
    except Exception as exc:  # a parser failing on odd input must cost this file only
        raise LoadError(
            source,
            f"failed unexpectedly in the {file_type} loader ({type(exc).__name__}: {exc}); "
            "re-save the file, and please report this",
        ) from exc
    if not loaded.text.strip():
        raise LoadError(source, "contains no text after extraction")
    return Document(
        doc_id=document_id(source),
        source=source,
        file_type=file_type,
        title=loaded.title,
        text=loaded.text,
        content_hash=content_hash(data),
        sections=loaded.sections,
        metadata=dict(loaded.metadata),
    )


__all__ = ["DEFAULT_MAX_FILE_BYTES", "SUPPORTED_SUFFIXES", "Skipped", "discover", "load_document"]
