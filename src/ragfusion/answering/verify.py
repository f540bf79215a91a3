"""Check a generated answer sentence by sentence against the passages it cites.

Each sentence's numbers, codes, dates and names must occur in the passage it cites
(``ragfusion.answering.claims``). The first sentence that fails is replaced by the reader's quoted
evidence, later failing ones are removed, and ``warnings`` says so. Every sentence left gets
a ``SentenceSupport``: the exact span of its passage that backs it best.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from ragfusion.answering.citations import content_words, strip_markers
from ragfusion.answering.claims import ClaimCheck, check_sentence, cited_sentences
from ragfusion.answering.prompting import passage_citation
from ragfusion.answering.reader import Reading, answer_units
from ragfusion.types import Citation, Hit, SentenceSupport


@dataclass(frozen=True)
class Verified:
    text: str
    citations: tuple[Citation, ...]
    sentences: tuple[SentenceSupport, ...]
    warnings: tuple[str, ...]
    changed: bool


def best_span(sentence: str, hit: Hit, *, guard: bool = True) -> tuple[int, int] | None:
    """Document offsets of the unit of ``hit`` that shares most words with ``sentence``."""
    said = content_words(strip_markers(sentence))
    best: tuple[int, tuple[int, int]] | None = None
    for unit in answer_units([hit], guard=guard):
        shared = len(said & content_words(unit.text))
        if shared and (best is None or shared > best[0]):
            best = (shared, (hit.chunk.start + unit.start, hit.chunk.start + unit.end))
    return best[1] if best else None


def facts_apart(
    sentence: str, check: ClaimCheck, hits: Sequence[Hit], *, guard: bool = True
) -> tuple[str, ...]:
    """The facts of ``sentence`` that the passage sentence saying the same thing lacks.

    "E4 means the air inlets are covered [1]" passes the passage-level check when passage
    1 is the error table (it holds E4, and the inlets in E5's row), but the row that speaks
    of the inlets is E5's: the code and the words come from different places."""
    if not check.facts:
        return ()
    said = content_words(strip_markers(sentence)) - {f.lower() for f in check.facts}
    sources = [hits[n - 1] for n in check.cited] if check.cited else list(hits)
    best: tuple[int, str] | None = None
    for unit in answer_units(sources, guard=guard):
        shared = len(said & content_words(unit.text))
        if best is None or shared > best[0]:
            best = (shared, unit.text)
    if best is None or best[0] < 2:  # no sentence says much of the same: nothing to compare
        return ()
    unit_check = check_sentence(strip_markers(sentence), [best[1]])
    return unit_check.missing


def quoted_support(text: str, citations: Sequence[Citation]) -> tuple[SentenceSupport, ...]:
    """Support of an answer made of quoted spans, each followed by its ``[n]``."""
    out = []
    cursor = 0
    for citation in citations:
        start = text.find(citation.text, cursor)
        if start < 0:
            continue
        end = start + len(citation.text)
        out.append(
            SentenceSupport(
                start,
                end,
                "quoted",
                citation.n,
                citation.doc_id,
                citation.start,
                citation.end,
            )
        )
        cursor = end
    return tuple(out)


def verify_generated(
    text: str,
    hits: Sequence[Hit],
    citations: Sequence[Citation],
    evidence: Callable[[], Reading],
    *,
    guard: bool = True,
) -> Verified:
    """``text`` cites ``hits`` as ``[n]`` (1-based); ``evidence`` reads the passages when a
    sentence must be replaced (only then, since reading embeds every sentence)."""
    passages = [h.chunk.text for h in hits]
    kept: list[tuple[str, SentenceSupport | None]] = []
    warnings: list[str] = []
    removed: list[str] = []
    replacement: Citation | None = None
    for start, end in cited_sentences(text):
        sentence = text[start:end]
        check = check_sentence(sentence, passages)
        apart = () if not check.supported else facts_apart(sentence, check, hits, guard=guard)
        if check.supported and not apart:
            kept.append((sentence, _support(sentence, check.cited, hits, guard)))
            continue
        missing = ", ".join(check.missing) or (
            ", ".join(apart) + " (its passage says that of something else)"
        )
        if replacement is None:
            reading = evidence()
            if not reading.abstain and reading.units:
                unit = reading.units[0].unit
                chunk = hits[unit.hit_index].chunk
                # [n] numbers passages in a generated answer: the quote cites its passage;
                # the sentence's support holds the exact span.
                number = unit.hit_index + 1
                replacement = passage_citation(number, hits[unit.hit_index])
                note = f"replaced: the model wrote {missing}, which its passage does not state"
                quote = f"{unit.text} [{number}]"
                start, end = chunk.start + unit.start, chunk.start + unit.end
                support = SentenceSupport(0, 0, "replaced", number, chunk.doc_id, start, end, note)
                kept.append((quote, support))
                removed.append(sentence)
                warnings.append(
                    f"replaced a sentence stating {missing}, which its passage does not "
                    "state, by the quoted evidence"
                )
                continue
        removed.append(sentence)
        warnings.append(f"removed a sentence stating {missing}, which its passage does not state")
    if not removed:
        spans = [(a, b) for a, b in cited_sentences(text)]
        placed = tuple(
            _at(support, a, a + len(strip_markers(text[a:b]).rstrip()))
            for (a, b), (_, support) in zip(spans, kept, strict=True)
            if support is not None
        )
        return Verified(text, tuple(citations), placed, (), False)
    if replacement is not None:
        warnings.insert(
            0,
            f"{len(removed)} generated sentence(s) stated facts their passages do not; "
            "the first was replaced by the quoted evidence",
        )
    new_text = " ".join(sentence for sentence, _ in kept)
    cited = {c.n: c for c in citations}
    if replacement is not None:
        cited.setdefault(replacement.n, replacement)
    still = {n for _, support in kept if support and support.citation for n in [support.citation]}
    still |= {c.n for c in citations if f"[{c.n}]" in new_text}
    final = tuple(cited[n] for n in sorted(cited) if n in still)
    return Verified(new_text, final, _place(kept), tuple(warnings), True)


def _support(
    sentence: str, cited: Sequence[int], hits: Sequence[Hit], guard: bool
) -> SentenceSupport | None:
    if not strip_markers(sentence).strip():
        return None
    for n in cited:
        span = best_span(sentence, hits[n - 1], guard=guard)
        if span:
            return SentenceSupport(0, 0, "checked", n, hits[n - 1].chunk.doc_id, *span)
    return SentenceSupport(0, 0, "unverified", note="cites no passage that holds its words")


def _at(support: SentenceSupport, start: int, end: int) -> SentenceSupport:
    return dataclasses.replace(support, start=start, end=end)


def _place(kept: Sequence[tuple[str, SentenceSupport | None]]) -> tuple[SentenceSupport, ...]:
    """Each support at its sentence's offsets in the text the kept sentences form, joined
    by single spaces."""
    out = []
    cursor = 0
    for sentence, support in kept:
        if support is not None:
            out.append(_at(support, cursor, cursor + len(strip_markers(sentence).rstrip())))
        cursor += len(sentence) + 1
    return tuple(out)
