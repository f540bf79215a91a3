"""The words of a question: stems, stop words, the codes and names it holds, what it is about."""

from __future__ import annotations

import itertools
import re
import unicodedata
from collections.abc import Callable, Sequence

_WORD = re.compile(r"[^\W_]+(?:[-'][^\W_]+)*")
# Product codes, error codes, model numbers: a token mixing letters and digits (E4, LF-13).
_CODE = re.compile(
    r"\b(?=[A-Za-z0-9-]*\d)(?=[A-Za-z0-9-]*[A-Za-z])[A-Za-z0-9]+(?:-[A-Za-z0-9]+)*\b"
)
_STOP = frozenset(
    [
        "a",
        "about",
        "above",
        "after",
        "again",
        "all",
        "also",
        "am",
        "an",
        "and",
        "any",
        "are",
        "as",
        "at",
        "be",
        "been",
        "before",
        "being",
        "below",
        "between",
        "both",
        "but",
        "by",
        "can",
        "could",
        "did",
        "do",
        "does",
        "doing",
        "done",
        "down",
        "during",
        "each",
        "either",
        "else",
        "ever",
        "every",
        "few",
        "for",
        "from",
        "further",
        "get",
        "gets",
        "getting",
        "got",
        "had",
        "has",
        "have",
        "having",
        "he",
        "her",
        "here",
        "hers",
        "him",
        "his",
        "how",
        "i",
        "if",
        "in",
        "into",
        "is",
        "it",
        "its",
        "itself",
        "just",
        "let",
        "me",
        "mine",
        "more",
        "most",
        "much",
        "must",
        "my",
        "need",
        "needs",
        "no",
        "nor",
        "not",
        "now",
        "of",
        "off",
        "on",
        "once",
        "only",
        "or",
        "other",
        "our",
        "ours",
        "out",
        "over",
        "own",
        "please",
        "same",
        "shall",
        "she",
        "should",
        "so",
        "some",
        "still",
        "such",
        "than",
        "that",
        "the",
        "their",
        "theirs",
        "them",
        "then",
        "there",
        "these",
        "they",
        "this",
        "those",
        "through",
        "to",
        "too",
        "under",
        "until",
        "up",
        "upon",
        "us",
        "very",
        "was",
        "we",
        "were",
        "what",
        "when",
        "where",
        "which",
        "while",
        "who",
        "whom",
        "whose",
        "why",
        "will",
        "with",
        "within",
        "without",
        "would",
        "you",
        "your",
        "yours",
        "yourself",
        "tell",
        "know",
        "want",
        "like",
        "use",
        "using",
        "used",
        "way",
        "happen",
        "happens",
    ]
)


_SUFFIXES = ("ings", "ing", "edly", "ed", "es", "s", "ly", "e")


def stem(word: str) -> str:
    """A light stemmer: "replacing", "replaced", "replaces" and "replace" all give "replac";
    "fixed" and "fixes" give "fix"."""
    for suffix in _SUFFIXES:
        shortest = 3 if suffix in ("ed", "es") else 4
        if (
            len(word) - len(suffix) >= shortest
            and word.endswith(suffix)
            and not word.endswith("ss")
        ):
            return word[: -len(suffix)]
    return word


def words(text: str) -> list[str]:
    """Lower-cased, lightly stemmed words without stop words; a hyphenated word also gives
    its parts ("wi-fi", "wi", "fi") and a possessive its noun ("hx2's" -> "hx2")."""
    out = []
    for word in _WORD.findall(text.lower()):
        word = word.removesuffix("'s").removesuffix("’s")
        parts = re.split(r"[-']", word)
        for token in [word, *parts] if len(parts) > 1 else [word]:
            if token not in _STOP and len(token) > 1:
                out.append(stem(token))
    return out


def word_pairs(sequence: Sequence[str]) -> set[tuple[str, str]]:
    return set(itertools.pairwise(sequence))


_NOT_A_CODE = re.compile(r"\d+(?:s|st|nd|rd|th|d|k|x|m|cm|mm|km|kg|g|gb|mb|h|am|pm)", re.I)


def question_codes(question: str) -> set[str]:
    """Codes the question names: letters and digits mixed, few letters (E4, LF-13, HX2,
    PM2.5), not decades, ordinals or quantities (1960s, 21st, 3D, 10kg)."""
    codes = set()
    for code in _CODE.findall(question):
        letters = sum(ch.isalpha() for ch in code)
        if letters <= 4 and not _NOT_A_CODE.fullmatch(code):
            codes.add(code.lower())
    return codes


_SENTENCES = re.compile(r"(?<=[.?!])\s+(?=\S)")
_DEFINITION = re.compile(
    r"^\s*(?:what|who)\s+(?:is|are|was|were|does|do)\s+(?:an?\s+|the\s+)?(.+?)"
    r"(?:\s+(?:do|mean|stand for|for|used for|look like))?\s*\??\s*$",
    re.IGNORECASE,
)
_WHICH = re.compile(r"\b(?:which|what)\s+(?:kind of\s+|type of\s+)?([a-z]+(?:\s+[a-z]+)?)", re.I)
# "Is there a student discount?": the thing asked about must exist in the documents.
_EXISTS = re.compile(r"\b(?:is|are) there (?:an?|any|some)\s+([a-z]+(?:\s+[a-z]+)?)", re.I)
_NOT_A_FOCUS = frozenset(
    [
        "is",
        "are",
        "was",
        "were",
        "does",
        "do",
        "did",
        "can",
        "could",
        "should",
        "would",
        "will",
        "may",
        "might",
        "has",
        "have",
        "had",
    ]
)


def last_sentence(question: str) -> str:
    """The question proper: the last sentence of a question that gives context first."""
    parts = [p for p in _SENTENCES.split(question.strip()) if p.strip()]
    return parts[-1] if parts else question


def focus_phrases(question: str) -> list[str]:
    """What a question is about: X in "what is X" / "what does X do", the noun after
    "which" or "what" ("which languages", "what colour")."""
    found = []
    definition = _DEFINITION.match(question)
    if definition and len(definition.group(1).split()) <= 5:
        found.append(definition.group(1))
    for match in _WHICH.finditer(question):
        if match.group(1).split()[0].lower() not in _NOT_A_FOCUS:
            found.append(match.group(1))
    return found + [match.group(1) for match in _EXISTS.finditer(question)]


# Words that name the kind of value asked for ("what percentage", "which colour"): the
# documents state the value (99.97 %, amber), seldom the word.
_VALUE_WORDS = frozenset(
    [
        "percentage",
        "percent",
        "number",
        "amount",
        "price",
        "cost",
        "fee",
        "size",
        "time",
        "date",
        "year",
        "day",
        "month",
        "hour",
        "version",
        "temperature",
        "speed",
        "weight",
        "length",
        "height",
        "width",
        "depth",
        "distance",
        "rate",
        "ratio",
        "level",
        "kind",
        "type",
        "sort",
        "way",
        "name",
        "colour",
        "color",
        "model",
        "code",
        "part",
        "setting",
        "mode",
        "step",
        "thing",
        "one",
    ]
)


def _folded(word: str) -> str:
    decomposed = unicodedata.normalize("NFKD", word.lower())
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def _near(word: str, candidates: set[str]) -> bool:
    """``word`` or a spelling within one edit (two for long words) of it is a candidate:
    a question's "Celeron" is the documents' "Céloron"."""
    folded = _folded(word)
    if folded in candidates:
        return True
    allowed = 2 if len(folded) >= 9 else 1 if len(folded) >= 6 else 0
    return allowed > 0 and any(
        abs(len(c) - len(folded)) <= allowed and _edits(folded, c, allowed) <= allowed
        for c in candidates
    )


def _edits(a: str, b: str, limit: int) -> int:
    """Levenshtein distance of ``a`` and ``b``, or ``limit + 1`` once it exceeds ``limit``."""
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, start=1):
        current = [i]
        for j, cb in enumerate(b, start=1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (ca != cb)))
        if min(current) > limit:
            return limit + 1
        previous = current
    return previous[-1]


def unindexed_terms(question: str, is_indexed: Callable[[str], bool], passages: str) -> list[str]:
    """The names of ``question``, and what it asks exists ("is there a student discount"),
    that no indexed document holds, even spelt a little differently from the passages'
    words: the documents do not cover the question."""
    focus = [
        word
        for match in _EXISTS.finditer(last_sentence(question))
        for word in _WORD.findall(match.group(1))
        if word.lower() not in _STOP
        and stem(word.lower()) not in _VALUE_WORDS
        and word.lower() not in _VALUE_WORDS
    ]
    candidates = {_folded(w) for w in _WORD.findall(passages)}
    unknown = []
    for term in dict.fromkeys([*salient_terms(question), *focus]):
        if not is_indexed(term) and not _near(term, candidates):
            unknown.append(term)
    return unknown


def salient_terms(question: str) -> list[str]:
    """Names in a question: capitalised words of three letters or more that do not open a
    sentence ("Australia", "SmartThings", "FIFA"; not "I", "OK" or "TV")."""
    out = []
    for match in _WORD.finditer(question):
        word = match.group()
        before = question[: match.start()].rstrip()
        opens = not before or before[-1] in ".?!:;\"'("
        if word[0].isupper() and not opens and len(word) > 2:
            out.append(word)
    return list(dict.fromkeys(out))
