"""PDF: text of each page (pypdf), page start offsets kept for citations."""

from __future__ import annotations

import io

from ragfusion.errors import LoadError, MissingDependencyError
from ragfusion.loaders.base import LoadedText, collapse_spaces
from ragfusion.types import Section


def load_pdf(data: bytes, path: str, stem: str) -> LoadedText:
    try:
        from pypdf import PdfReader
        from pypdf.errors import PdfReadError
    except ImportError as exc:  # pragma: no cover - pypdf is a core dependency
        raise MissingDependencyError("pypdf", "pdf", "Reading PDF files") from exc

    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted and not reader.decrypt(""):
            raise LoadError(
                path,
                "is encrypted with a password; decrypt it first "
                "(e.g. qpdf --decrypt --password=PW in.pdf out.pdf)",
            )
        pages = list(reader.pages)
    except LoadError:
        raise
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
    offset = 0
    for number, page in enumerate(pages, start=1):
        try:
            page_text = collapse_spaces(page.extract_text() or "")
        except Exception as exc:  # a broken page must not lose the others
            raise LoadError(path, f"page {number} could not be read ({exc})") from exc
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
    return LoadedText(
        text=text,
        title=meta_title.strip() or stem,
        sections=tuple(sections),
        metadata={"pages": len(pages)},
    )
