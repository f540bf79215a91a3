"""Read a BEIR-format collection: corpus.jsonl, queries.jsonl, qrels/<split>.tsv."""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass
from pathlib import Path

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


def _read_jsonl(path: Path) -> list[dict[str, object]]:
    rows = []
    with path.open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            if line.strip():
                try:
                    rows.append(json.loads(line))
                except json.JSONDecodeError as exc:
                    raise ConfigError(f"{path}:{number} is not valid JSON ({exc})") from exc
    return rows


def read_qrels(path: Path) -> dict[str, dict[str, int]]:
    qrels: dict[str, dict[str, int]] = {}
    with path.open(encoding="utf-8", newline="") as handle:
        reader = csv.reader(handle, delimiter="\t")
        for row in reader:
            if len(row) < 3 or row[0] == "query-id":
                continue
            qrels.setdefault(row[0], {})[row[1]] = int(float(row[2]))
    return qrels


def load_collection(path: str | Path, split: str = "test") -> Collection:
    root = Path(path).expanduser().resolve()
    needed = [root / "corpus.jsonl", root / "queries.jsonl", root / "qrels" / f"{split}.tsv"]
    missing = [str(p) for p in needed if not p.is_file()]
    if missing:
        raise ConfigError(
            f"{root} is not a BEIR collection with a '{split}' split: missing " + ", ".join(missing)
        )
    corpus = tuple(
        TextRecord(
            id=str(row["_id"]), text=str(row.get("text") or ""), title=str(row.get("title") or "")
        )
        for row in _read_jsonl(needed[0])
    )
    all_queries = {str(row["_id"]): str(row["text"]) for row in _read_jsonl(needed[1])}
    qrels = {
        qid: judged
        for qid, judged in read_qrels(needed[2]).items()
        if qid in all_queries and any(grade > 0 for grade in judged.values())
    }
    queries = {qid: all_queries[qid] for qid in qrels}
    return Collection(root.name, root, split, corpus, queries, qrels)
