"""Text that Milvus receives: analysed BM25 text and boolean filter expressions.

Pure functions, no client: chunks and queries are analysed here exactly as LocalStore's
tantivy index analyses them, and filters become Milvus expressions with every literal
escaped.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Sequence
from typing import Any

from ragfusion.stores.base import MetadataFilter
from ragfusion.stores.bm25_tantivy import english_analyzer

WEIGHT_LEVELS = 4  # weighted BM25: a term is repeated 1..4 times by its weight
# bm25_text arrives analysed (see ``analyze``), so Milvus only has to split it on spaces.
ANALYZER_PARAMS: dict[str, Any] = {"tokenizer": "standard"}


@functools.cache
def _english() -> Any:
    return english_analyzer()


def analyze(text: str) -> list[str]:
    """Terms as LocalStore's BM25 index sees them (lower-cased, English stop words out,
    Snowball-stemmed). Chunks and queries reach Milvus as these terms joined by spaces: its
    analyzer then only splits them again, so BM25 sees the same terms on LocalStore, on
    Milvus Lite (whose analyzer has no stemmer) and on a server."""
    return list(_english().analyze(text))


def analyzed(text: str) -> str:
    return " ".join(analyze(text))


def weighted_query(weights: dict[str, float]) -> str:
    """A query text whose term counts approximate ``weights``: Milvus scores a query term
    once per occurrence, so each term repeats 1..WEIGHT_LEVELS times in proportion."""
    positive = {term: w for term, w in weights.items() if w > 0}
    if not positive:
        return ""
    top = max(positive.values())
    return " ".join(
        " ".join([term] * max(1, round(WEIGHT_LEVELS * w / top)))
        for term, w in sorted(positive.items())
    )


def quote(value: str) -> str:
    """A Milvus expression string literal."""
    escaped = (
        value.replace("\\", "\\\\")
        .replace('"', '\\"')
        .replace("\n", "\\n")
        .replace("\r", "\\r")
        .replace("\t", "\\t")
    )
    return f'"{escaped}"'


def string_list(values: Sequence[str]) -> str:
    return "[" + ", ".join(quote(v) for v in values) + "]"


def filter_expression(where: MetadataFilter | None) -> str:
    """The Milvus boolean expression for a filter ("" = everything)."""
    if where is None or where.is_empty:
        return ""
    clauses = []
    if where.source_prefix:
        # LIKE's own escapes first (\ % _ are literal in paths), then the string literal's.
        pattern = re.sub(r"([\\%_])", r"\\\1", where.source_prefix) + "%"
        clauses.append(f"source like {quote(pattern)}")
    if where.file_types:
        clauses.append(f"file_type in {string_list(where.file_types)}")
    if where.doc_ids:
        clauses.append(f"doc_id in {string_list(where.doc_ids)}")
    return " and ".join(clauses)
