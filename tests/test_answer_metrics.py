"""The answer benchmark's scoring (benchmarks/answer_metrics.py): pure functions."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
from answer_metrics import is_correct, says_dont_know

from ragfusion.answering.answerer import NOT_FOUND_TEXT, WEAK_EVIDENCE_TEXT


@pytest.mark.parametrize(
    "text",
    [
        "I don't know.",
        WEAK_EVIDENCE_TEXT,
        NOT_FOUND_TEXT,
        "The context does not provide information about the warranty.",
        "The provided documents do not mention a CADR for dust.",
        "This is not covered in the passages.",
        "There is no information about that.",
        "",
    ],
)
def test_saying_the_sources_do_not_answer_is_abstaining(text: str) -> None:
    assert says_dont_know(text)


@pytest.mark.parametrize(
    "text",
    [
        "Unplug the purifier and let it cool for 30 minutes. Check that the air inlets are "
        "not covered. [1]",
        "If the app cannot find your purifier, turn on Bluetooth. [1]",
        "The warranty does not cover damage from misuse. [1]",
    ],
)
def test_an_answer_that_says_not_is_not_abstaining(text: str) -> None:
    assert not says_dont_know(text)


def test_correct_needs_whole_words_and_on_the_knowledge_base_every_number() -> None:
    assert is_correct("Replace it every 6 months. [1]", ["6 months"])
    assert not is_correct("Replace it every 16 months.", ["6 months"])
    long_gold = "Press and hold the Power button for 2 seconds; the fan starts at speed 1."
    assert not is_correct("Hold the Power button for 2 seconds.", ["Power button"], long_gold)
    assert is_correct(
        "Hold the Power button for 2 seconds. The fan starts at speed 1.",
        ["Power button"],
        long_gold,
    )
    assert is_correct("Use the LF-13 filter.", ["LF-13"], "The LF-13 filter.")  # a code
