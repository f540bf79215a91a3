"""PDF: text of each page (pypdf), page start offsets kept for citations."""

from __future__ import annotations

import io
from typing import Any

from ragfusion.errors import LoadError, MissingDependencyError
from ragfusion.ingest.loaders.base import LoadedText, collapse_spaces
from ragfusion.types import Section

_DECRYPT_HINT = "decrypt it first (e.g. qpdf --decrypt --password=PW in.pdf out.pdf)"


def load_pdf(data: bytes, path: str, stem: str) -> LoadedText:
    try:
        from pypdf import PdfReader
        from pypdf.errors import DependencyError, FileNotDecryptedError, PdfReadError
    except ImportError as exc:  # pragma: no cover - pypdf is a core dependency
        raise MissingDependencyError("pypdf", "pdf", "Reading PDF files") from exc

    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted:
            _decrypt_with_empty_password(reader, path)
        pages = list(reader.pages)
    except LoadError:
        raise
    except FileNotDecryptedError as exc:
        raise LoadError(path, f"is encrypted with a password; {_DECRYPT_HINT}") from exc
    except DependencyError as exc:  # AES needs the 'cryptography' package
        raise LoadError(path, _dependency_reason(exc)) from exc
    except (PdfReadError, ValueError, KeyError, TypeError, OSError) as exc:
        raise LoadError(
            path,
            f"is not a readable PDF ({exc}); it may be truncated or "
            "damaged: re-export or repair it (e.g. qpdf in.pdf out.pdf)",
        ) from exc
    except Exception as exc:  # pypdf raises many kinds on damaged files
        raise LoadError(path, f"could not be parsed as PDF ({type(exc).__name__}: {exc})") from exc

    parts: list[str] = []
    sections: list[Section] = []
    unreadable: list[int] = []
    first_failure = ""
    offset = 0
    for number, page in enumerate(pages, start=1):
        try:
            page_text = collapse_spaces(page.extract_text() or "")
        except Exception as exc:  # a broken page must not lose the others
            unreadable.append(number)
            first_failure = first_failure or f"page {number}: {type(exc).__name__}: {exc}"
            continue
        if not page_text:
            continue
        if parts:
            parts.append("\n\n")
            offset += 2
        sections.append(Section(title=f"page {number}", level=1, start=offset))
        parts.append(page_text)
        offset += len(page_text)
    text = "".join(parts)
    if not text.strip():
        if unreadable:
            raise LoadError(
                path,
                f"has no readable page: {_page_list(unreadable)} could not be read "
                f"({first_failure}); re-export or repair it (e.g. qpdf in.pdf out.pdf)",
            )
        raise LoadError(
            path,
            "has no extractable text (a scanned PDF?); run OCR on it first, "
            "e.g. ocrmypdf in.pdf out.pdf",
        )
    meta_title = ""
    try:
        meta_title = (reader.metadata.title or "") if reader.metadata else ""
    except Exception:  # damaged metadata is not worth losing the document for
        meta_title = ""
    metadata: dict[str, Any] = {"pages": len(pages)}
    if unreadable:
        metadata["unreadable_pages"] = unreadable
    return LoadedText(
        text=text,
        title=meta_title.strip() or stem,
        sections=tuple(sections),
        metadata=metadata,
    )


def _decrypt_with_empty_password(reader: Any, path: str) -> None:
    """Open a PDF that is encrypted only against editing; refuse one that needs a password."""
    from pypdf.errors import DependencyError, PdfReadError

    try:
        decrypted = reader.decrypt("")
    except DependencyError as exc:
        raise LoadError(path, _dependency_reason(exc)) from exc
    except (PdfReadError, NotImplementedError, ValueError, KeyError, TypeError) as exc:
        # FileNotDecryptedError, WrongPasswordError, an unsupported algorithm...
        raise LoadError(
            path,
            f"is encrypted and could not be decrypted without a password "
            f"({type(exc).__name__}: {exc}); {_DECRYPT_HINT}",
        ) from exc
    if not decrypted:
        raise LoadError(path, f"is encrypted with a password; {_DECRYPT_HINT}")


def _dependency_reason(exc: Exception) -> str:
    return (
        f"is encrypted, and decrypting it needs the 'cryptography' package ({exc}): "
        f"install it (pip install cryptography), or if it has a password, {_DECRYPT_HINT}"
    )


def _page_list(numbers: list[int]) -> str:
    if len(numbers) == 1:
        return f"page {numbers[0]}"
    return "pages " + ", ".join(str(n) for n in numbers)
