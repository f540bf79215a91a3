"""Server-Sent Events, as OpenAI-compatible servers stream chat completions.

An event is a block of lines ended by a blank line; its ``data:`` lines (one optional space
after the colon) are joined with newlines. Comments (``:``) and other fields (``event:``,
``id:``, ``retry:``) carry nothing we use. See the WHATWG HTML standard, "Server-sent events".
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

DONE = "[DONE]"


def sse_data(lines: Iterable[str]) -> Iterator[str]:
    """The data of each event in ``lines`` (a stream's lines, without their line ends)."""
    data: list[str] = []
    for raw in lines:
        line = raw.rstrip("\r")
        if not line:
            if data:
                yield "\n".join(data)
                data = []
            continue
        if line.startswith(":"):
            continue
        field, _, value = line.partition(":")
        if field == "data":
            data.append(value[1:] if value.startswith(" ") else value)
    if data:  # a stream that ends without the final blank line
        yield "\n".join(data)
