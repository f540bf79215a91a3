"""Fuzzing the loaders: any bytes under any supported suffix give a Document or a LoadError.

Random bytes and random text test the front doors (decoding, magic numbers); mutated copies
of the example files (bytes flipped, cut, inserted; DOCX XML edited inside a valid zip) get
past them into pypdf, python-docx and the HTML walk. Every Document must also chunk cleanly.
Example counts are bounded and the examples derandomized (tests/fuzz_support.py), so the
file runs in well under 30 s and gives the same result on every machine; `make fuzz` hunts
with random seeds and many more examples, and saves what it finds for the suite to replay.
"""

from __future__ import annotations

import io
import itertools
import zipfile
from datetime import timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from tests.fuzz_support import count_case, examples, save_loader_regression

from ragfusion.errors import LoadError
from ragfusion.ingest.chunking import Chunker, ChunkingConfig
from ragfusion.ingest.loaders import SUPPORTED_SUFFIXES, load_document
from ragfusion.types import Document

KB = Path(__file__).resolve().parents[1] / "examples" / "kb"
SEEDS = sorted(p for p in KB.rglob("*") if p.suffix in (".md", ".txt", ".html", ".pdf"))
DOCX_SEED = KB / "billing" / "subscription-plans.docx"
# Where "styles+xml" starts in the seed's [Content_Types].xml, as a mutation position.
_TYPES = zipfile.ZipFile(DOCX_SEED).read("[Content_Types].xml")
STYLES_TYPE_AT = (_TYPES.index(b"styles+xml") + 0.5) / len(_TYPES)
CHUNKER = Chunker(ChunkingConfig(max_tokens=32, overlap_tokens=4))
FUZZ = settings(
    deadline=timedelta(seconds=5),
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
_counter = itertools.count()


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("fuzz")


def load_or_error(folder: Path, suffix: str, data: bytes) -> Document | None:
    """Load ``data`` saved under ``suffix``; only a Document or a LoadError is acceptable."""
    count_case()
    try:
        return _check_load(folder, suffix, data)
    except BaseException:
        save_loader_regression(suffix, data)
        raise


def _check_load(folder: Path, suffix: str, data: bytes) -> Document | None:
    path = folder / f"f{next(_counter)}{suffix}"
    path.write_bytes(data)
    try:
        document = load_document(path)
    except LoadError as exc:
        assert exc.path == str(path.resolve()) and exc.reason.strip()
        assert "failed unexpectedly" not in exc.reason, exc.reason  # caught by the safety net
        return None
    finally:
        path.unlink()
    assert document.text.strip() and document.title.strip()
    assert all(0 <= s.start <= len(document.text) for s in document.sections)
    for chunk in CHUNKER.split(document):
        assert document.text[chunk.start : chunk.end] == chunk.text
    return document


mutation = st.tuples(
    st.sampled_from(["flip", "cut", "insert", "truncate"]),
    st.floats(0, 1),
    st.binary(min_size=1, max_size=64),
)


def mutate(data: bytes, ops: list[tuple[str, float, bytes]]) -> bytes:
    buf = bytearray(data)
    for kind, where, payload in ops:
        at = int(where * len(buf))
        if kind == "flip" and buf:
            at = min(at, len(buf) - 1)
            buf[at] ^= payload[0] or 0xFF
        elif kind == "cut":
            del buf[at : at + len(payload) * 8]
        elif kind == "insert":
            buf[at:at] = payload
        else:
            del buf[at:]
    return bytes(buf)


@settings(FUZZ, max_examples=examples(300))
@given(suffix=st.sampled_from(SUPPORTED_SUFFIXES), data=st.binary(max_size=4096))
def test_random_bytes(workdir: Path, suffix: str, data: bytes) -> None:
    load_or_error(workdir, suffix, data)


@settings(FUZZ, max_examples=examples(300))
@given(
    suffix=st.sampled_from(SUPPORTED_SUFFIXES),
    text=st.text(max_size=2000),
    encoding=st.sampled_from(["utf-8", "utf-8-sig", "utf-16", "cp1252"]),
)
def test_random_text(workdir: Path, suffix: str, text: str, encoding: str) -> None:
    data = text.encode(encoding, errors="replace")
    document = load_or_error(workdir, suffix, data)
    if document is not None and suffix in (".txt", ".text") and encoding == "utf-8":
        assert document.text == text.removeprefix("\ufeff")  # plain UTF-8 text round-trips


@settings(FUZZ, max_examples=examples(300))
@given(seed=st.sampled_from(SEEDS), ops=st.lists(mutation, min_size=1, max_size=6))
def test_mutated_example_files(
    workdir: Path, seed: Path, ops: list[tuple[str, float, bytes]]
) -> None:
    load_or_error(workdir, seed.suffix, mutate(seed.read_bytes(), ops))


@settings(FUZZ, max_examples=examples(80))
# Found on a fresh machine: a byte flipped in the styles part's content type left python-docx
# with a generic Part where the styles should be (AttributeError: no attribute 'styles').
@example(member="[Content_Types].xml", ops=[("flip", STYLES_TYPE_AT, b"\x09")])
@given(
    member=st.sampled_from(["word/document.xml", "word/styles.xml", "[Content_Types].xml"]),
    ops=st.lists(mutation, min_size=1, max_size=4),
)
def test_mutated_docx_xml(workdir: Path, member: str, ops: list[tuple[str, float, bytes]]) -> None:
    """Edit one XML part inside an otherwise valid .docx zip."""
    out = io.BytesIO()
    with zipfile.ZipFile(DOCX_SEED) as src, zipfile.ZipFile(out, "w") as dst:
        for info in src.infolist():
            data = src.read(info)
            dst.writestr(info, mutate(data, ops) if info.filename == member else data)
    load_or_error(workdir, ".docx", out.getvalue())


tags = st.sampled_from(
    [
        *("div", "p", "span", "h1", "h3", "li", "ul", "table", "tr", "td", "pre", "script"),
        *("nav", "article", "header", "br", "b", "!--", "title", "body", "html", "template"),
        "svg",
    ]
)
fragment = st.one_of(
    st.builds(lambda t: f"<{t}>", tags),
    st.builds(lambda t: f"</{t}>", tags),
    st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=30),
    st.sampled_from(["&amp;", "&#0;", "&lt;", "<", ">", "<!DOCTYPE html>", "\n\n", "# not"]),
)


@settings(FUZZ, max_examples=examples(250))
@given(parts=st.lists(fragment, max_size=80))
def test_random_html_structure(workdir: Path, parts: list[str]) -> None:
    load_or_error(workdir, ".html", "".join(parts).encode("utf-8", "surrogatepass"))


# what the fuzzing found ---------------------------------------------------------------------
def test_docx_with_damaged_core_properties_still_loads(workdir: Path) -> None:
    """A mutated [Content_Types].xml made python-docx fail reading the core properties (an
    AttributeError that stopped the whole ingest); the title now falls back instead."""
    out = io.BytesIO()
    with zipfile.ZipFile(DOCX_SEED) as src, zipfile.ZipFile(out, "w") as dst:
        for info in src.infolist():
            data = src.read(info)
            if info.filename == "[Content_Types].xml":
                data = data.replace(b"package.core-properties+xml", b"package.damaged+xml")
                assert b"damaged" in data
            dst.writestr(info, data)
    document = load_or_error(workdir, ".docx", out.getvalue())
    assert document is not None and document.title


def test_docx_without_a_styles_part_names_the_problem(workdir: Path) -> None:
    """The fresh-machine failure: the styles part's content type is unknown, so python-docx
    has a generic Part instead of the styles; the error must say so, not 'unexpectedly'."""
    out = io.BytesIO()
    with zipfile.ZipFile(DOCX_SEED) as src, zipfile.ZipFile(out, "w") as dst:
        for info in src.infolist():
            data = src.read(info)
            if info.filename == "[Content_Types].xml":
                data = data.replace(b"wordprocessingml.styles+xml", b"wordprocessingml.stylez+xml")
            dst.writestr(info, data)
    path = workdir / "no-styles.docx"
    path.write_bytes(out.getvalue())
    with pytest.raises(LoadError) as caught:
        load_document(path)
    assert "has no styles part" in caught.value.reason
    assert "re-save it in a word processor" in caught.value.reason


@pytest.mark.parametrize(
    "missing",
    ["word/document.xml", "word/styles.xml", "word/_rels/document.xml.rels", "_rels/.rels"],
)
def test_docx_with_a_missing_part_loads_or_is_a_clear_error(workdir: Path, missing: str) -> None:
    out = io.BytesIO()
    with zipfile.ZipFile(DOCX_SEED) as src, zipfile.ZipFile(out, "w") as dst:
        for info in src.infolist():
            if info.filename != missing:
                dst.writestr(info, src.read(info))
    document = load_or_error(workdir, ".docx", out.getvalue())  # never "failed unexpectedly"
    if missing in ("word/document.xml", "_rels/.rels"):  # no main document part: no text
        assert document is None


def test_an_unexpected_loader_failure_costs_only_that_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.conftest import HashEmbedder

    from ragfusion import Pipeline, PipelineConfig
    from ragfusion.ingest.loaders import html as html_loader

    def broken(data: bytes, path: str, stem: str) -> object:
        raise RuntimeError("parser bug")

    monkeypatch.setattr(html_loader, "load_html", broken)
    (tmp_path / "a.html").write_text("<p>Some page.</p>")
    (tmp_path / "b.txt").write_text("A text file that loads.")
    with Pipeline.open(tmp_path / "idx", PipelineConfig(), embedder=HashEmbedder()) as pipe:  # type: ignore[arg-type]
        report = pipe.ingest([tmp_path / "a.html", tmp_path / "b.txt"])
    assert report.added == 1 and len(report.skipped) == 1
    assert "failed unexpectedly in the html loader (RuntimeError: parser bug)" in (
        report.skipped[0].reason
    )
