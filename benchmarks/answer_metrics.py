"""How an answer is scored by benchmarks/answers.py: pure functions, no models.

- correct: after SQuAD normalisation (lower case, punctuation and the articles a/an/the
  removed, white space collapsed), the answer contains one of the gold answer strings; on
  the sample knowledge base every number of the long gold answer (not the digits of a code
  such as LF-13) must be in it too.
- unsupported: sentences stating a number, code, date or name that the passage they cite
  (every passage given, if they cite none) does not state (``ragfusion.answering.claims``).
- abstained: our modes say so (mode ``abstain``/``none``); for any system, an answer that
  says it does not know counts too.
"""

from __future__ import annotations

import re
import string
from collections.abc import Sequence

from ragfusion.answering.citations import strip_markers
from ragfusion.answering.claims import cited_sentences, unsupported_sentences

_ARTICLES = re.compile(r"\b(a|an|the)\b")
_PUNCT = str.maketrans(dict.fromkeys(string.punctuation + "‘’“”–—…", " "))
# A number standing on its own: not the digits of a code such as LF-13, HX2 or E4.
_NUMBER = re.compile(r"(?<![\w-])\d+(?:[.,]\d+)?(?![\w-])")
# Saying that the sources do not answer. Phrases such as "not covered" or "cannot find" alone
# are not enough: a quoted answer may say "check that the inlets are not covered" or "if the
# app cannot find the purifier"; it must be the sources that do not say.
_SOURCES = r"(?:context|passages?|documents?|text|information|sources?|excerpts?)"
_DONT_KNOW = re.compile(
    r"\b(?:i (?:do not|don't|dont) know|i(?:'m| am) not sure|not able to (?:find|answer)|"
    r"(?:cannot|can't|could not|couldn't|unable to) (?:answer|determine|be determined|find "
    r"(?:the answer|an answer|any information|anything about))|"
    r"(?:no|not enough) (?:information|mention|context)|"
    rf"{_SOURCES} (?:does|do) not (?:say|mention|contain|provide|specify|cover|include|state)|"
    rf"not (?:mentioned|provided|specified|stated|covered) in (?:the )?{_SOURCES})\b",
    re.IGNORECASE,
)


def normalise(text: str) -> str:
    """SQuAD's answer normalisation."""
    text = strip_markers(text).lower().translate(_PUNCT)
    return " ".join(_ARTICLES.sub(" ", text).split())


def is_correct(answer: str, gold: Sequence[str], long_gold: str = "") -> bool:
    said = f" {normalise(answer)} "
    wanted = [normalise(g) for g in gold]
    if not any(g and f" {g} " in said for g in wanted):  # whole words: "6" is not in "16"
        return False
    if long_gold:  # the knowledge base's rule: every number of the gold answer is stated
        numbers = set(_NUMBER.findall(strip_markers(answer)))
        return all(n in numbers for n in _NUMBER.findall(long_gold))
    return True


def says_dont_know(answer: str) -> bool:
    return bool(_DONT_KNOW.search(answer)) or not normalise(answer)


def unsupported_count(answer: str, passages: Sequence[str]) -> int:
    sentences = [answer[a:b] for a, b in cited_sentences(answer)]
    return len(unsupported_sentences(sentences, passages))


def percentile(values: Sequence[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    at = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return round(ordered[at], 1)
