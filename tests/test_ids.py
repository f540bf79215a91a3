"""Tests for ragfusion.ingest.ids: deterministic, content-addressed, collision-resistant ids.

Ids are persisted in indexes, so the exact format is pinned here by an independent
re-implementation of the documented scheme (BLAKE2b-256 over length-prefixed UTF-8 parts,
first 20 hex characters).
"""

from __future__ import annotations

import hashlib
import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

import ragfusion.ingest.ids as ids_module
from ragfusion.ingest.ids import _digest, chunk_id, content_hash, document_id

HEX20 = re.compile(r"[0-9a-f]{20}")


def reference_digest(*parts: str) -> str:
    h = hashlib.blake2b(digest_size=32)
    for part in parts:
        data = part.encode("utf-8", "surrogatepass")
        h.update(len(data).to_bytes(8, "little") + data)
    return h.hexdigest()[:20]


# ---------------------------------------------------------------------------------------------
# Format and determinism
# ---------------------------------------------------------------------------------------------


def test_document_id_format_is_pinned() -> None:
    source = "/home/user/kb/guides/quick-start.md"
    assert document_id(source) == reference_digest("doc", source)
    assert HEX20.fullmatch(document_id(source))


def test_chunk_id_format_is_pinned() -> None:
    doc = document_id("/kb/a.md")
    assert chunk_id(doc, 12, 345, "Some text.") == reference_digest(
        "chunk", doc, "12", "345", "Some text."
    )
    assert HEX20.fullmatch(chunk_id(doc, 12, 345, "Some text."))


def test_ids_are_deterministic() -> None:
    assert document_id("/kb/a.md") == document_id("/kb/a.md")
    assert chunk_id("d", 0, 5, "hello") == chunk_id("d", 0, 5, "hello")
    assert content_hash(b"bytes") == content_hash(b"bytes")


@pytest.mark.parametrize("source", ["", "a", "/kb/ü/ñ.md", "C:\\kb\\x.md", "https://x.y/z?q=1"])
def test_document_id_is_20_hex_characters(source: str) -> None:
    assert HEX20.fullmatch(document_id(source))


def test_document_and_chunk_ids_live_in_different_namespaces() -> None:
    # Same parts after the namespace tag must not give the same id.
    assert document_id("x") != _digest("chunk", "x")
    assert document_id("x") == _digest("doc", "x")


def test_undecodable_file_names_are_accepted() -> None:
    # os.fsdecode() turns undecodable bytes of a file name into lone surrogates.
    weird = "/kb/caf\udce9.md"
    assert HEX20.fullmatch(document_id(weird))
    assert document_id(weird) != document_id("/kb/caf\udce8.md")
    assert HEX20.fullmatch(chunk_id(document_id(weird), 0, 2, "\udce9x"))


def test_module_docs_state_what_changes_the_ids() -> None:
    doc = " ".join((ids_module.__doc__ or "").split())
    assert "only for the chunks that really changed" not in doc  # an overclaim
    assert "offsets" in doc
    assert "shifts every chunk after it" in doc
    assert "writing nothing" in doc


def test_same_text_at_shifted_offsets_gets_a_new_id() -> None:
    doc = document_id("/kb/a.md")
    assert chunk_id(doc, 0, 10, "Same text.") != chunk_id(doc, 6, 16, "Same text.")


# ---------------------------------------------------------------------------------------------
# Sensitivity to every part
# ---------------------------------------------------------------------------------------------


def test_document_id_depends_on_the_source() -> None:
    ids = {document_id(s) for s in ["/kb/a.md", "/kb/b.md", "/kb/a.md ", "/KB/a.md", "kb/a.md"]}
    assert len(ids) == 5


@pytest.mark.parametrize(
    "changed",
    [
        ("other-doc", 10, 20, "text"),
        ("doc", 11, 20, "text"),
        ("doc", 10, 21, "text"),
        ("doc", 10, 20, "text "),
        ("doc", 10, 20, "Text"),
        ("doc", 10, 20, ""),
    ],
    ids=["doc_id", "start", "end", "text-space", "text-case", "text-empty"],
)
def test_chunk_id_depends_on_each_part(changed: tuple[str, int, int, str]) -> None:
    assert chunk_id("doc", 10, 20, "text") != chunk_id(*changed)


def test_content_hash_is_full_blake2b_of_the_bytes() -> None:
    data = b"\x00\x01 some file bytes \xff"
    assert content_hash(data) == hashlib.blake2b(data, digest_size=32).hexdigest()
    assert re.fullmatch(r"[0-9a-f]{64}", content_hash(data))
    assert content_hash(data) != content_hash(data + b"\n")
    assert content_hash(b"") != content_hash(b"\x00")


# ---------------------------------------------------------------------------------------------
# Length prefixes: no collisions from re-splitting the same characters
# ---------------------------------------------------------------------------------------------


def test_length_prefix_prevents_concatenation_collisions() -> None:
    assert _digest("ab", "c") != _digest("a", "bc")
    assert _digest("abc") != _digest("ab", "c")
    assert _digest("a", "") != _digest("a")
    # Without prefixes all of these would hash "chunk" + "a1" + "2" + "3" + "x".
    assert chunk_id("a1", 2, 3, "x") != chunk_id("a", 12, 3, "x")
    assert chunk_id("d", 1, 23, "x") != chunk_id("d", 12, 3, "x")
    assert chunk_id("d", 1, 2, "3x") != chunk_id("d", 1, 23, "x")
    assert chunk_id("ab", 1, 2, "t") != chunk_id("a", 1, 2, "bt")


def test_multibyte_text_is_length_prefixed_by_bytes() -> None:
    # 'é' is 2 bytes in UTF-8: the prefix must count bytes, not characters.
    assert _digest("é", "a") != _digest("é" + "a")
    assert _digest("é", "a") == reference_digest("é", "a")


parts = st.lists(st.text(max_size=6), min_size=1, max_size=4)


@given(parts, parts)
def test_digest_equal_only_for_equal_parts(a: list[str], b: list[str]) -> None:
    assert (_digest(*a) == _digest(*b)) == (a == b)


@given(st.text(min_size=1, max_size=12), st.data())
def test_resplitting_the_same_characters_never_collides(text: str, data: st.DataObject) -> None:
    i = data.draw(st.integers(0, len(text)), label="i")
    j = data.draw(st.integers(0, len(text)), label="j")
    same = i == j
    assert (_digest(text[:i], text[i:]) == _digest(text[:j], text[j:])) == same
    assert (chunk_id(text[:i], 1, 2, text[i:]) == chunk_id(text[:j], 1, 2, text[j:])) == same
