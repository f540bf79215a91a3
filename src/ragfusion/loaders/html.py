"""HTML: main content as Markdown-like text (boilerplate dropped), headings as sections."""

from __future__ import annotations

from ragfusion.errors import LoadError, MissingDependencyError
from ragfusion.loaders.base import LoadedText, MarkdownTextBuilder, collapse_spaces
from ragfusion.loaders.text import decode_text

# Page furniture that is never the content a user asks about.
_DROP = "script,style,noscript,template,svg,iframe,nav,footer,header,aside,form,button"
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
_MIN_COVERAGE = 0.5  # below this share of the body text, fall back to the whole body text


def load_html(data: bytes, path: str, stem: str) -> LoadedText:
    try:
        from selectolax.lexbor import LexborHTMLParser
    except ImportError as exc:  # pragma: no cover - selectolax is a core dependency
        raise MissingDependencyError("selectolax", "html", "Reading HTML") from exc

    tree = LexborHTMLParser(decode_text(data, path))
    title_node = tree.css_first("title")
    page_title = collapse_spaces(title_node.text()) if title_node is not None else ""
    for node in tree.css(_DROP):
        node.decompose()
    body = tree.body or tree.root
    if body is None:
        raise LoadError(path, "has no HTML body to read")

    builder = MarkdownTextBuilder()
    for node in body.css(",".join(sorted(_BLOCKS))):
        if _inside_block(node):
            continue  # its text is part of the enclosing block already
        tag = node.tag or ""
        if tag[0] == "h" and tag[1:].isdigit():
            builder.heading(node.text(separator=" "), int(tag[1:]))
        elif tag == "li":
            builder.block(node.text(separator=" "), prefix="- ")
        elif tag == "tr":
            cells = [collapse_spaces(c.text(separator=" ")) for c in node.css("th,td")]
            builder.block(" | ".join(c for c in cells if c))
        elif tag == "pre":
            builder.block(node.text())
        else:
            builder.block(node.text(separator=" "))

    body_text = collapse_spaces(body.text(separator="\n"))
    text = builder.text
    sections = builder.sections
    if len(text) < _MIN_COVERAGE * len(body_text):
        # Content outside block elements (text directly in <div>s): keep all of it.
        text, sections = body_text, ()
    if not text.strip():
        raise LoadError(path, "contains no readable text after removing markup")
    title = page_title or builder.first_heading() or stem
    return LoadedText(text=text, title=title, sections=sections)


def _inside_block(node: object) -> bool:
    parent = getattr(node, "parent", None)
    while parent is not None:
        if getattr(parent, "tag", None) in _BLOCKS:
            return True
        parent = getattr(parent, "parent", None)
    return False
