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

import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ragfusion.answering.answer_types import INSTRUCTION, YES_NO, type_patterns
from ragfusion.answering.question_terms import (
    focus_phrases,
    last_sentence,
    question_codes,
    salient_terms,
    unindexed_terms,
    word_pairs,
    words,
)
from ragfusion.answering.units import Unit, answer_units, passages_text, unit_text
from ragfusion.embedders.base import Embedder
from ragfusion.types import Citation, Hit

# Names other modules import from here.
__all__ = [
    "DEFAULT_READER",
    "ReaderSettings",
    "Reading",
    "ScoredUnit",
    "Unit",
    "answer_units",
    "passages_text",
    "question_codes",
    "quote",
    "read",
    "salient_terms",
    "score_units",
    "unit_text",
    "words",
]


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
    # Further units join the answer when they score within this margin of the best one.
    second_margin: float = 0.15
    max_units: int = 3
    steps: int = 2  # for a how-to question, instructions that follow the best one join it
    # Abstain when the best unit is this dissimilar and holds this little of the question.
    abstain_cosine: float = 0.25
    abstain_overlap: float = 0.5
    # A unit holding the kind of answer asked for must hold this share of the best unit's
    # overlap with the question.
    typed_overlap: float = 0.5


DEFAULT_READER = ReaderSettings()


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
    patterns = type_patterns(last_sentence(question))
    # What a unit without the kind of answer asked for scores on that count.
    bare = 0.0 if all(p is YES_NO for p, _ in patterns) else -1.0
    question_terms = set(asked) | codes
    question_pairs = word_pairs(words(question))
    cosines = np.asarray(vectors, dtype=np.float32) @ np.asarray(query, dtype=np.float32)
    scored = []
    for unit, held, cosine in zip(units, unit_words, cosines, strict=True):
        key_words = set(words(unit.key))
        keyed = 1.0 if key_words and key_words <= question_terms else 0.0
        pairs = word_pairs(words(unit.text))
        phrase = len(question_pairs & pairs) / len(question_pairs) if question_pairs else 0.0
        overlap = sum(idf[w] for w in asked if w in held) / total if total > 0 else 0.0
        typed = 0.0
        if patterns:
            typed = 1.0 if any(p.search(unit.text) for p, _ in patterns) else bare
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
        # A question in the passages (an FAQ entry, a customer's turn) resembles the question
        # asked; its answer is what follows it (and the turn) in the same passage.
        if not (asking.unit.asks or asking.unit.in_turn):
            continue
        if asking.unit.asks:
            for j in _replies(scored, i):
                after = scored[j]
                if asking.score > after.score:
                    scored[j] = ScoredUnit(after.unit, asking.score, asking.cosine, asking.overlap)
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
    # The kind of answer asked for must be in a unit that is about the question: a price of
    # something else does not answer "how much is X".
    related = [c for c in scored[:3] if c.overlap >= settings.typed_overlap * best.overlap]
    if hard and not any(p.search(c.unit.text) for c in related for p in hard):
        return Reading((best,), True, "no passage states the kind of answer the question asks for")
    chosen = [best]
    if any(p is INSTRUCTION for p, _ in patterns):  # the steps that follow the best one
        at = units.index(best.unit)
        for unit in units[at + 1 : at + 1 + settings.steps]:
            if unit.hit_index != best.unit.hit_index or not INSTRUCTION.search(unit.text):
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
    return Reading(tuple(_with_antecedents(chosen, units)), False)


# A line that resolves a support ticket ("Status: Fixed in firmware 2.1.6.", "Workaround: ...")
# answers the customer's turn as much as the agent's first words do.
_RESOLUTION = re.compile(
    r"^(?:status|resolution|solution|fix|workaround|answer)\s*[:.)-]", re.IGNORECASE
)


def _replies(scored: list[ScoredUnit], i: int) -> list[int]:
    """Where the answer to the question at ``i`` is: the first unit after it (and after the
    rest of its turn) in the same passage, and the ticket's resolution lines up to the next
    question."""
    hit = scored[i].unit.hit_index
    out: list[int] = []
    for j in range(i + 1, len(scored)):
        unit = scored[j].unit
        if unit.hit_index != hit or (out and unit.asks):
            break
        if unit.asks or unit.in_turn:
            continue
        if not out or _RESOLUTION.match(unit.text):
            out.append(j)
    return out


# A sentence that opens by pointing back ("This added momentum to ...", "Such devices ...")
# says little alone: the sentence before it in the same passage goes with it. (Pronouns
# such as "it" or "they" as well: no better on the train split, and longer answers.)
_ANAPHOR = re.compile(r"^(?:this|these|that|those|such)\b", re.IGNORECASE)


def _with_antecedents(chosen: list[ScoredUnit], units: Sequence[Unit]) -> list[ScoredUnit]:
    position = {id(u): i for i, u in enumerate(units)}
    taken = {id(c.unit) for c in chosen}
    out: list[ScoredUnit] = []
    for scored in chosen:
        at = position[id(scored.unit)]
        before = units[at - 1] if at > 0 else None
        if (
            before is not None
            and id(before) not in taken
            and before.hit_index == scored.unit.hit_index
            and not (before.asks or before.in_turn)
            and _ANAPHOR.match(scored.unit.text)
        ):
            taken.add(id(before))
            out.append(ScoredUnit(before, scored.score, scored.cosine, scored.overlap))
        out.append(scored)
    return out


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
