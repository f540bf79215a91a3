"""Multi-turn support chat: follow-ups become standalone questions before retrieval.

"How do I clean it?" means nothing to a retriever. Before searching, a follow-up that leans
on the conversation is rewritten with the history: by the LLM (JSON-constrained, checked to
keep the follow-up's words) and, as a safety net a small model needs, by joining it to the
previous question. Both are searched and fused; the provenance shows which was used.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ragfusion.apps.conversations import ConversationStore, Turn
from ragfusion.errors import ConfigError, ModelError
from ragfusion.llm.base import LLM, Message
from ragfusion.retrieval.query_plan import content_words, normalise_query

if TYPE_CHECKING:
    from ragfusion.pipeline import AnswerEvent, Pipeline

HISTORY_TURNS = 4  # turns (user + assistant) given to the condenser and the answer prompt
_HISTORY_CHARS = 600  # per turn, so the small model's context is not spent on history
_MAX_STANDALONE_WORDS = 60
_CONDENSE_SCHEMA = {
    "type": "object",
    "properties": {"question": {"type": "string"}},
    "required": ["question"],
}
_CONDENSE_SYSTEM = (
    "Rewrite the user's last message as one standalone question that can be understood "
    "without the conversation. Replace words like 'it' or 'that' with what they refer to. "
    'Keep names and numbers. Reply with JSON: {"question": "..."}'
)
# Words that point back into the conversation: a message with one of these (or a very short
# one) needs the history to be understood.
_ANAPHORA = frozenset(
    [
        "it",
        "its",
        "it's",
        "this",
        "that",
        "these",
        "those",
        "they",
        "them",
        "their",
        "there",
        "he",
        "she",
        "his",
        "her",
        "one",
        "ones",
        "same",
        "also",
        "else",
        "other",
        "another",
        "more",
    ]
)
_WORD = re.compile(r"[\w']+")
_NUMBER = re.compile(r"\d+(?:[.,]\d+)?")


@dataclass(frozen=True)
class Standalone:
    """The question searched for a chat message, and how it was made."""

    question: str
    how: str  # "as-is", "llm" or "context"
    context_query: str | None = None


def needs_context(message: str) -> bool:
    words = [w.lower() for w in _WORD.findall(message)]
    return len(content_words(message)) < 3 or any(w in _ANAPHORA for w in words)


def _clip(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= _HISTORY_CHARS else text[:_HISTORY_CHARS] + "…"


def history_messages(turns: Sequence[Turn]) -> list[Message]:
    return [{"role": t.role, "content": _clip(t.content)} for t in turns]


def condense(message: str, turns: Sequence[Turn], llm: LLM | None) -> Standalone:
    """The standalone form of ``message`` given the earlier ``turns``."""
    message = " ".join(message.split())
    previous = next((t for t in reversed(turns) if t.role == "user"), None)
    if previous is None or not needs_context(message):
        return Standalone(message, "as-is")
    context_query = f"{previous.standalone or previous.content} {message}"
    if llm is None:
        return Standalone(context_query, "context")
    prompt: list[Message] = [
        {"role": "system", "content": _CONDENSE_SYSTEM},
        *history_messages(turns[-HISTORY_TURNS:]),
        {"role": "user", "content": f"Last message: {message}\nStandalone question as JSON:"},
    ]
    try:
        reply = llm.complete(prompt, max_tokens=64, temperature=0.0, json_schema=_CONDENSE_SCHEMA)
        candidate = " ".join(str(json.loads(reply)["question"]).split())
    except (ModelError, ValueError, KeyError, TypeError):
        return Standalone(context_query, "context")
    if _usable(candidate, message, previous, [t.content for t in turns]):
        return Standalone(candidate, "llm", context_query)
    return Standalone(context_query, "context")


def _usable(candidate: str, message: str, previous: Turn, history_text: Sequence[str]) -> bool:
    """A rewrite must keep the follow-up's own words, be a sentence, and not just repeat the
    previous question (the usual failures of a small model)."""
    words = candidate.split()
    if not 3 <= len(words) <= _MAX_STANDALONE_WORDS:
        return False
    own = content_words(message)
    if own and not own & content_words(candidate):
        return False
    # It must also bring in what the follow-up refers to: a word from the conversation.
    if not (content_words(candidate) - own) & content_words(" ".join(history_text)):
        return False
    earlier = previous.standalone or previous.content
    if normalise_query(candidate) in (normalise_query(earlier), normalise_query(message)):
        return False
    # A small model likes to answer inside the rewrite ("... cost? 20.95 USD"): numbers that
    # appear nowhere in the conversation are invented.
    known = set(_NUMBER.findall(" ".join([message, *history_text])))
    return set(_NUMBER.findall(candidate)) <= known


def chat_stream(
    pipe: Pipeline,
    conversations: ConversationStore,
    message: str,
    *,
    conversation_id: str | None = None,
    use_llm_condense: bool = True,
    **ask_options: Any,
) -> Iterator[AnswerEvent]:
    """One chat turn: a ``conversation`` event (id, standalone question), then the events of
    ``Pipeline.ask_stream``. Both turns are saved once the answer is complete."""
    from ragfusion.pipeline import AnswerEvent
    from ragfusion.serialize import citation_json

    if not message.strip():
        raise ConfigError("The message is empty")
    if conversation_id is None:
        conversation_id = conversations.create()
    else:
        conversations.require(conversation_id)
    turns = conversations.turns(conversation_id, last=HISTORY_TURNS)
    standalone = condense(message, turns, pipe.llm if use_llm_condense else None)
    yield AnswerEvent(
        "conversation",
        {
            "id": conversation_id,
            "standalone": standalone.question,
            "how": standalone.how,
        },
    )
    extra = [standalone.context_query] if standalone.context_query else []
    options = dict(ask_options)
    options["queries"] = [*options.get("queries", ()), *extra]
    answer = None
    for event in pipe.ask_stream(standalone.question, history=history_messages(turns), **options):
        if event.kind == "done":
            answer = event.data
        yield event
    if answer is not None:
        conversations.append(conversation_id, "user", message, standalone=standalone.question)
        conversations.append(
            conversation_id,
            "assistant",
            answer.text,
            citations=[citation_json(c) for c in answer.citations],
        )
