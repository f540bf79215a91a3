"""The LLM contract: chat messages in, text (whole or streamed) out."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any, Protocol, TypedDict, runtime_checkable


class Message(TypedDict):
    role: str
    content: str


@runtime_checkable
class LLM(Protocol):
    """A chat model. Cheap to construct; the weights load on first use (or ``warm_up``)."""

    @property
    def name(self) -> str: ...

    def complete(
        self,
        messages: Sequence[Message],
        *,
        max_tokens: int = 256,
        temperature: float = 0.0,
        json_schema: Mapping[str, Any] | None = None,
        seed: int | None = None,
    ) -> str:
        """The whole reply. With ``json_schema`` the reply is constrained to that schema."""
        ...

    def stream(
        self,
        messages: Sequence[Message],
        *,
        max_tokens: int = 256,
        temperature: float = 0.0,
        seed: int | None = None,
    ) -> Iterator[str]:
        """The reply as text pieces, as the model produces them."""
        ...
