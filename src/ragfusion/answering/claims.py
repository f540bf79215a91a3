"""Checkable claims of an answer sentence: the numbers, codes, dates, names and quantities it
states, and whether the passage it cites states them too.

A small model's typical error is a wrong number or code beside a valid citation ("every 3
months [1]" where passage 1 says 6). Such facts are easy to check exactly: each must occur in
the cited passage. Words that carry meaning without being facts of this kind ("stalled",
"blocked") are not checked here; the reader quotes passages for that reason.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass

from ragfusion.answering.citations import parse_marker, strip_markers

_MARKER = re.compile(r"\[\s*(\d+(?:\s*(?:[,;]|-|–)\s*\d+)*)\s*\]")
_NUMBER = re.compile(r"(?<![\w.])\d+(?:[.,]\d+)*(?![\w])")
_CODE = re.compile(
    r"\b(?=[A-Za-z0-9-]*\d)(?=[A-Za-z0-9-]*[A-Za-z])[A-Za-z0-9]+(?:-[A-Za-z0-9]+)*\b"
)
_WORD_NUMBERS = {
    "one": "1", "two": "2", "three": "3", "four": "4", "five": "5", "six": "6", "seven": "7",
    "eight": "8", "nine": "9", "ten": "10", "eleven": "11", "twelve": "12", "twenty": "20",
    "thirty": "30", "hundred": "100", "once": "1", "twice": "2",
}  # fmt: skip
_NAME = re.compile(r"(?<=[a-z,;:] )[A-Z][\w-]+(?:\s+[A-Z][\w-]+)*")
_MONTH = re.compile(
    r"\b(?:january|february|march|april|may|june|july|august|september|october|november|"
    r"december)\b",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class ClaimCheck:
    sentence: str
    cited: tuple[int, ...]
    facts: tuple[str, ...]  # what the sentence states that can be checked
    missing: tuple[str, ...]  # the facts the cited passages do not state

    @property
    def supported(self) -> bool:
        return not self.missing


def _normalise(text: str) -> str:
    text = " ".join(unicodedata.normalize("NFKC", text).lower().split())
    return re.sub(r"(?<=\d),(?=\d{3}\b)", "", text)  # 1,000 -> 1000


def facts(sentence: str) -> list[str]:
    """The numbers, codes, month names and proper names a sentence states."""
    text = strip_markers(sentence)
    found: list[str] = []
    for code in _CODE.findall(text):
        found.append(code)
    for number in _NUMBER.findall(text):
        if not any(number in code for code in found):
            found.append(number)
    found += _MONTH.findall(text)
    found += [name for name in _NAME.findall(text) if len(name) > 2]
    return list(dict.fromkeys(found))


def _stated(fact: str, passage: str) -> bool:
    fact_n = _normalise(fact)
    if re.fullmatch(r"[\d.,]+", fact_n):
        numbers = set(_NUMBER.findall(passage))
        words = re.findall(r"[a-z]+", passage)
        numbers |= {_WORD_NUMBERS[w] for w in words if w in _WORD_NUMBERS}
        return fact_n in {_normalise(n) for n in numbers}
    return re.search(r"(?<!\w)" + re.escape(fact_n) + r"(?!\w)", passage) is not None


def check_sentence(sentence: str, passages: Sequence[str]) -> ClaimCheck:
    """Check one answer sentence against the passages it cites (all passages if it cites
    none; ``passages[n - 1]`` is passage ``n``)."""
    cited = tuple(
        n
        for match in _MARKER.finditer(sentence)
        for n in parse_marker(match.group(1))
        if 1 <= n <= len(passages)
    )
    sources = [passages[n - 1] for n in cited] if cited else list(passages)
    source_text = _normalise("\n".join(sources))
    stated = facts(sentence)
    missing = tuple(f for f in stated if not _stated(f, source_text))
    return ClaimCheck(sentence, tuple(dict.fromkeys(cited)), tuple(stated), missing)


# A sentence ends after . ! or ? and any citation markers that follow it ("... months. [1]").
_CITED_SENTENCE_END = re.compile(
    r"(?<=[.!?])[\"')\]]*(?:\s*\[\s*\d+(?:\s*(?:[,;]|-|–)\s*\d+)*\s*\])*(?=\s|$)|"
    r"(?<=\])(?=\s+[A-Z])"
)


def cited_sentences(text: str) -> list[tuple[int, int]]:
    """(start, end) of each sentence of an answer, its trailing ``[n]`` markers included."""
    spans = []
    start = 0
    for match in _CITED_SENTENCE_END.finditer(text):
        end = match.end()
        if text[start:end].strip():
            spans.append((start, end))
        start = end
    if text[start:].strip():
        spans.append((start, len(text)))
    out = []
    for a, b in spans:
        piece = text[a:b]
        a += len(piece) - len(piece.lstrip())
        b = a + len(text[a:b].rstrip())
        out.append((a, b))
    return out


def unsupported_sentences(sentences: Sequence[str], passages: Sequence[str]) -> list[ClaimCheck]:
    """The sentences stating a fact that the passage they cite does not state."""
    checks = (check_sentence(s, passages) for s in sentences)
    return [check for check in checks if not check.supported]
