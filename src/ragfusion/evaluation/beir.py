"""Read a BEIR-format collection: corpus.jsonl, queries.jsonl, qrels/<split>.tsv.

Malformed input fails before any indexing starts, with the file and line at fault. Problems
that still leave a usable collection (duplicate ids, empty queries, judgments for unknown
queries or documents) are kept as warnings, because they change what the scores mean.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ragfusion.errors import ConfigError
from ragfusion.pipeline import TextRecord


@dataclass(frozen=True)
class Collection:
    name: str
    path: Path
    split: str
    corpus: tuple[TextRecord, ...]
    queries: dict[str, str]  # only queries judged in the split, in qrels order
    qrels: dict[str, dict[str, int]]
    warnings: tuple[str, ...] = ()


def _lines(path: Path) -> Iterator[tuple[int, str]]:
    """Numbered lines of a UTF-8 file (a byte-order mark is accepted)."""
    try:
        with path.open(encoding="utf-8-sig", newline="") as handle:
            yield from enumerate(handle, start=1)
    except UnicodeDecodeError as exc:
        raise ConfigError(
            f"{path} is not UTF-8 ({exc.reason} at byte {exc.start}); "
            "re-encode it, e.g. `iconv -f latin1 -t utf-8`"
        ) from exc


def _read_jsonl(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    for number, line in _lines(path):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise ConfigError(f"{path}:{number} is not valid JSON ({exc})") from exc
        if not isinstance(row, dict):
            raise ConfigError(f"{path}:{number} is not a JSON object")
        yield number, row


def _text_field(path: Path, number: int, row: dict[str, Any], key: str, required: bool) -> str:
    value = row.get(key)
    if value is None:
        if required:
            raise ConfigError(
                f"{path}:{number} has no '{key}' field; BEIR lines look like "
                '{"_id": "...", "text": "..."}'
            )
        return ""
    if isinstance(value, dict | list):
        raise ConfigError(f"{path}:{number}: '{key}' must be a string or number")
    return str(value)


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def read_qrels(path: Path) -> dict[str, dict[str, int]]:
    """BEIR's `query-id <tab> corpus-id <tab> score` (header optional) or TREC's
    `query-id iteration doc-id relevance`, separated by tabs or spaces."""
    qrels: dict[str, dict[str, int]] = {}
    seen_data = False
    for number, line in _lines(path):
        fields = line.rstrip("\r\n").split("\t") if "\t" in line else line.split()
        fields = [f.strip() for f in fields]
        if not any(fields):
            continue
        if len(fields) == 3:
            qid, doc_id, grade = fields
        elif len(fields) == 4:
            qid, _, doc_id, grade = fields
        else:
            raise ConfigError(
                f"{path}:{number} has {len(fields)} columns; expected query-id, corpus-id, "
                "score (BEIR) or query-id, iteration, doc-id, relevance (TREC)"
            )
        if not _is_number(grade):
            if not seen_data:  # a header line
                seen_data = True
                continue
            raise ConfigError(f"{path}:{number}: relevance '{grade}' is not a number")
        seen_data = True
        qrels.setdefault(qid, {})[doc_id] = int(float(grade))
    return qrels


def _read_corpus(path: Path, warnings: list[str]) -> tuple[TextRecord, ...]:
    records: dict[str, TextRecord] = {}
    duplicates = 0
    for number, row in _read_jsonl(path):
        doc_id = _text_field(path, number, row, "_id", required=True)
        if doc_id in records:
            duplicates += 1
            continue
        records[doc_id] = TextRecord(
            id=doc_id,
            text=_text_field(path, number, row, "text", required=False),
            title=_text_field(path, number, row, "title", required=False),
        )
    if not records:
        raise ConfigError(f"{path} has no documents")
    if duplicates:
        warnings.append(f"{path.name}: {duplicates} duplicate document ids; the first is kept")
    return tuple(records.values())


def _read_queries(path: Path, warnings: list[str]) -> dict[str, str]:
    queries: dict[str, str] = {}
    duplicates = 0
    for number, row in _read_jsonl(path):
        qid = _text_field(path, number, row, "_id", required=True)
        text = _text_field(path, number, row, "text", required=True)
        if qid in queries:
            duplicates += 1
            continue
        queries[qid] = text
    if duplicates:
        warnings.append(f"{path.name}: {duplicates} duplicate query ids; the first is kept")
    return queries


def load_collection(path: str | Path, split: str = "test") -> Collection:
    root = Path(path).expanduser().resolve()
    needed = [root / "corpus.jsonl", root / "queries.jsonl", root / "qrels" / f"{split}.tsv"]
    missing = [str(p) for p in needed if not p.is_file()]
    if missing:
        raise ConfigError(
            f"{root} is not a BEIR collection with a '{split}' split: missing " + ", ".join(missing)
        )
    warnings: list[str] = []
    corpus = _read_corpus(needed[0], warnings)
    all_queries = _read_queries(needed[1], warnings)
    judged = {
        qid: grades
        for qid, grades in read_qrels(needed[2]).items()
        if any(grade > 0 for grade in grades.values())
    }
    unknown = [qid for qid in judged if qid not in all_queries]
    empty = [qid for qid in judged if qid in all_queries and not all_queries[qid].strip()]
    qrels = {qid: g for qid, g in judged.items() if all_queries.get(qid, "").strip()}
    if not qrels:
        raise ConfigError(
            f"no query of {needed[2]} with a relevant document (score > 0) has text in "
            f"{needed[1]}: judged ids {sorted(judged)[:3]}, query ids {list(all_queries)[:3]}"
        )
    if unknown:
        warnings.append(
            f"{len(unknown)} judged queries are not in queries.jsonl and are left out "
            f"(e.g. {unknown[0]!r})"
        )
    if empty:
        warnings.append(f"{len(empty)} judged queries have empty text and are left out")
    doc_ids = {record.id for record in corpus}
    relevant = {d for grades in qrels.values() for d, grade in grades.items() if grade > 0}
    absent = relevant - doc_ids
    if absent:
        warnings.append(
            f"{len(absent)} of {len(relevant)} relevant documents are not in corpus.jsonl "
            f"(e.g. {sorted(absent)[0]!r}); no mode can retrieve them"
        )
    queries = {qid: all_queries[qid] for qid in qrels}
    return Collection(root.name, root, split, corpus, queries, qrels, tuple(warnings))
