"""HTML: main content as Markdown-like text (boilerplate dropped), headings as sections.

The body is walked once in document order, without recursion (deeply nested pages cannot
overflow the stack). Block elements (headings, paragraphs, list items, table rows...) become
blocks; text outside them (directly in <div>s, <section>s...) becomes blocks of its own, one
per run of text between block boundaries, so no content is lost.
"""

from __future__ import annotations

import re
from typing import Any

from ragfusion.errors import LoadError, MissingDependencyError
from ragfusion.ingest.loaders.base import LoadedText, MarkdownTextBuilder, collapse_spaces
from ragfusion.ingest.loaders.html_depth import cap_nesting
from ragfusion.ingest.loaders.text import decode_text

# Page furniture that is never the content a user asks about (with its whole subtree).
_DROP = frozenset(
    [
        "head",  # only reached when a page has no <body>; its <title> is read separately
        "script",
        "style",
        "noscript",
        "template",
        "svg",
        "iframe",
        "nav",
        "footer",
        "aside",
        "form",
        "button",
    ]
)
# A <header> is page furniture (logo, menu) unless it belongs to the content itself.
_CONTENT_ROOTS = frozenset(["article", "main"])
_BLOCKS = frozenset(
    [
        "h1",
        "h2",
        "h3",
        "h4",
        "h5",
        "h6",
        "p",
        "li",
        "pre",
        "blockquote",
        "tr",
        "dt",
        "dd",
        "figcaption",
        "caption",
    ]
)
# Elements that do not break a run of loose text (any other element does).
_INLINE = frozenset(
    [
        *("a", "abbr", "b", "bdi", "bdo", "big", "cite", "code", "data", "del", "dfn", "em"),
        *("font", "i", "img", "ins", "kbd", "label", "mark", "nobr", "output", "q", "rp"),
        *("rt", "ruby", "s", "samp", "small", "span", "strike", "strong", "sub", "sup"),
        *("time", "tt", "u", "var", "wbr"),
    ]
)
_WHITE_SPACE = re.compile(r"\s+")

_ENTER, _LEAVE = 0, 1


def load_html(data: bytes, path: str, stem: str) -> LoadedText:
    try:
        from selectolax.lexbor import LexborHTMLParser
    except ImportError as exc:  # pragma: no cover - selectolax is a core dependency
        raise MissingDependencyError("selectolax", "html", "Reading HTML") from exc

    markup, flattened = cap_nesting(decode_text(data, path))
    tree = LexborHTMLParser(markup)
    title_node = tree.css_first("title")
    page_title = collapse_spaces(title_node.text()) if title_node is not None else ""
    body = tree.body or tree.root
    if body is None:
        raise LoadError(path, "has no HTML body to read")

    for node in _furniture(body):
        node.decompose()

    builder = MarkdownTextBuilder()
    loose: list[str] = []  # the current run of text outside any block element

    def flush() -> None:
        if loose:
            builder.block("".join(loose))
            loose.clear()

    # Events in document order; a node's children are pushed in reverse, then popped in order.
    stack: list[tuple[int, Any]] = [(_ENTER, body)]
    while stack:
        event, node = stack.pop()
        tag = node.tag or ""
        if event == _LEAVE:
            flush()
        elif tag == "-text":
            loose.append(_WHITE_SPACE.sub(" ", node.text(deep=False) or ""))
        elif not tag or tag[0] in "-_!#":  # comments, doctype, processing instructions
            continue
        elif tag == "br":
            loose.append("\n")
        elif tag in _BLOCKS:
            flush()
            _emit_block(builder, node, tag)
        else:
            if tag not in _INLINE:  # <div>, <section>, <table>...: a boundary of loose text
                flush()
                stack.append((_LEAVE, node))
            children = list(node.iter(include_text=True))
            stack.extend((_ENTER, child) for child in reversed(children))
    flush()

    text = builder.text
    if not text.strip():
        raise LoadError(path, "contains no readable text after removing markup")
    title = page_title or builder.first_heading() or stem
    metadata = {"flattened_tags": flattened} if flattened else {}
    return LoadedText(text=text, title=title, sections=builder.sections, metadata=metadata)


def _furniture(body: Any) -> list[Any]:
    """The outermost elements to drop: page furniture, and <header>s outside the content.

    Only outermost ones: a node inside a decomposed subtree must not be touched again.
    """
    found: list[Any] = []
    stack: list[tuple[Any, bool]] = [(body, False)]  # (node, inside <article>/<main>)
    while stack:
        node, in_content = stack.pop()
        tag = node.tag or ""
        if tag in _DROP or (tag == "header" and not in_content):
            found.append(node)
            continue
        in_content = in_content or tag in _CONTENT_ROOTS
        stack.extend((child, in_content) for child in node.iter())
    return found


def _emit_block(builder: MarkdownTextBuilder, node: Any, tag: str) -> None:
    """One block element, with everything inside it (nested blocks included)."""
    if tag[0] == "h" and tag[1:].isdigit():
        builder.heading(node.text(separator=" "), int(tag[1:]))
    elif tag == "li":
        builder.block(node.text(separator=" "), prefix="- ")
    elif tag == "tr":
        cells = [collapse_spaces(c.text(separator=" ")) for c in node.css("th,td")]
        builder.block(" | ".join(c for c in cells if c))
    elif tag == "pre":
        builder.verbatim(node.text())
    else:
        builder.block(node.text(separator=" "))
