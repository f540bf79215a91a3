"""Cap how deeply HTML elements nest before the parser sees them.

An HTML parser checks the stack of open elements for every tag, so its time grows with the
number of tags times their depth: 40,000 nested <div>s take lexbor 3 s, 200,000 take two
minutes. Browsers cap the depth (Blink at 512) and we do the same: beyond ``MAX_DEPTH`` open
elements, further start tags (and as many end tags) are dropped, which keeps all the text
and flattens only the structure past that depth. No real page comes near it.
"""

from __future__ import annotations

import re

MAX_DEPTH = 512

_TAG = re.compile(
    r"<!--.*?(?:-->|\Z)"  # comments, script and style bodies: no tags inside
    r"|<(script|style)\b[^>]*>.*?(?:</\1\s*>|\Z)"
    r"|<(/?)([a-zA-Z][a-zA-Z0-9:-]*)\b[^>]*?(/?)>",
    re.DOTALL | re.IGNORECASE,
)
# Elements that never hold children, and ones whose end tag the parser implies (an
# unclosed <p> or <li> is closed by the next one): neither deepens the tree.
_FLAT = frozenset(
    [
        *("area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta"),
        *("param", "source", "track", "wbr", "keygen", "html", "head", "body", "p", "li"),
        *("dt", "dd", "tr", "td", "th", "thead", "tbody", "tfoot", "option", "optgroup"),
        *("rb", "rt", "rp", "colgroup", "caption"),
    ]
)


def cap_nesting(markup: str, max_depth: int = MAX_DEPTH) -> tuple[str, int]:
    """``markup`` with tags past ``max_depth`` levels removed, and how many were removed."""
    depth = excess = 0
    dropped: list[tuple[int, int]] = []
    for tag in _TAG.finditer(markup):
        name = tag.group(3)
        if name is None or name.lower() in _FLAT or tag.group(4):
            continue
        if not tag.group(2):  # a start tag
            if depth >= max_depth:
                excess += 1
                dropped.append(tag.span())
            else:
                depth += 1
        elif excess:
            excess -= 1
            dropped.append(tag.span())
        else:
            depth = max(depth - 1, 0)
    if not dropped:
        return markup, 0
    parts, last = [], 0
    for start, end in dropped:
        parts.append(markup[last:start])
        last = end
    parts.append(markup[last:])
    return " ".join(parts), len(dropped)
