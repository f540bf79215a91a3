"""OpenAI's chat completion API, answered with retrieval: any OpenAI client can use ragfusion
as a model. The last user message is the question, earlier turns are the history (follow-ups
are made standalone before retrieval) and the citations ride along in ``citations``."""

from __future__ import annotations

import dataclasses
import json
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ragfusion.apps.chat import HISTORY_TURNS, condense, history_messages
from ragfusion.apps.conversations import Turn
from ragfusion.errors import ConfigError, RagfusionError
from ragfusion.serialize import citation_json
from ragfusion.server.schemas import ChatCompletionRequest, OpenAIMessage
from ragfusion.types import Answer

if TYPE_CHECKING:
    from ragfusion.pipeline import AnswerEvent, Pipeline

MODEL_ID = "ragfusion"


@dataclass(frozen=True)
class ChatCall:
    id: str
    created: int
    model: str
    question: str
    turns: tuple[Turn, ...]
    max_tokens: int | None


def _text(message: OpenAIMessage) -> str:
    if isinstance(message.content, str):
        return message.content
    parts = message.content or []
    return " ".join(str(p.get("text", "")) for p in parts if p.get("type") == "text")


def parse(body: ChatCompletionRequest) -> ChatCall:
    talk = [m for m in body.messages if m.role in ("user", "assistant")]
    if not talk or talk[-1].role != "user" or not _text(talk[-1]).strip():
        raise ConfigError("The last message must be a non-empty user message (the question)")
    turns = tuple(Turn(m.role, _text(m), None, [], 0.0) for m in talk[:-1] if _text(m).strip())
    return ChatCall(
        id=f"chatcmpl-{uuid.uuid4().hex}",
        created=int(time.time()),
        model=body.model or MODEL_ID,
        question=_text(talk[-1]).strip(),
        turns=turns,
        max_tokens=body.max_tokens,
    )


def answer_events(pipe: Pipeline, call: ChatCall) -> Iterator[AnswerEvent]:
    from ragfusion.pipeline import AnswerEvent

    if call.max_tokens is not None:
        pipe = pipe.with_config(dataclasses.replace(pipe.config, max_answer_tokens=call.max_tokens))
    recent = call.turns[-HISTORY_TURNS:]
    standalone = condense(call.question, recent, pipe.llm)
    yield AnswerEvent("conversation", {"standalone": standalone.question, "how": standalone.how})
    extra = [standalone.context_query] if standalone.context_query else []
    yield from pipe.ask_stream(standalone.question, history=history_messages(recent), queries=extra)


def _extras(answer: Answer) -> dict[str, Any]:
    return {
        "citations": [citation_json(c) for c in answer.citations],
        "ragfusion": {
            "mode": answer.mode,
            "queries": list(answer.queries),
            "degraded": answer.degraded,
            "warnings": list(answer.warnings),
        },
    }


def completion_json(answer: Answer, call: ChatCall) -> dict[str, Any]:
    return {
        "id": call.id,
        "object": "chat.completion",
        "created": call.created,
        "model": call.model,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": answer.text},
                "finish_reason": "stop",
            }
        ],
        **_extras(answer),
    }


def _chunk(call: ChatCall, delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
    return {
        "id": call.id,
        "object": "chat.completion.chunk",
        "created": call.created,
        "model": call.model,
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
    }


def _data(payload: Any) -> str:
    return f"data: {json.dumps(payload, ensure_ascii=False)}\n\n"


async def stream_chunks(events: AsyncIterator[AnswerEvent], call: ChatCall) -> AsyncIterator[str]:
    """OpenAI's streaming format: role, content deltas, a final chunk with the citations,
    then ``[DONE]``. A mid-stream failure is sent as an ``error`` object before ``[DONE]``."""
    yield _data(_chunk(call, {"role": "assistant"}))
    try:
        async for event in events:
            if event.kind == "token":
                yield _data(_chunk(call, {"content": event.data}))
            elif event.kind == "replace":
                # Streamed text cannot be taken back: say so, then send the replacement.
                note = "\n\n[The answer above was unusable; quoted sentences instead:]\n"
                yield _data(_chunk(call, {"content": note + event.data}))
            elif event.kind == "done":
                yield _data({**_chunk(call, {}, "stop"), **_extras(event.data)})
    except RagfusionError as exc:
        yield _data({"error": {"message": str(exc), "type": type(exc).__name__}})
    yield "data: [DONE]\n\n"


def models_json() -> dict[str, Any]:
    return {
        "object": "list",
        "data": [{"id": MODEL_ID, "object": "model", "created": 0, "owned_by": "ragfusion"}],
    }
