"""The reader: find the part of the passages that answers the question, and quote it.

The passages are cut into answer units (sentences, list items, table rows with their header,
``key: value`` lines), each with exact offsets into its chunk. Every unit is scored against
the question by the bundled embedder (the unit with its heading and, for a table row, the
column names), by the share of the question's distinctive words it holds, by whether it holds
what the question asks for (a "how often" question wants a frequency, "how much" a price, a
code such as E4 wants that code) and by the fused rank of its passage. The best unit is the
answer, quoted with a citation to its exact characters, so nothing in it can be invented.

The same signals say when the passages do not answer: a code or name the question asks about
that no passage mentions, or a best unit that is neither similar to the question nor holds
its distinctive words. Then the reader abstains instead of quoting something beside the point.
"""

from __future__ import annotations

import itertools
import math
import re
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ragfusion.answering.citations import sentence_spans
from ragfusion.answering.injection import flagged_paragraphs
from ragfusion.embedders.base import Embedder
from ragfusion.types import Citation, Hit


@dataclass(frozen=True)
class ReaderSettings:
    """Weights of the unit score and the abstain rule; the defaults were chosen on the train
    split of the public QA set (benchmarks/answers.py --tune, see benchmarks/RESULTS.md)."""

    overlap: float = 0.35  # share of the question's distinctive words (idf-weighted)
    answer_type: float = 0.12  # holds what the question asks for (+) or not (-)
    code: float = 0.3  # holds the codes the question names (E4, LF-13)
    rank: float = 0.05  # the fused rank of its passage
    key: float = 0.15  # a table row whose first cell the question names (a lookup)
    phrase: float = 0.1  # share of the question's word pairs it holds in that order
    focus: float = 0.15  # holds what the question is about ("what is X", "which X"), early
    # A second unit joins the answer when it scores within this margin of the best one.
    second_margin: float = 0.03
    max_units: int = 2
    steps: int = 2  # for a how-to question, instructions that follow the best one join it
    # Abstain when the best unit is this dissimilar and holds this little of the question.
    abstain_cosine: float = 0.25
    abstain_overlap: float = 0.5


DEFAULT_READER = ReaderSettings()
_MIN_UNIT_CHARS = 12
_RULE = re.compile(r"[-=_*~#]{4,}\s*")  # a drawn line: "-----", "=====" (text layout)
_ASKER = re.compile(r"^(?:q|question|customer|user|caller|client)\s*[:.)-]", re.IGNORECASE)

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

# Verbs that open an instruction ("Press and hold ...", "Slide the cover down ...").
_IMPERATIVES = "|".join(
    [
        "press",
        "hold",
        "turn",
        "open",
        "close",
        "slide",
        "remove",
        "insert",
        "unplug",
        "plug",
        "check",
        "clean",
        "wipe",
        "set",
        "select",
        "tap",
        "click",
        "go",
        "choose",
        "wait",
        "make",
        "keep",
        "use",
        "place",
        "put",
        "pull",
        "push",
        "connect",
        "disconnect",
        "restart",
        "reset",
        "contact",
        "call",
        "email",
        "visit",
        "install",
        "update",
        "enable",
        "disable",
        "replace",
        "return",
        "register",
        "send",
        "move",
        "lift",
        "lower",
        "rinse",
        "dry",
        "attach",
        "detach",
        "switch",
        "power",
        "enter",
        "log",
        "sign",
        "follow",
        "allow",
        "change",
        "clear",
        "reinstall",
        "retry",
        "try",
        "run",
        "fill",
        "empty",
        "leave",
        "store",
        "unscrew",
        "screw",
        "align",
    ]
)

# What a question asks for, and how an answer of that kind looks.
_UNITS = (
    r"(?:seconds?|secs?|minutes?|mins?|hours?|hrs?|days?|weeks?|months?|years?|"
    r"cm|mm|m|km|inch(?:es)?|in|ft|feet|kg|g|lbs?|pounds?|w|watts?|v|volts?|db|"
    r"m²|m2|m³|sq|square|litres?|liters?|l|ml|°[cf]?|degrees?|%|percent|mph|kph|gb|mb)"
)
_NUMBER = r"(?:\d+(?:[.,]\d+)?|one|two|three|four|five|six|seven|eight|nine|ten|twelve)"
_CODE_ANSWER = (
    r"\b(?=[A-Za-z0-9-]*\d)(?=[A-Za-z0-9-]*[A-Za-z])[A-Za-z0-9]+(?:[-.][A-Za-z0-9]+)*\b|"
    r"\b\d+(?:\.\d+)+\b"
)
# (what the question says, how an answer of that kind looks, whether an answer must look so:
# a "how much does it cost" question that no passage answers with a price is not answered).
_TYPE_RULES = (
    (
        r"\bhow (?:often|frequently)\b|\bhow many times\b",
        rf"\bevery\b|\b(?:daily|weekly|monthly|yearly|annually|hourly)\b|\bper\b|"
        rf"\b{_NUMBER}\s+times\b|\bonce\b|\btwice\b",
        True,
    ),
    (
        r"\b(?:cost|costs|price|prices|priced|fee|fees|charge|charged|pay)\b|"
        r"\bhow (?:much|expensive) (?:is|are|does|do|will|would)\b(?!.*\b(?:space|time|power|"
        r"energy|room|noise|water|weight)\b)",
        r"[$€£¥]\s?\d|\d\s?(?:usd|eur|gbp|dollars?|euros?|pounds?)\b|\bfree\b",
        True,
    ),
    (
        r"\bhow long\b|\bhow far back\b|"
        r"\bhow many (?:days|hours|minutes|seconds|weeks|months|years)\b",
        rf"\b{_NUMBER}[\s-]*(?:seconds?|minutes?|hours?|days?|weeks?|months?|years?)\b|"
        r"\blifetime\b",
        True,
    ),
    (
        r"\bhow many\b|\bnumber of\b|\bhow (?:far|big|large|heavy|loud|wide|tall|much)\b",
        rf"\b{_NUMBER}\b|\bunlimited\b",
        False,
    ),
    (
        r"^when\b|\bwhat (?:time|date|year|day)\b|\bwhich (?:year|day|date|month)\b",
        r"\b\d{1,2}[:.]\d{2}\b|\b(?:1[5-9]|20)\d{2}\b|\b(?:january|february|march|april|"
        r"may|june|july|august|september|october|november|december|monday|tuesday|"
        r"wednesday|thursday|friday|saturday|sunday|am|pm|after|before|within|when|once)\b",
        False,
    ),
    (r"\bhow (?:loud|noisy|quiet)\b|\bnoise level\b", r"\bd[bB]\b|\bdecibels?\b", True),
    (r"\bhow heavy\b|\bweigh\b|\bweight\b", r"\b\d+(?:[.,]\d+)?\s?(?:kg|g|lbs?|pounds?)\b", True),
    (r"\b(?:temperature|how (?:hot|cold|warm))\b", r"°|\bdegrees?\b|\b\d+\s?[cf]\b", True),
    (r"\b(?:percent|percentage)\b", r"%|\bpercent\b", True),
    (r"\b(?:size|dimensions?|how (?:far|close))\b", rf"\b{_NUMBER}\s*{_UNITS}\b", False),
    # "Which error code ...", "what model number ...": the answer names a code.
    (
        r"\b(?:which|what)\s+(?:\w+\s+)?(?:code|model|version|firmware|release)\b",
        _CODE_ANSWER,
        False,
    ),
    # How-to questions want an instruction: a sentence that starts with a verb or "To ...".
    (
        r"\bhow (?:do|can|should|would) (?:i|we|you)\b|\bhow to\b|"
        r"\bwhat (?:should|do|can) (?:i|we) (?:do|check|try)\b",
        r"^(?:to\s+\w+[^.]*?[,:]\s*)?(?:please\s+)?(?:" + _IMPERATIVES + r")\b",
        False,
    ),
    # Yes/no questions about what is allowed or possible: a statement of it, or its denial.
    (
        r"^(?:can|could|may|should|is|are|does|do|will|must)\s+(?:i|we|you|it|the|my|this)\b",
        r"\b(?:not|never|no|cannot|can't|only|must|may|can|supported|safe|allowed|"
        r"possible|required|automatically|yes)\b",
        False,
    ),
)
_ANSWER_TYPES: tuple[tuple[re.Pattern[str], re.Pattern[str], bool], ...] = tuple(
    (re.compile(asked, re.IGNORECASE), re.compile(answer, re.IGNORECASE), hard)
    for asked, answer, hard in _TYPE_RULES
)
_INSTRUCTION = _ANSWER_TYPES[-2][1]


@dataclass(frozen=True)
class Unit:
    """A span of one passage that could answer: offsets are within the chunk text."""

    hit_index: int
    start: int
    end: int
    text: str
    context: str  # heading and column names: what the unit is about, for scoring only
    key: str = ""  # a table row's first cell
    asks: bool = False  # a question (an FAQ entry, a customer's line): its answer follows


@dataclass(frozen=True)
class ScoredUnit:
    unit: Unit
    score: float
    cosine: float
    overlap: float  # weighted share of the question's distinctive words the unit holds


@dataclass(frozen=True)
class Reading:
    """What the reader found: the units of its answer (best first) and whether to abstain."""

    units: tuple[ScoredUnit, ...]
    abstain: bool
    reason: str = ""


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


def _pairs(sequence: Sequence[str]) -> set[tuple[str, str]]:
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


def answer_units(hits: Sequence[Hit], *, guard: bool = True) -> list[Unit]:
    """Sentences, list items and table rows of the passages (a table row keeps its header
    as context); with ``guard``, nothing from a paragraph that addresses the assistant."""
    units: list[Unit] = []
    for index, hit in enumerate(hits):
        text = hit.chunk.text
        flagged = flagged_paragraphs(text) if guard else []
        header = ""
        heading = hit.chunk.heading
        row_end = -1  # where the last table row ended: a row right after it is the same table
        for start, end in sentence_spans(text, headings=False):
            rules = list(_RULE.finditer(text, start, end))
            if rules:  # keep what follows the last drawn line
                start = rules[-1].end()
            span = text[start:end]
            if not span.strip() or any(a < end and start < b for a, b in flagged):
                continue
            context = heading
            if span.count("|") >= 2:
                cells = [c.strip() for c in span.strip("|").split("|")]
                if not any(any(ch.isalnum() for ch in c) for c in cells):
                    row_end = end  # the |---|---| separator
                    continue
                same_table = row_end >= 0 and not text[row_end:start].strip()
                row_end = end
                if not same_table:  # the first row of a table: its header
                    header = span
                    continue
                context = f"{heading}: {header}" if heading else header
            elif row_end >= 0:
                if "\n" in text[row_end:start]:
                    row_end = -1
                else:  # a further sentence of the row's last cell
                    context = f"{heading}: {header}" if heading else header
                    row_end = end
            key = span.strip("|").split("|")[0].strip() if span.count("|") >= 2 else ""
            asks = span.rstrip().endswith("?") or bool(_ASKER.match(span))
            if len(span) >= _MIN_UNIT_CHARS and any(ch.isalnum() for ch in span):
                units.append(Unit(index, start, end, span, context, key, asks))
    return units


def _type_patterns(question: str) -> list[tuple[re.Pattern[str], bool]]:
    """How an answer to ``question`` looks, and whether it must (see _TYPE_RULES)."""
    return [(answer, hard) for asked, answer, hard in _ANSWER_TYPES if asked.search(question)]


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


def read(
    question: str,
    hits: Sequence[Hit],
    embedder: Embedder,
    *,
    guard: bool = True,
    settings: ReaderSettings = DEFAULT_READER,
    is_indexed: Callable[[str], bool] | None = None,
) -> Reading:
    """Score every answer unit of ``hits`` against ``question``; see the module docstring.
    ``is_indexed(word)`` says whether any indexed document holds a word: a name in the
    question that none holds means the documents do not cover it."""
    units = answer_units(hits, guard=guard)
    if is_indexed is not None:
        unknown = unindexed_terms(question, is_indexed, passages_text(hits))
        if unknown:
            return Reading((), True, f"no document mentions {', '.join(unknown)}")
    if not units:
        return Reading((), True, "the passages hold no sentence to answer from")
    vectors = embedder.embed_documents([unit_text(u) for u in units])
    query = embedder.embed_queries([question])[0]
    return score_units(question, units, vectors, query, settings, passages_text(hits))


def passages_text(hits: Sequence[Hit]) -> str:
    """Everything the passages say, headings included: where a code must be found."""
    return "\n".join(f"{h.chunk.heading}\n{h.chunk.text}" for h in hits)


def unit_text(unit: Unit) -> str:
    """What the embedder sees of a unit: its context, then its text."""
    return f"{unit.context}: {unit.text}" if unit.context else unit.text


def score_units(
    question: str,
    units: Sequence[Unit],
    vectors: Any,
    query: Any,
    settings: ReaderSettings = DEFAULT_READER,
    known: str = "",
    unknown: Sequence[str] = (),
) -> Reading:
    """The reading of ``units`` given their vectors and the question's (both normalised);
    ``known`` is all the text of the passages (a code counts as mentioned if it is there),
    ``unknown`` the names in the question that no indexed document mentions."""
    if unknown:
        return Reading((), True, f"no document mentions {', '.join(unknown)}")
    if not units:
        return Reading((), True, "the passages hold no sentence to answer from")
    unit_words = [set(words(u.text)) | set(words(u.context)) for u in units]
    # Distinctive question words weigh by how few units hold them (an idf over the passages):
    # a word every passage repeats says little about which unit answers.
    asked = list(dict.fromkeys(words(question)))
    df = {w: sum(w in uw for uw in unit_words) for w in asked}
    # The last sentence is the question itself; sentences before it ("The display says E2.",
    # a previous turn) are its context and weigh half.
    current = set(words(last_sentence(question)))
    idf = {
        w: math.log((len(units) + 1) / (df[w] + 0.5)) * (1.0 if w in current else 0.5)
        for w in asked
    }
    total = sum(idf.values())
    focus = set(words(" ".join(focus_phrases(last_sentence(question)))))
    codes = question_codes(question)
    known_words = set(words(known)) | set().union(*unit_words)
    missing_codes = sorted(c for c in codes if c not in known_words)
    if missing_codes:
        return Reading((), True, f"no passage mentions {', '.join(missing_codes)}")
    patterns = _type_patterns(last_sentence(question))
    question_terms = set(asked) | codes
    question_pairs = _pairs(words(question))
    cosines = np.asarray(vectors, dtype=np.float32) @ np.asarray(query, dtype=np.float32)
    scored = []
    for unit, held, cosine in zip(units, unit_words, cosines, strict=True):
        key_words = set(words(unit.key))
        keyed = 1.0 if key_words and key_words <= question_terms else 0.0
        pairs = _pairs(words(unit.text))
        phrase = len(question_pairs & pairs) / len(question_pairs) if question_pairs else 0.0
        overlap = sum(idf[w] for w in asked if w in held) / total if total > 0 else 0.0
        typed = 0.0
        if patterns:
            typed = 1.0 if any(p.search(unit.text) for p, _ in patterns) else -1.0
        code_share = sum(c in held for c in codes) / len(codes) if codes else 0.0
        opening = set(words(" ".join(unit.text.split()[:6])))
        focused = (len(focus & held) + len(focus & opening)) / (2 * len(focus)) if focus else 0.0
        score = (
            float(cosine)
            + settings.overlap * overlap
            + settings.answer_type * typed
            + settings.code * code_share
            + settings.rank / (1 + unit.hit_index)
            + settings.key * keyed
            + settings.phrase * phrase
            + settings.focus * focused
        )
        scored.append(ScoredUnit(unit, score, float(cosine), overlap))
    for i, asking in enumerate(scored):
        # A question in the passages (an FAQ entry) resembles the question asked; its answer
        # is what follows it in the same passage.
        if asking.unit.asks:
            if i + 1 < len(scored) and scored[i + 1].unit.hit_index == asking.unit.hit_index:
                after = scored[i + 1]
                if asking.score > after.score:
                    scored[i + 1] = ScoredUnit(
                        after.unit, asking.score, asking.cosine, asking.overlap
                    )
            scored[i] = ScoredUnit(asking.unit, asking.score - 1.0, asking.cosine, asking.overlap)
    scored.sort(key=lambda s: (-s.score, s.unit.hit_index, s.unit.start))
    best = scored[0]
    if best.cosine < settings.abstain_cosine and best.overlap < settings.abstain_overlap:
        return Reading(
            (best,),
            True,
            f"the best sentence is weakly related to the question (cosine {best.cosine:.2f},"
            f" {best.overlap:.0%} of its distinctive words)",
        )
    hard = [p for p, must in patterns if must]
    if hard and not any(p.search(c.unit.text) for c in scored[:3] for p in hard):
        return Reading((best,), True, "no passage states the kind of answer the question asks for")
    chosen = [best]
    if any(p is _INSTRUCTION for p, _ in patterns):  # the steps that follow the best one
        at = units.index(best.unit)
        for unit in units[at + 1 : at + 1 + settings.steps]:
            if unit.hit_index != best.unit.hit_index or not _INSTRUCTION.search(unit.text):
                break
            chosen.append(ScoredUnit(unit, best.score, best.cosine, best.overlap))
    seen = {" ".join(c.unit.text.lower().split()) for c in chosen}
    for candidate in scored[1:]:
        if (
            len(chosen) >= settings.max_units
            or candidate.score < best.score - settings.second_margin
        ):
            break
        key = " ".join(candidate.unit.text.lower().split())
        if key not in seen:
            seen.add(key)
            chosen.append(candidate)
    return Reading(tuple(chosen), False)


def quote(reading: Reading, hits: Sequence[Hit]) -> tuple[str, tuple[Citation, ...]]:
    """The reading as answer text (each unit quoted verbatim, then ``[n]``) and citations
    to the exact characters of each unit."""
    parts: list[str] = []
    citations: list[Citation] = []
    for n, scored in enumerate(reading.units, start=1):
        unit = scored.unit
        chunk = hits[unit.hit_index].chunk
        parts.append(f"{unit.text} [{n}]")
        citations.append(
            Citation(
                n=n,
                chunk_id=chunk.chunk_id,
                doc_id=chunk.doc_id,
                source=chunk.source,
                heading=chunk.heading,
                start=chunk.start + unit.start,
                end=chunk.start + unit.end,
                text=unit.text,
            )
        )
    return " ".join(parts), tuple(citations)
