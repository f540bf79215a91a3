"""Find input files and load them into Documents, one small loader per format.

``discover`` walks paths and reports what it skips; ``load_document`` reads one file and
raises ``LoadError`` (with the path and a reason that says how to fix it) when it cannot.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from ragfusion.errors import LoadError
from ragfusion.ids import content_hash, document_id
from ragfusion.loaders.base import LoadedText
from ragfusion.types import Document

Loader = Callable[[bytes, str, str], LoadedText]

DEFAULT_MAX_FILE_BYTES = 100 * 1024 * 1024


def _loaders() -> dict[str, tuple[str, Loader]]:
    from ragfusion.loaders.docx import load_docx
    from ragfusion.loaders.html import load_html
    from ragfusion.loaders.pdf import load_pdf
    from ragfusion.loaders.text import load_markdown, load_plain_text

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


def load_document(path: str | Path, max_bytes: int = DEFAULT_MAX_FILE_BYTES) -> Document:
    """Load one file into a Document; raises LoadError with a reason on any failure."""
    file = Path(path).resolve()
    source = str(file)
    entry = _loaders().get(file.suffix.lower())
    if entry is None:
        raise LoadError(source, f"unsupported file type '{file.suffix}'")
    file_type, loader = entry
    try:
        size = file.stat().st_size
        if size > max_bytes:
            raise LoadError(
                source,
                f"is {size / 2**20:.1f} MiB, over the limit of "
                f"{max_bytes / 2**20:.0f} MiB; split it or raise --max-file-mb",
            )
        data = file.read_bytes()
    except PermissionError as exc:
        raise LoadError(source, "cannot be read: permission denied (check its mode/owner)") from exc
    except OSError as exc:
        raise LoadError(source, f"cannot be read ({exc.strerror or exc})") from exc
    if not data.strip():
        raise LoadError(source, "is empty; there is nothing to ingest")
    loaded = loader(data, source, file.stem)
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
