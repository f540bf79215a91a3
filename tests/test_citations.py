from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ragfusion.answering.citations import (
    CitationFilter,
    attribute,
    parse_marker,
    sentence_spans,
    validate_citations,
)


def stream_through(text: str, passages: int, piece: int) -> tuple[str, CitationFilter]:
    flt = CitationFilter(passages)
    out = "".join(flt.feed(text[i : i + piece]) for i in range(0, len(text), piece))
    return out + flt.finish(), flt


def test_valid_markers_are_kept_and_recorded_in_order() -> None:
    text, cited, removed = validate_citations("Filters last 6 months [2]. Reset it [1].", 3)
    assert text == "Filters last 6 months [2]. Reset it [1]."
    assert cited == [2, 1]
    assert removed == []


def test_invalid_numbers_are_removed() -> None:
    text, cited, removed = validate_citations("A [4] b [0] c [2].", 3)
    assert text == "A  b  c [2]."
    assert cited == [2]
    assert removed == [4, 0]


def test_lists_and_ranges_are_split_into_single_markers() -> None:
    text, cited, _ = validate_citations("See [1, 3] and [2-3] and [5, 1].", 3)
    assert text == "See [1][3] and [2][3] and [1]."
    assert cited == [1, 3, 2]


def test_brackets_that_are_not_citations_pass_through() -> None:
    raw = "Use [Settings > Filter] then [b] or [1a] and arrays a[i]."
    text, cited, _ = validate_citations(raw, 3)
    assert text == raw
    assert cited == []


def test_unterminated_bracket_is_flushed_at_the_end() -> None:
    text, _, _ = validate_citations("ends with [12", 20)
    assert text == "ends with [12"


def test_parse_marker_bounds_ranges() -> None:
    assert parse_marker("1-3") == [1, 2, 3]
    assert parse_marker("3-1") == []
    assert parse_marker("1-999") == []  # absurd range ignored


@given(st.text(alphabet="ab [],0123456789-.", max_size=60), st.integers(1, 7), st.integers(1, 5))
def test_streaming_in_any_pieces_equals_whole_text(text: str, piece: int, passages: int) -> None:
    whole, _, _ = validate_citations(text, passages)
    streamed, _ = stream_through(text, passages, piece)
    assert streamed == whole


@given(st.text(alphabet="ab [],0123456789", max_size=60), st.integers(1, 5))
def test_output_never_cites_an_invalid_passage(text: str, passages: int) -> None:
    out, cited, _ = validate_citations(text, passages)
    assert all(1 <= n <= passages for n in cited)
    _, _, removed = validate_citations(out, passages)
    assert removed == []


def test_sentence_spans_slice_the_text_exactly() -> None:
    text = (
        "# Title\n\nFirst sentence wraps\nacross lines. Second one!\n- item one\n"
        "- item two\n\n1. step one. More.\nE4 | Fan stalled | Restart"
    )
    spans = sentence_spans(text, headings=False)
    got = [text[a:b] for a, b in spans]
    assert got == [
        "First sentence wraps\nacross lines.",
        "Second one!",
        "item one",
        "item two",
        "step one.",
        "More.",
        "E4 | Fan stalled | Restart",
    ]
    assert "Title" in [text[a:b] for a, b in sentence_spans(text)]


def test_an_abbreviation_or_initial_ends_no_sentence() -> None:
    text = (
        "The Trout River, a tributary of the St. Johns River, lies in Jacksonville. "
        "W. E. B. Du Bois and Rep. Joe Barton wrote to the U.S. Senate in Jan. 2005. "
        "Use a swab, e.g. a cotton one, then dry it. It costs $5. Check it again."
    )
    assert [text[a:b] for a, b in sentence_spans(text)] == [
        "The Trout River, a tributary of the St. Johns River, lies in Jacksonville.",
        "W. E. B. Du Bois and Rep. Joe Barton wrote to the U.S. Senate in Jan. 2005.",
        "Use a swab, e.g. a cotton one, then dry it.",
        "It costs $5.",
        "Check it again.",
    ]


@given(st.text(max_size=200))
def test_sentence_spans_are_ordered_trimmed_and_in_bounds(text: str) -> None:
    last = 0
    for a, b in sentence_spans(text):
        assert last <= a < b <= len(text)
        assert text[a:b] == text[a:b].strip()
        last = b


@pytest.mark.parametrize(
    ("sentence", "expected"),
    [
        ("Replace the HEPA filter every six months.", 2),
        ("Pairing needs the 2.4 GHz band.", 1),
        ("Something unrelated entirely.", None),
    ],
)
def test_attribution_picks_the_supporting_passage(sentence: str, expected: int | None) -> None:
    passages = [
        "Press Wi-Fi for 5 seconds to start pairing; use the 2.4 GHz band.",
        "Replace the HEPA filter every six months, or when the light turns red.",
    ]
    assert attribute(sentence, passages) == expected
