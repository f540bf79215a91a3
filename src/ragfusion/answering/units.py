"""Answer units: the sentences, list items, table rows and ``key: value`` lines of the
passages, each with exact offsets into its chunk."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from ragfusion.answering.citations import sentence_spans
from ragfusion.answering.injection import flagged_paragraphs
from ragfusion.types import Hit

_MIN_UNIT_CHARS = 12
# A list item this short is one unit: its further sentences belong to the step ("Press and
# hold the Power button for 2 seconds. The fan starts at speed 1.").
_ITEM_CHARS = 200
_RULE = re.compile(r"[-=_*~#]{4,}\s*")  # a drawn line: "-----", "=====" (text layout)
_ASKER = re.compile(r"^(?:q|question|customer|user|caller|client)\s*[:.)-]", re.IGNORECASE)
# A line opened by a speaker or field label ("Agent:", "Status:"): it ends the asker's turn.
_LABEL = re.compile(r"^\s*[A-Za-z][\w ]{0,24}:\s")
_BLANK_LINE = re.compile(r"\n[ \t]*\n")
# A courtesy formula ("Agent: Thanks for the report.", "Hi Anna,") says nothing: it is no unit,
# and the reply to a customer's turn starts after it. (A customer's "Thanks." still opens a
# turn, which ends the reply before it.)
_COURTESY = re.compile(
    r"^(?:[A-Za-z][\w ]{0,24}:\s*)?(?:"
    r"(?:many\s+)?thanks?(?:\s+you)?(?:\s+(?:so|very)\s+much)?(?:\s+for\b[^.!?;:,]{0,50})?|"
    r"(?:hi|hello|hey|dear|good (?:morning|afternoon|evening))"
    r"(?:\s+(?-i:[A-Z])[\w.'-]*(?:\s+(?-i:[A-Z])[\w.'-]*)?)?|"
    r"(?:(?:i'm|i am|we're|we are)\s+)?sorry\s+(?:to hear|for|about)\b[^.!?;:,]{0,50}|"
    r"(?:we\s+)?apologi[sz]e\b[^.!?;:,]{0,50}|apologies\b[^.!?;:,]{0,50}|"
    r"(?:(?:i'm|i am|we're|we are)\s+)?(?:happy|glad) to help\b[^.!?;:,]{0,30}|"
    r"(?:great|good) question|you're welcome|no problem"
    r")\s*[.!,]?$",
    re.IGNORECASE,
)


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
    # The rest of an asker's turn ("Customer: The reading is stuck. Auto mode never speeds
    # up."): it describes the problem, so it answers nothing, and the answer follows the turn.
    in_turn: bool = False


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
        # An asker's turn runs from its label ("Customer:") to a blank line or the next label.
        asking = False
        last_end = 0
        for start, end in sentence_spans(text, headings=False, item_chars=_ITEM_CHARS):
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
            labelled = bool(_ASKER.match(span))
            if labelled:
                asking = True
            elif asking and (_LABEL.match(span) or _BLANK_LINE.search(text, last_end, start)):
                asking = False
            last_end = end
            asks = labelled or span.rstrip().endswith("?")
            if (
                len(span) >= _MIN_UNIT_CHARS
                and any(ch.isalnum() for ch in span)
                and (labelled or not _COURTESY.match(span.strip()))  # an asker's turn stays
            ):
                units.append(Unit(index, start, end, span, context, key, asks, asking))
    return units


def passages_text(hits: Sequence[Hit]) -> str:
    """Everything the passages say, headings included: where a code must be found."""
    return "\n".join(f"{h.chunk.heading}\n{h.chunk.text}" for h in hits)


def unit_text(unit: Unit) -> str:
    """What the embedder sees of a unit: its context, then its text."""
    return f"{unit.context}: {unit.text}" if unit.context else unit.text
