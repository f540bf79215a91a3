"""Tests for ragfusion.ingest.chunking with the real tokenizer of the bundled embedding model.

Only ``tokenizer.json`` of the bundled MiniLM is read (through the ``tokenizers`` library);
torch and sentence-transformers are never imported.
"""

from __future__ import annotations

import dataclasses
import itertools
import re
from collections.abc import Sequence
from pathlib import Path

import pytest
from tokenizers import Tokenizer

from ragfusion.embedders.sentence_transformers import bundled_minilm_path
from ragfusion.ingest.chunking import Chunker, ChunkingConfig, _is_heading_only, heading_path
from ragfusion.ingest.ids import document_id
from ragfusion.ingest.loaders import discover, load_document
from ragfusion.ingest.loaders.text import markdown_sections
from ragfusion.types import Chunk, Document, Section

KB = Path(__file__).resolve().parents[1] / "examples" / "kb"

# A line the chunker may drop on purpose: an ATX heading (Markdown, or HTML/DOCX rendered so).
_HEADING_LINE = re.compile(r"[ \t]{0,3}#{1,6}(?:[ \t]|$)")

CONFIGS = [ChunkingConfig(), ChunkingConfig(64, 16), ChunkingConfig(16, 0)]
CONFIG_IDS = ["200-32", "64-16", "16-0"]


# ---------------------------------------------------------------------------------------------
# Fixtures and helpers
# ---------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def tokenizer_file() -> Path:
    path = bundled_minilm_path() / "tokenizer.json"
    assert path.is_file()
    return path


@pytest.fixture(scope="module")
def counter(tokenizer_file: Path) -> Tokenizer:
    """The same tokenizer, for counting: the file enables padding/truncation to 128."""
    tokenizer = Tokenizer.from_file(str(tokenizer_file))
    tokenizer.no_padding()
    tokenizer.no_truncation()
    return tokenizer


@pytest.fixture(scope="module")
def example_docs() -> list[Document]:
    files, skipped = discover([KB])
    assert skipped == []
    assert len(files) >= 12
    return [load_document(f) for f in files]


@pytest.fixture(scope="module")
def chunkers(tokenizer_file: Path) -> dict[ChunkingConfig, Chunker]:
    return {config: Chunker(config, tokenizer_file) for config in CONFIGS}


def make_doc(
    text: str,
    file_type: str = "md",
    *,
    title: str = "",
    source: str = "/kb/doc.md",
    sections: tuple[Section, ...] | None = None,
) -> Document:
    if sections is None:
        sections = markdown_sections(text) if file_type == "md" else ()
    return Document(
        doc_id=document_id(source),
        source=source,
        file_type=file_type,
        title=title,
        text=text,
        content_hash="0" * 64,
        sections=sections,
    )


def n_tokens(counter: Tokenizer, text: str) -> int:
    return len(counter.encode(text, add_special_tokens=False).ids)


def uncovered_content(text: str, chunks: Sequence[Chunk], start: int = 0, end: int = -1) -> str:
    """Non-white-space characters in ``text[start:end]`` that no chunk covers, except those
    on heading lines (which the chunker drops on purpose when they stand alone)."""
    end = len(text) if end < 0 else end
    covered = bytearray(len(text))
    for chunk in chunks:
        covered[chunk.start : chunk.end] = b"\x01" * (chunk.end - chunk.start)
    lost: list[str] = []
    offset = 0
    for line in text.split("\n"):
        line_end = offset + len(line)
        if line_end >= start and offset <= end and not _HEADING_LINE.match(line):
            for i in range(max(offset, start), min(line_end, end)):
                if not covered[i] and not text[i].isspace():
                    lost.append(text[i])
        offset = line_end + 1
    return "".join(lost)


def long_text(n: int = 60) -> str:
    return " ".join(f"Step {i} keeps the filter of the purifier clean." for i in range(n))


# ---------------------------------------------------------------------------------------------
# Invariants on every example document
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("config", CONFIGS, ids=CONFIG_IDS)
def test_chunks_are_exact_spans_of_the_document(
    example_docs: list[Document], chunkers: dict[ChunkingConfig, Chunker], config: ChunkingConfig
) -> None:
    for document in example_docs:
        chunks = chunkers[config].split(document)
        assert chunks, document.source
        for chunk in chunks:
            assert 0 <= chunk.start < chunk.end <= len(document.text)
            assert document.text[chunk.start : chunk.end] == chunk.text
            assert chunk.text.strip()
            assert chunk.doc_id == document.doc_id
            assert chunk.source == document.source
            assert chunk.file_type == document.file_type


@pytest.mark.parametrize("config", CONFIGS, ids=CONFIG_IDS)
def test_chunks_fit_the_token_budget(
    example_docs: list[Document],
    chunkers: dict[ChunkingConfig, Chunker],
    counter: Tokenizer,
    config: ChunkingConfig,
) -> None:
    largest = 0
    for document in example_docs:
        for chunk in chunkers[config].split(document):
            tokens = n_tokens(counter, chunk.text)
            assert tokens <= config.max_tokens, (document.source, chunk.ordinal, tokens)
            largest = max(largest, tokens)
    # The budget is actually used, not just respected by tiny chunks.
    assert largest > config.max_tokens // 2


@pytest.mark.parametrize("config", CONFIGS, ids=CONFIG_IDS)
def test_ordinals_order_and_ids(
    example_docs: list[Document], chunkers: dict[ChunkingConfig, Chunker], config: ChunkingConfig
) -> None:
    for document in example_docs:
        chunks = chunkers[config].split(document)
        assert [c.ordinal for c in chunks] == list(range(len(chunks)))
        assert [c.start for c in chunks] == sorted(c.start for c in chunks)
        assert len({c.chunk_id for c in chunks}) == len(chunks)
        assert all(re.fullmatch(r"[0-9a-f]{20}", c.chunk_id) for c in chunks)


@pytest.mark.parametrize("config", CONFIGS, ids=CONFIG_IDS)
def test_no_text_is_lost_between_chunks(
    example_docs: list[Document], chunkers: dict[ChunkingConfig, Chunker], config: ChunkingConfig
) -> None:
    for document in example_docs:
        chunks = chunkers[config].split(document)
        assert uncovered_content(document.text, chunks) == "", document.source
        for before, after in itertools.pairwise(chunks):
            # Overlapping, adjacent, or separated only by white space / dropped headings.
            if after.start > before.end:
                gap = uncovered_content(document.text, chunks, before.end, after.start)
                assert gap == "", (document.source, before.ordinal)


def test_small_budgets_split_every_example_into_several_chunks(
    example_docs: list[Document], chunkers: dict[ChunkingConfig, Chunker]
) -> None:
    for document in example_docs:
        assert len(chunkers[ChunkingConfig(64, 16)].split(document)) >= 3, document.source


def test_no_chunk_is_only_headings(
    example_docs: list[Document], chunkers: dict[ChunkingConfig, Chunker]
) -> None:
    for document in example_docs:
        for chunk in chunkers[ChunkingConfig(16, 0)].split(document):
            lines = [line for line in chunk.text.splitlines() if line.strip()]
            assert not all(_HEADING_LINE.match(line) for line in lines), chunk.text


def test_example_evidence_lands_in_a_chunk_with_its_heading(
    chunkers: dict[ChunkingConfig, Chunker],
) -> None:
    document = load_document(KB / "guides" / "wifi-troubleshooting.md")
    evidence = "press and hold the Wi-Fi button for 5 seconds until the Wi-Fi icon blinks quickly"
    for config in (ChunkingConfig(), ChunkingConfig(64, 16)):
        hits = [c for c in chunkers[config].split(document) if evidence in c.text]
        assert hits
        assert {c.heading for c in hits} == {"Put the purifier into pairing mode"}


def test_third_level_heading_breadcrumb_in_a_real_document(
    chunkers: dict[ChunkingConfig, Chunker],
) -> None:
    document = load_document(KB / "guides" / "wifi-troubleshooting.md")
    chunks = chunkers[ChunkingConfig()].split(document)
    offline = [c for c in chunks if "now shows as offline" in c.text]
    assert offline[0].heading == (
        "Fix common pairing problems > The purifier was connected but now shows as offline"
    )
    # The document title equals the H1, so it is not repeated in the breadcrumb.
    assert all(not c.heading.startswith(document.title + " > ") for c in chunks)


# ---------------------------------------------------------------------------------------------
# Ids: deterministic, and new when the text changes
# ---------------------------------------------------------------------------------------------


def test_chunk_ids_are_deterministic_across_runs(
    example_docs: list[Document], tokenizer_file: Path
) -> None:
    config = ChunkingConfig(64, 16)
    first_run, second_run = Chunker(config, tokenizer_file), Chunker(config, tokenizer_file)
    first = [c for d in example_docs for c in first_run.split(d)]
    second = [c for d in example_docs for c in second_run.split(d)]
    assert first == second
    assert [c.chunk_id for c in first] == [c.chunk_id for c in second]


def test_chunk_ids_change_when_the_text_changes(chunkers: dict[ChunkingConfig, Chunker]) -> None:
    chunker = chunkers[ChunkingConfig(64, 16)]
    text = long_text()
    original = chunker.split(make_doc(text, "txt"))
    edited_text = text.replace("Step 1 keeps", "Step 1 wipes", 1)  # same length
    assert len(edited_text) == len(text)
    edited = chunker.split(make_doc(edited_text, "txt"))
    assert len(original) == len(edited) > 3
    assert original[0].chunk_id != edited[0].chunk_id
    # Chunks whose span and text did not change keep their ids.
    assert [c.chunk_id for c in original[-2:]] == [c.chunk_id for c in edited[-2:]]


def test_an_insertion_gives_new_ids_to_the_unchanged_chunks_after_it(
    chunkers: dict[ChunkingConfig, Chunker],
) -> None:
    # As documented in ragfusion.ingest.ids: ids include offsets, so shifted text gets new ids.
    chunker = chunkers[ChunkingConfig(64, 16)]
    text = long_text()
    original = {c.text: c.chunk_id for c in chunker.split(make_doc(text, "txt"))}
    edited = {c.text: c.chunk_id for c in chunker.split(make_doc("Note. " + text, "txt"))}
    same_text = set(original) & set(edited)
    assert len(same_text) > 3
    assert all(original[t] != edited[t] for t in same_text)


def test_chunk_ids_depend_on_the_document(chunkers: dict[ChunkingConfig, Chunker]) -> None:
    chunker = chunkers[ChunkingConfig(64, 16)]
    a = chunker.split(make_doc(long_text(10), "txt", source="/kb/a.txt"))
    b = chunker.split(make_doc(long_text(10), "txt", source="/kb/b.txt"))
    assert [c.text for c in a] == [c.text for c in b]
    assert not {c.chunk_id for c in a} & {c.chunk_id for c in b}


# ---------------------------------------------------------------------------------------------
# Overlap
# ---------------------------------------------------------------------------------------------


def test_overlap_makes_consecutive_chunks_share_text(
    tokenizer_file: Path, counter: Tokenizer
) -> None:
    document = make_doc(long_text(), "txt")
    with_overlap = Chunker(ChunkingConfig(32, 16), tokenizer_file).split(document)
    without = Chunker(ChunkingConfig(32, 0), tokenizer_file).split(document)
    pairs = list(itertools.pairwise(with_overlap))
    assert pairs
    assert all(after.start < before.end for before, after in pairs)
    assert all(after.start >= before.end for before, after in itertools.pairwise(without))
    assert len(with_overlap) > len(without)
    assert all(n_tokens(counter, c.text) <= 32 for c in with_overlap)


# ---------------------------------------------------------------------------------------------
# Markdown structure
# ---------------------------------------------------------------------------------------------

CLEANING = "## Cleaning\n\n" + "Wipe the outer shell with a soft dry cloth every week. " * 3
STORAGE = "## Storage\n\n" + "Keep the purifier in a cool and dry place when unused. " * 3


@pytest.mark.parametrize("file_type", ["md", "html", "docx"])
def test_markdown_like_text_splits_at_headings(
    tokenizer_file: Path, counter: Tokenizer, file_type: str
) -> None:
    text = CLEANING.strip() + "\n\n" + STORAGE.strip() + "\n"
    capacity = 64
    for section in (CLEANING, STORAGE):
        assert n_tokens(counter, section.strip()) < capacity
    assert n_tokens(counter, text) > capacity  # together they do not fit
    document = make_doc(text, file_type, sections=markdown_sections(text))
    chunks = Chunker(ChunkingConfig(capacity, 0), tokenizer_file).split(document)
    assert [c.text for c in chunks] == [CLEANING.strip(), STORAGE.strip()]
    assert [c.heading for c in chunks] == ["Cleaning", "Storage"]


def test_plain_text_is_not_split_at_markdown_headings(tokenizer_file: Path) -> None:
    text = CLEANING.strip() + "\n\n" + STORAGE.strip() + "\n"
    document = make_doc(text, "txt")
    chunks = Chunker(ChunkingConfig(200, 0), tokenizer_file).split(document)
    assert [c.text for c in chunks] == [text.strip()]
    assert chunks[0].heading == ""


def test_everything_fits_in_one_chunk_under_a_large_budget(tokenizer_file: Path) -> None:
    text = "# Guide\n\n" + CLEANING.strip() + "\n\n" + STORAGE.strip()
    document = make_doc(text, title="Guide")
    chunks = Chunker(ChunkingConfig(200, 0), tokenizer_file).split(document)
    assert len(chunks) == 1
    assert (chunks[0].start, chunks[0].end) == (0, len(text))
    assert chunks[0].heading == "Guide"


def test_heading_only_pieces_are_dropped_and_ordinals_stay_contiguous(
    tokenizer_file: Path,
) -> None:
    body = " ".join(f"Sentence {i} describes the purifier in some detail." for i in range(30))
    text = "# Big title\n\n## Section one\n\n" + body
    document = make_doc(text, title="Big title")
    chunks = Chunker(ChunkingConfig(32, 0), tokenizer_file).split(document)
    assert chunks[0].text.startswith("Sentence 0 ")
    assert not any(c.text.lstrip().startswith("#") for c in chunks)
    assert [c.ordinal for c in chunks] == list(range(len(chunks)))
    assert {c.heading for c in chunks} == {"Section one"}  # title dropped from the breadcrumb
    assert uncovered_content(text, chunks) == ""


@pytest.mark.parametrize("file_type", ["txt", "md", "html", "docx", "pdf"])
@pytest.mark.parametrize(
    "line",
    [
        "#1 Always unplug the purifier before you clean it with a cloth.",
        "#cleanair #purifier tips for a fresh and clean living room.",
        "#######  Seven hashes are not a heading in any Markdown flavour.",
    ],
    ids=["numbered", "hashtags", "seven-hashes"],
)
def test_lines_starting_with_hash_that_are_not_headings_are_kept(
    tokenizer_file: Path, file_type: str, line: str
) -> None:
    text = "Safety rules.\n\n" + line
    chunks = Chunker(ChunkingConfig(16, 0), tokenizer_file).split(make_doc(text, file_type))
    assert uncovered_content(text, chunks) == ""
    assert any(line[:12] in c.text for c in chunks)


@pytest.mark.parametrize("file_type", ["txt", "pdf"])
def test_plain_text_never_drops_heading_like_lines(tokenizer_file: Path, file_type: str) -> None:
    # In plain text and PDF a '# ...' line is content, even when it stands alone in a chunk.
    text = "# Chapter one\n\n" + long_text(10)
    chunks = Chunker(ChunkingConfig(16, 0), tokenizer_file).split(make_doc(text, file_type))
    assert chunks[0].text.startswith("# Chapter one")


def test_code_comments_from_html_pre_are_not_dropped_as_headings(
    tmp_path: Path, tokenizer_file: Path
) -> None:
    comments = "\n".join(f"# step {i}: rinse the pre-filter under warm water" for i in range(8))
    page = tmp_path / "script.html"
    page.write_text(f"<h1>Cleaning script</h1><pre>{comments}</pre><p>Done.</p>", "utf-8")
    document = load_document(page)
    assert [s.title for s in document.sections] == ["Cleaning script"]
    chunks = Chunker(ChunkingConfig(16, 0), tokenizer_file).split(document)
    for i in range(8):
        assert any(f"# step {i}:" in c.text for c in chunks), i


@pytest.mark.parametrize(
    ("text", "piece", "expected"),
    [
        ("# Title\n\nBody.", "# Title", True),
        ("Intro.\n   ## Sub\n", "## Sub", True),  # the splitter trimmed 3 spaces of indent
        ("Intro.\n    # code comment\n", "# code comment", False),  # trimmed 4: code
        ("A price of # 5 per unit", "# 5 per unit", False),  # a piece starting mid-line
        ("x" * 40 + " # 5 per unit", "# 5 per unit", False),  # ... far into a long line
        ("Intro.\n#hashtag\n", "#hashtag", False),
    ],
)
def test_is_heading_only_judges_the_first_line_as_it_stands_in_the_document(
    text: str, piece: str, expected: bool
) -> None:
    start = text.index(piece)
    assert _is_heading_only(make_doc(text), start, piece) is expected
    assert _is_heading_only(make_doc(text, "txt"), start, piece) is False


def test_markdown_heading_only_chunks_are_still_dropped(tokenizer_file: Path) -> None:
    text = "# Title\n\n## Part ##\n\n   ### Indented up to three spaces\n\n" + long_text(4)
    chunks = Chunker(ChunkingConfig(16, 0), tokenizer_file).split(make_doc(text))
    assert chunks
    assert all("#" not in c.text for c in chunks)


@pytest.mark.parametrize("text", ["", "   ", "\n\n\t\n"])
def test_blank_documents_give_no_chunks(tokenizer_file: Path, text: str) -> None:
    assert Chunker(ChunkingConfig(), tokenizer_file).split(make_doc(text, "txt")) == []


# ---------------------------------------------------------------------------------------------
# heading_path
# ---------------------------------------------------------------------------------------------

SECTIONS = (
    Section("Manual", 1, 0),
    Section("Setup", 2, 10),
    Section("Cleaning", 2, 30),
    Section("Filters", 3, 50),
    Section("Support", 2, 70),
    Section("Appendix", 1, 90),
)


@pytest.mark.parametrize(
    ("offset", "expected"),
    [
        (0, "Manual"),
        (9, "Manual"),
        (10, "Manual > Setup"),
        (29, "Manual > Setup"),
        (30, "Manual > Cleaning"),
        (49, "Manual > Cleaning"),
        (50, "Manual > Cleaning > Filters"),
        (69, "Manual > Cleaning > Filters"),
        (70, "Manual > Support"),
        (90, "Appendix"),
        (10_000, "Appendix"),
    ],
)
def test_heading_path_breadcrumbs(offset: int, expected: str) -> None:
    assert heading_path(SECTIONS, offset) == expected


def test_heading_path_before_the_first_heading_is_empty() -> None:
    assert heading_path((Section("Late", 1, 20),), 5) == ""
    assert heading_path((), 5, title="Doc") == ""


def test_heading_path_drops_the_document_title_only_when_deeper_headings_exist() -> None:
    assert heading_path(SECTIONS, 55, title="Manual") == "Cleaning > Filters"
    assert heading_path(SECTIONS, 15, title="Manual") == "Setup"
    assert heading_path(SECTIONS, 5, title="Manual") == "Manual"  # nothing else to show
    assert heading_path(SECTIONS, 55, title="Other") == "Manual > Cleaning > Filters"
    assert heading_path(SECTIONS, 95, title="Manual") == "Appendix"


def test_heading_path_handles_skipped_levels() -> None:
    sections = (Section("A", 1, 0), Section("Deep", 4, 5), Section("B", 2, 10))
    assert heading_path(sections, 7) == "A > Deep"
    assert heading_path(sections, 12) == "A > B"


# ---------------------------------------------------------------------------------------------
# Configuration and the fallback without a tokenizer
# ---------------------------------------------------------------------------------------------


def test_config_defaults() -> None:
    config = ChunkingConfig()
    assert (config.max_tokens, config.overlap_tokens) == (200, 32)
    with pytest.raises(dataclasses.FrozenInstanceError):
        config.max_tokens = 10  # type: ignore[misc]


@pytest.mark.parametrize(
    ("max_tokens", "overlap"),
    [(15, 0), (0, 0), (-5, 0), (16, 16), (32, 40), (32, -1)],
)
def test_config_rejects_bad_values(max_tokens: int, overlap: int) -> None:
    with pytest.raises(ValueError, match=r"max_tokens|overlap_tokens"):
        ChunkingConfig(max_tokens, overlap)


@pytest.mark.parametrize(("max_tokens", "overlap"), [(16, 0), (16, 15), (512, 0)])
def test_config_accepts_boundary_values(max_tokens: int, overlap: int) -> None:
    assert ChunkingConfig(max_tokens, overlap).max_tokens == max_tokens


def test_fallback_without_tokenizer_counts_four_characters_per_token(
    example_docs: list[Document],
) -> None:
    config = ChunkingConfig(32, 8)
    chunker = Chunker(config)
    for document in example_docs:
        chunks = chunker.split(document)
        assert len(chunks) > 3
        for chunk in chunks:
            assert document.text[chunk.start : chunk.end] == chunk.text
            assert len(chunk.text) <= config.max_tokens * 4
        assert [c.ordinal for c in chunks] == list(range(len(chunks)))
        assert uncovered_content(document.text, chunks) == ""


def test_fallback_without_tokenizer_is_deterministic_and_splits_at_headings() -> None:
    text = CLEANING.strip() + "\n\n" + STORAGE.strip()
    document = make_doc(text)
    first = Chunker(ChunkingConfig(50, 0)).split(document)  # 200 characters
    second = Chunker(ChunkingConfig(50, 0)).split(document)
    assert first == second
    assert [c.text for c in first] == [CLEANING.strip(), STORAGE.strip()]
