"""Content-addressed identifiers.

A document id depends only on where the document lives; a chunk id depends on its document,
its character offsets and its text. Re-ingesting an unchanged file yields the same ids (and
ingest skips it by its content hash, writing nothing). In a changed file, a chunk keeps its
id only if both its text and its offsets are unchanged: an edit that changes the length of
the text (an insertion or deletion) shifts every chunk after it, so those chunks get new ids
(and are embedded again) even though their text is the same. Typically only the chunks
before the edit (and, after a same-length edit, the untouched chunks after it) keep their ids.
"""

from __future__ import annotations

import hashlib

_ID_HEX_CHARS = 20  # 80 bits: collisions are negligible far beyond millions of chunks


def _digest(*parts: str) -> str:
    h = hashlib.blake2b(digest_size=32)
    for part in parts:
        data = part.encode("utf-8", "surrogatepass")
        h.update(len(data).to_bytes(8, "little"))  # length-prefix: ("ab","c") != ("a","bc")
        h.update(data)
    return h.hexdigest()[:_ID_HEX_CHARS]


def document_id(source: str) -> str:
    """Id of a document, from its normalised source path or URL."""
    return _digest("doc", source)


def chunk_id(doc_id: str, start: int, end: int, text: str) -> str:
    """Id of a chunk, from its document, character offsets and text."""
    return _digest("chunk", doc_id, str(start), str(end), text)


def content_hash(data: bytes) -> str:
    """Hash of a file's bytes, used to skip unchanged files on re-ingest."""
    return hashlib.blake2b(data, digest_size=32).hexdigest()
