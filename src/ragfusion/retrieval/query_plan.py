"""Which queries get searched: the original question, LLM rewrites and the user's own.

Small models produce junk rewrites (copies of the question, JSON debris, drifting topics),
so every rewrite is sampled with a JSON schema, cleaned, checked against the question and
deduplicated; the original question is always searched and weighs most. When no rewrite
survives, the plan says so (``degraded``) instead of failing silently.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import re
import sqlite3
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from ragfusion.errors import ModelError
from ragfusion.llm.base import LLM, Message

ORIGINAL_WEIGHT = 1.0
USER_QUERY_WEIGHT = 1.0
REWRITE_WEIGHT = 0.5
REWRITE_TEMPERATURE = 0.7
_REWRITE_MAX_TOKENS = 48
_PROMPT_VERSION = "rewrite-v1"
_WORD = re.compile(r"\w+", re.UNICODE)
_STOP = frozenset(
    [
        "a",
        "an",
        "and",
        "are",
        "as",
        "at",
        "be",
        "by",
        "can",
        "do",
        "does",
        "for",
        "from",
        "how",
        "i",
        "in",
        "is",
        "it",
        "my",
        "of",
        "on",
        "or",
        "should",
        "the",
        "to",
        "what",
        "when",
        "where",
        "which",
        "who",
        "why",
        "will",
        "with",
        "you",
        "your",
        "me",
        "we",
        "our",
        "this",
        "that",
    ]
)

REWRITE_SCHEMA = {
    "type": "object",
    "properties": {"query": {"type": "string"}},
    "required": ["query"],
}
_SYSTEM = (
    "You rewrite questions as search-engine queries. Keep the topic and key terms; use "
    'synonyms and related words. Reply as JSON: {"query": "..."}.'
)
_EXAMPLE_Q = "Question: What is the battery life of the X5 headphones?"
_EXAMPLE_A = '{"query": "X5 headphones battery duration hours per charge"}'


@dataclass(frozen=True)
class QueryVariant:
    """A query to search, where it came from (original/rewrite/user) and its fusion weight."""

    text: str
    kind: str
    weight: float


@dataclass(frozen=True)
class QueryPlan:
    variants: tuple[QueryVariant, ...]
    degraded: bool = False
    warnings: tuple[str, ...] = ()
    hyde_passage: str | None = None

    @property
    def texts(self) -> tuple[str, ...]:
        return tuple(v.text for v in self.variants)


def normalise_query(text: str) -> str:
    """Key for deduplication: lower-case words only."""
    return " ".join(_WORD.findall(text.lower()))


def content_words(text: str) -> set[str]:
    return {w for w in _WORD.findall(text.lower()) if w not in _STOP and len(w) > 1}


def clean_rewrite(raw: str, question: str) -> str | None:
    """The query inside a model reply, or None when the reply is not a usable rewrite."""
    text = raw.strip()
    try:
        value = json.loads(text)
        text = str(value.get("query", "")) if isinstance(value, dict) else ""
    except json.JSONDecodeError:
        match = re.search(r'"query"\s*:\s*"([^"\n]*)', text)
        text = match.group(1) if match else ""
    text = " ".join(text.split()).strip(" '")
    if not text or any(mark in text for mark in ("{", "}", '"', "`", "\\n")):
        return None
    words = _WORD.findall(text)
    if len(words) < 2 or len(text) > max(3 * len(question), 160):
        return None
    # A rewrite must stay on topic: it shares at least one content word with the question.
    if not content_words(text) & content_words(question):
        return None
    return text


class RewriteCache:
    """Rewrites keyed by model, prompt version, question and sample number (SQLite)."""

    def __init__(self, path: Path | None) -> None:
        self._lock = threading.Lock()
        self._db = sqlite3.connect(
            str(path) if path else ":memory:",
            check_same_thread=False,
            isolation_level=None,
            timeout=30.0,
        )
        self._db.execute("CREATE TABLE IF NOT EXISTS rewrites (key TEXT PRIMARY KEY, reply TEXT)")

    @staticmethod
    def key(model: str, question: str, sample: int) -> str:
        raw = json.dumps([model, _PROMPT_VERSION, question, sample])
        return hashlib.blake2b(raw.encode(), digest_size=16).hexdigest()

    def get(self, key: str) -> str | None:
        with self._lock:
            row = self._db.execute("SELECT reply FROM rewrites WHERE key = ?", (key,)).fetchone()
        return None if row is None else str(row[0])

    def put(self, key: str, reply: str) -> None:
        # a read-only or busy cache only costs a recomputation
        with self._lock, contextlib.suppress(sqlite3.OperationalError):
            self._db.execute("INSERT OR REPLACE INTO rewrites VALUES (?, ?)", (key, reply))

    def close(self) -> None:
        self._db.close()


def rewrite_messages(question: str) -> list[Message]:
    return [
        {"role": "system", "content": _SYSTEM},
        {"role": "user", "content": _EXAMPLE_Q},
        {"role": "assistant", "content": _EXAMPLE_A},
        {"role": "user", "content": f"Question: {question}"},
    ]


def llm_rewrites(
    question: str,
    n: int,
    llm: LLM,
    cache: RewriteCache | None = None,
    *,
    max_attempts_factor: int = 2,
) -> tuple[list[str], list[str]]:
    """Up to ``n`` distinct, validated rewrites; returns (rewrites, warnings)."""
    seen = {normalise_query(question)}
    rewrites: list[str] = []
    warnings: list[str] = []
    rejected = 0
    for sample in range(n * max_attempts_factor):
        if len(rewrites) >= n:
            break
        key = RewriteCache.key(llm.name, question, sample)
        reply = cache.get(key) if cache else None
        if reply is None:
            try:
                reply = llm.complete(
                    rewrite_messages(question),
                    max_tokens=_REWRITE_MAX_TOKENS,
                    temperature=REWRITE_TEMPERATURE,
                    json_schema=REWRITE_SCHEMA,
                    seed=sample,
                )
            except ModelError as exc:
                warnings.append(f"query rewriting failed ({exc}); searched without rewrites")
                break
            if cache:
                cache.put(key, reply)
        cleaned = clean_rewrite(reply, question)
        if cleaned is None or normalise_query(cleaned) in seen:
            rejected += 1
            continue
        seen.add(normalise_query(cleaned))
        rewrites.append(cleaned)
    if len(rewrites) < n and not warnings:
        warnings.append(
            f"only {len(rewrites)} of {n} rewrites were usable ({rejected} rejected "
            "as duplicates or off-topic)"
        )
    return rewrites, warnings


_HYDE_SYSTEM = (
    "Write a short, factual passage (two or three sentences) that answers the question, as "
    "it might appear in a reference document. Do not mention the question."
)
_HYDE_MAX_TOKENS = 96
_HYDE_PROMPT_VERSION = "hyde-v1"


def hyde_passage(
    question: str, llm: LLM, cache: RewriteCache | None = None
) -> tuple[str | None, list[str]]:
    """A hypothetical answer passage for dense search (HyDE, Gao et al. 2022), or None."""
    key = RewriteCache.key(llm.name, _HYDE_PROMPT_VERSION + question, 0)
    reply = cache.get(key) if cache else None
    if reply is None:
        messages: list[Message] = [
            {"role": "system", "content": _HYDE_SYSTEM},
            {"role": "user", "content": question},
        ]
        try:
            reply = llm.complete(messages, max_tokens=_HYDE_MAX_TOKENS, temperature=0.0)
        except ModelError as exc:
            return None, [f"HyDE passage generation failed ({exc})"]
        if cache:
            cache.put(key, reply)
    passage = " ".join(reply.split())
    if len(content_words(passage)) < 3:
        return None, ["the HyDE passage was unusable; searched without it"]
    return passage, []


def plan_queries(
    question: str,
    *,
    rewrites: int = 0,
    queries: Sequence[str] = (),
    llm: LLM | None = None,
    cache: RewriteCache | None = None,
    rewrite_weight: float = REWRITE_WEIGHT,
    hyde: bool = False,
) -> QueryPlan:
    """The original question first, then the user's variants, then LLM rewrites."""
    question = question.strip()
    variants = [QueryVariant(question, "original", ORIGINAL_WEIGHT)]
    seen = {normalise_query(question)}
    for text in queries:
        text = text.strip()
        if text and normalise_query(text) not in seen:
            seen.add(normalise_query(text))
            variants.append(QueryVariant(text, "user", USER_QUERY_WEIGHT))
    warnings: list[str] = []
    degraded = False
    if rewrites > 0:
        if llm is None:
            warnings.append("rewrites were requested but no LLM is configured")
            degraded = True
        else:
            found, notes = llm_rewrites(question, rewrites, llm, cache)
            warnings += notes
            degraded = not found
            for text in found:
                if normalise_query(text) not in seen:
                    seen.add(normalise_query(text))
                    variants.append(QueryVariant(text, "rewrite", rewrite_weight))
    passage = None
    if hyde:
        if llm is None:
            warnings.append("HyDE was requested but no LLM is configured")
            degraded = True
        else:
            passage, notes = hyde_passage(question, llm, cache)
            warnings += notes
            degraded = degraded or passage is None
    return QueryPlan(
        tuple(variants), degraded=degraded, warnings=tuple(warnings), hyde_passage=passage
    )
