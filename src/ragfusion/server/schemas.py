"""Request bodies of the HTTP API. Bounds here are the first line of defence: anything
outside them is a 422 with a message naming the field."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

FileType = Literal["txt", "md", "html", "pdf", "docx"]
Retriever = Literal["bm25", "dense"]
_BOTH: tuple[Retriever, ...] = ("bm25", "dense")
AnswerMode = Literal["reader", "extractive", "generative"]
_MODE_HELP = (
    "reader (default): the passage span that answers, quoted; extractive: the most similar "
    "sentences; generative: the LLM, each sentence checked against its passage. "
    "extractive: true means mode extractive."
)
Question = Field(min_length=1, max_length=4000, description="The question.")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Filters(_Strict):
    source: str | None = Field(
        default=None, max_length=4096, description="Only documents whose path starts with this."
    )
    file_types: list[FileType] = Field(default_factory=list, max_length=10)


class SearchRequest(Filters):
    question: str = Question
    k: int = Field(default=10, ge=1, le=100)
    rewrites: int | None = Field(default=None, ge=0, le=8)
    queries: list[str] = Field(
        default_factory=list, max_length=8, description="Your own query variants."
    )
    retrievers: list[Retriever] = Field(
        default_factory=lambda: list(_BOTH), min_length=1, max_length=2
    )


class AskRequest(Filters):
    question: str = Question
    k: int | None = Field(default=None, ge=1, le=20, description="Passages given to the model.")
    rewrites: int | None = Field(default=None, ge=0, le=8)
    queries: list[str] = Field(default_factory=list, max_length=8)
    extractive: bool = False
    mode: AnswerMode | None = Field(default=None, description=_MODE_HELP)
    stream: bool = False


class ChatRequest(Filters):
    message: str = Field(min_length=1, max_length=4000)
    conversation_id: str | None = Field(default=None, max_length=64, pattern=r"^[0-9a-f]{32}$")
    k: int | None = Field(default=None, ge=1, le=20)
    extractive: bool = False
    mode: AnswerMode | None = Field(default=None, description=_MODE_HELP)
    stream: bool = False


class OpenAIMessage(BaseModel):
    model_config = ConfigDict(extra="allow")
    role: Literal["system", "user", "assistant", "tool", "developer"]
    content: str | list[dict[str, object]] | None = None


class ChatCompletionRequest(BaseModel):
    """The subset of OpenAI's chat completion request that applies to a RAG model; other
    fields that clients send (temperature, top_p, user, ...) are accepted and ignored."""

    model_config = ConfigDict(extra="allow")
    model: str = Field(default="ragfusion", max_length=200)
    messages: list[OpenAIMessage] = Field(min_length=1, max_length=200)
    stream: bool = False
    max_tokens: int | None = Field(default=None, ge=1, le=4096)
