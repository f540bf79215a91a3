"""Answering: the retriever's hits become a cited Answer, streamed as events.

search -> guard (passages addressed to the assistant make way) -> abstain if the evidence
is weak -> reader (quoted span), extractive (most similar sentences) or generative (LLM,
each sentence verified against its passage; an unusable answer falls back to quoting).
"""

from __future__ import annotations

import dataclasses
import re
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from ragfusion.answering.citations import strip_markers
from ragfusion.answering.injection import flagged_paragraphs
from ragfusion.answering.prompting import build_messages, extractive_answer, generate
from ragfusion.answering.reader import Reading, passages_text, question_codes, quote, read, words
from ragfusion.answering.verify import quoted_support, verify_generated
from ragfusion.config import PipelineConfig
from ragfusion.embedders import Embedder
from ragfusion.errors import ConfigError
from ragfusion.ingest.chunking import heading_path
from ragfusion.llm import LLM, Message
from ragfusion.retrieval.retriever import Retriever, SearchResult, evidence_strength
from ragfusion.stores.base import MetadataFilter
from ragfusion.types import Answer, Citation, Hit, SentenceSupport

__all__ = ["ANSWER_MODES", "NOT_FOUND_TEXT", "WEAK_EVIDENCE_TEXT", "AnswerEvent", "Answerer"]

ANSWER_MODES = ("reader", "extractive", "generative")
NOT_FOUND_TEXT = "I could not find anything about this in the indexed documents."
WEAK_EVIDENCE_TEXT = (
    "I don't know: the indexed documents do not seem to cover this question. "
    "Try rephrasing it, or add documents that answer it."
)


@dataclass(frozen=True)
class AnswerEvent:
    """One step of a streamed answer: ``queries``, ``hits``, ``token``, ``replace`` (the
    streamed text was unusable; here is the text that replaces it) or ``done``."""

    kind: str
    data: Any


def _pieces(text: str, words: int = 4) -> Iterator[str]:
    """``text`` in pieces of a few words (spaces kept), for a stream of token events."""
    parts = re.split(r"(?<=\s)(?=\S)", text)
    for at in range(0, len(parts), words):
        yield "".join(parts[at : at + words])


def _ms(since: float) -> float:
    return round((time.perf_counter() - since) * 1000, 2)


@dataclass
class _Turn:
    """One answer on its way: the passages it stands on and what it has gathered so far."""

    found: SearchResult
    started: float
    timings: dict[str, float]
    warnings: list[str]
    degraded: bool
    # Gives each citation the heading of the section its span is in (a passage can run past
    # a heading: a quote under "Version 3.3.0" must not be labelled "Version 3.4.0").
    relabel: Callable[[Sequence[Citation]], tuple[Citation, ...]] = tuple

    def done(
        self,
        text: str,
        citations: Sequence[Citation],
        mode: str,
        sentences: Sequence[SentenceSupport] = (),
    ) -> AnswerEvent:
        """The closing event, with the Answer and its total time."""
        self.timings["total_ms"] = _ms(self.started)
        answer = Answer(
            question=self.found.question,
            text=text,
            citations=self.relabel(citations),
            queries=tuple(v.text for v in self.found.queries),
            hits=self.found.hits,
            mode=mode,
            degraded=self.degraded,
            warnings=tuple(self.warnings),
            timings_ms=self.timings,
            evidence=self.found.evidence,
            sentences=tuple(sentences),
        )
        return AnswerEvent("done", answer)


class Answerer:
    """Answers questions from what a ``Retriever`` finds: the answer stage of a ``Pipeline``.

    ``llm`` is called only for a generative answer, so that no model loads otherwise.
    """

    def __init__(
        self,
        retriever: Retriever,
        embedder: Embedder,
        config: PipelineConfig,
        llm: Callable[[], LLM],
    ) -> None:
        self.retriever = retriever
        self.embedder = embedder
        self.config = config
        self._llm = llm

    def ask_stream(
        self,
        question: str,
        *,
        rewrites: int | None = None,
        queries: Sequence[str] = (),
        k: int | None = None,
        where: MetadataFilter | None = None,
        extractive: bool = False,
        history: Sequence[Message] = (),
        abstain: bool = True,
        mode: str | None = None,
    ) -> Iterator[AnswerEvent]:
        """Answer step by step: queries, hits, tokens, then ``done`` with the Answer.

        ``mode`` is ``reader`` (the default: the passage span that answers, quoted and
        cited), ``extractive`` (the most similar sentences; also ``extractive=True``) or
        ``generative`` (the LLM, every sentence checked against its passage). With
        ``abstain`` (the default), a question the passages do not answer gets "I don't
        know" instead of a guess. ``history`` holds the conversation so far; the other
        options are those of ``Retriever.search``."""
        started = time.perf_counter()
        mode = "extractive" if extractive else (mode or self.config.answer_mode)
        if mode not in ANSWER_MODES:
            raise ConfigError(f"Unknown answer mode {mode!r}; choose one of {ANSWER_MODES}")
        found, withheld = self._passages(question, mode, k, rewrites, queries, where)
        yield AnswerEvent("queries", [v.text for v in found.queries])
        yield AnswerEvent("hits", list(found.hits))
        turn = _Turn(
            found,
            started,
            dict(found.timings_ms),
            list(found.warnings),
            found.degraded,
            self._in_sections,
        )
        if withheld:
            turn.warnings.append(
                f"{withheld} passage(s) held text addressed to the assistant (a prompt "
                "injection?) and were left out; the next passages took their place"
            )
        threshold = self.config.abstain_below
        weak = (
            abstain
            and mode != "reader"  # the reader judges the evidence sentence by sentence
            and threshold is not None
            and found.evidence is not None
            and found.evidence < threshold
        )
        if mode == "reader" and found.hits:
            hits = self._with_named_codes(found.question, list(found.hits), where)
            turn.found = found = dataclasses.replace(found, hits=tuple(hits))
        reading: Reading | None = None
        if found.hits and not weak and abstain and mode == "reader":
            t = time.perf_counter()
            reading = read(
                found.question,
                found.hits,
                self.embedder,
                guard=self.config.guard_passages,
                is_indexed=self.retriever.is_indexed,
            )
            turn.timings["read_ms"] = _ms(t)
            if reading.abstain:
                turn.warnings.append(f"the passages do not answer the question: {reading.reason}")
        if not found.hits or weak or (reading is not None and reading.abstain):
            text = NOT_FOUND_TEXT if not found.hits else WEAK_EVIDENCE_TEXT
            if weak:
                turn.warnings.append(
                    f"best evidence {found.evidence:.3f} is below the abstain threshold "
                    f"{threshold:.3f}"
                )
            yield AnswerEvent("token", text)
            yield turn.done(text, (), "abstain" if found.hits else "none")
        elif mode == "reader":
            yield from self._quote(turn, reading)
        elif mode == "extractive":
            yield from self._extract(turn)
        else:
            yield from self._generate(turn, history)

    def ask(self, question: str, **options: Any) -> Answer:
        """Answer a question; see ``ask_stream`` for the options."""
        answer: Answer | None = None
        for event in self.ask_stream(question, **options):
            if event.kind == "done":
                answer = event.data
        assert answer is not None
        return answer

    def _passages(
        self,
        question: str,
        mode: str,
        k: int | None,
        rewrites: int | None,
        queries: Sequence[str],
        where: MetadataFilter | None,
    ) -> tuple[SearchResult, int]:
        """The passages to answer from (``k``, or the mode's default number) and how many of
        the first ones the guard withheld because they address the assistant."""
        default_k = {
            "reader": self.config.reader_passages,
            "extractive": self.config.extractive_passages,
            "generative": self.config.answer_passages,
        }[mode]
        wanted = k or default_k
        guard = self.config.guard_passages
        depth = wanted * 2 if guard else wanted  # spares for passages the guard leaves out
        found = self.retriever.search(
            question, rewrites=rewrites, queries=queries, k=depth, where=where
        )
        if not guard:
            return found, 0
        # A passage with text addressed to the assistant makes way for the next one.
        withheld = sum(bool(flagged_paragraphs(h.chunk.text)) for h in found.hits[:wanted])
        kept = [h for h in found.hits if not flagged_paragraphs(h.chunk.text)]
        # Evidence for abstaining counts only passages that may reach the model.
        evidence = evidence_strength(
            found.queries[0].text, found.lists, lambda h: not flagged_paragraphs(h.chunk.text)
        )
        return dataclasses.replace(found, hits=tuple(kept[:wanted]), evidence=evidence), withheld

    def _with_named_codes(
        self, question: str, hits: list[Hit], where: MetadataFilter | None
    ) -> list[Hit]:
        """``hits`` plus, for each code the question names (E8, LF-13) that none of them
        holds, the best BM25 hit for that code alone: a lookup the fused search can miss
        when a table's rows fall into several chunks."""
        held = set(words(passages_text(hits)))
        missing = [code for code in question_codes(question) if code not in held]
        extra: list[Hit] = []
        ids = {h.chunk_id for h in hits}
        for found in self.retriever.lookup(missing, where):
            for hit in found:
                if hit.chunk_id not in ids and not flagged_paragraphs(hit.chunk.text):
                    ids.add(hit.chunk_id)
                    extra.append(hit)
        return hits + extra

    def _quote(self, turn: _Turn, reading: Reading | None) -> Iterator[AnswerEvent]:
        """The reader's answer: the passage spans that answer, quoted verbatim and cited."""
        found = turn.found
        if reading is None:  # abstaining is off: read without it
            t = time.perf_counter()
            reading = read(
                found.question, found.hits, self.embedder, guard=self.config.guard_passages
            )
            turn.timings["read_ms"] = _ms(t)
        text, citations = quote(dataclasses.replace(reading, abstain=False), found.hits)
        for piece in _pieces(text):  # streamed like generated text, at once
            yield AnswerEvent("token", piece)
        yield turn.done(text, citations, "reader", quoted_support(text, citations))

    def _extract(self, turn: _Turn) -> Iterator[AnswerEvent]:
        """The passages' sentences most similar to the question, quoted and cited."""
        t = time.perf_counter()
        text, citations = self._extractive(turn)
        turn.timings["extract_ms"] = _ms(t)
        yield AnswerEvent("token", text)
        yield turn.done(text, citations, "extractive", quoted_support(text, citations))

    def _generate(self, turn: _Turn, history: Sequence[Message]) -> Iterator[AnswerEvent]:
        """The LLM's answer, streamed, then checked sentence by sentence against the
        passages it cites; quoting replaces an answer that is unusable or unsupported."""
        found, guard = turn.found, self.config.guard_passages
        messages = build_messages(found.question, found.hits, history, guard=guard)
        t = time.perf_counter()
        stream = generate(
            self._llm(), messages, found.hits, max_tokens=self.config.max_answer_tokens
        )
        first = True
        for piece in stream:
            if first:
                turn.timings["first_token_ms"] = _ms(turn.started)
                first = False
            yield AnswerEvent("token", piece)
        turn.timings["generate_ms"] = _ms(t)
        result = stream.result
        assert result is not None
        turn.warnings += result.warnings
        text, citations, mode = result.text, result.citations, "generative"
        sentences: tuple[SentenceSupport, ...] = ()
        if not result.usable:
            text, citations = self._extractive(turn)
            turn.warnings.append("the model's answer was unusable; answered extractively instead")
            turn.degraded, mode = True, "extractive"
            sentences = quoted_support(text, citations)
            yield AnswerEvent("replace", text)
        elif self.config.verify_answers:
            t = time.perf_counter()
            checked = verify_generated(
                text,
                found.hits,
                citations,
                lambda: read(found.question, found.hits, self.embedder, guard=guard),
                guard=guard,
            )
            turn.timings["verify_ms"] = _ms(t)
            text, citations, sentences = checked.text, checked.citations, checked.sentences
            turn.warnings += checked.warnings
            if not strip_markers(text).strip():  # nothing it wrote holds: quote instead
                text, citations = self._extractive(turn)
                turn.warnings.append(
                    "no generated sentence is supported by its passage; answered extractively"
                )
                turn.degraded, mode = True, "extractive"
                sentences = quoted_support(text, citations)
            if checked.changed:
                yield AnswerEvent("replace", text)
        yield turn.done(text, citations, mode, sentences)

    def _in_sections(self, citations: Sequence[Citation]) -> tuple[Citation, ...]:
        """``citations`` with the heading path in force where each span starts."""
        documents: dict[str, Any] = {}
        out = []
        for citation in citations:
            if citation.doc_id not in documents:
                documents[citation.doc_id] = self.retriever.store.get_document(citation.doc_id)
            document = documents[citation.doc_id]
            heading = citation.heading
            if document is not None and document.sections:
                heading = heading_path(document.sections, citation.start, document.title)
            out.append(dataclasses.replace(citation, heading=heading))
        return tuple(out)

    def _extractive(self, turn: _Turn) -> tuple[str, tuple[Citation, ...]]:
        found = turn.found
        return extractive_answer(
            found.question, found.hits, self.embedder, guard=self.config.guard_passages
        )
