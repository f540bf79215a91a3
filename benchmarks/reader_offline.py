"""The reader's rules, measured in seconds instead of minutes: capture once what the reader
is given for every question (the passages after retrieval, the question's vector, the names no
document holds), then re-score those inputs with the reader of the working tree.

Retrieval does not depend on the reader, so a change to answer units, their scoring or the
composition of an answer can be judged on the captured inputs; the figures match a full run of
``answers.py --modes reader`` as long as retrieval is unchanged. Choose on kb and the squad2
train split; the squad2 test split is only to report.

    .venv/bin/python benchmarks/reader_offline.py capture        # ~4 min: kb, squad2 train+test
    .venv/bin/python benchmarks/reader_offline.py score          # a few seconds once embedded
    .venv/bin/python benchmarks/reader_offline.py score --show   # and each answer that changed

``score`` prints, per set: answerable questions answered correctly, unanswerable ones
abstained on, answerable ones abstained on, mean words per answer, and how often the unit
holding the gold evidence is scored first. Unit vectors are cached by text.
"""

from __future__ import annotations

import argparse
import os
import pickle
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import answers
from answer_metrics import is_correct, says_dont_know

import ragfusion.answering.answerer as answerer_module
from ragfusion.answering import reader
from ragfusion.answering.question_terms import unindexed_terms
from ragfusion.answering.units import answer_units, passages_text, unit_text

CACHE = answers.ROOT / "benchmarks" / ".cache" / "reader"
INPUTS = CACHE / "inputs.pkl"
VECTORS = CACHE / "vectors.pkl"
SETS = (("kb", "test"), ("squad2", "train"), ("squad2", "test"))


def capture() -> None:
    """Answer every question with the reader, recording the inputs of its last read."""
    calls: list[dict[str, Any]] = []
    original = answerer_module.read

    def recording(question: str, hits: Any, embedder: Any, **options: Any) -> reader.Reading:
        is_indexed = options.get("is_indexed")
        calls.append(
            {
                "question": question,
                "hits": list(hits),
                "unknown": unindexed_terms(question, is_indexed, passages_text(hits))
                if is_indexed
                else [],
                "query": embedder.embed_queries([question])[0],
            }
        )
        return original(question, hits, embedder, **options)

    answerer_module.read = recording  # type: ignore[assignment]
    records = []
    for name, split in SETS:
        with answers.open_index(name) as pipe:
            for row in answers.load_questions(name, split):
                calls.clear()
                answers.ask(pipe, row, "reader")
                records.append(
                    {"set": f"{name}/{split}", "row": row, "call": calls[-1] if calls else None}
                )
        print(f"{name}/{split}: captured", file=sys.stderr)
    CACHE.mkdir(parents=True, exist_ok=True)
    INPUTS.write_bytes(pickle.dumps(records))


class Vectors:
    """Unit vectors by text, computed with the bundled embedder when missing."""

    def __init__(self) -> None:
        self.known: dict[str, Any] = pickle.loads(VECTORS.read_bytes()) if VECTORS.exists() else {}
        self.embedder: Any = None

    def __call__(self, texts: list[str]) -> list[Any]:
        missing = [t for t in dict.fromkeys(texts) if t not in self.known]
        if missing:
            if self.embedder is None:
                from ragfusion.embedders import make_embedder

                self.embedder = make_embedder()
            self.known.update(zip(missing, self.embedder.embed_documents(missing), strict=True))
        return [self.known[t] for t in texts]

    def save(self) -> None:
        VECTORS.write_bytes(pickle.dumps(self.known))


def _normal(text: str) -> str:
    return " ".join(text.split())


def score(show: bool) -> dict[str, dict[str, float]]:
    records = pickle.loads(INPUTS.read_bytes())
    vectors = Vectors()
    out: dict[str, dict[str, float]] = {}
    for record in records:
        row, call = record["row"], record["call"]
        text, abstained, first = "", True, False
        units = answer_units(call["hits"]) if call else []
        if call and units and not call["unknown"]:
            unit_vectors = vectors([unit_text(u) for u in units])
            known = passages_text(call["hits"])
            reading = reader.score_units(
                call["question"], units, unit_vectors, call["query"], reader.DEFAULT_READER, known
            )
            if not reading.abstain:
                text, _ = reader.quote(reading, call["hits"])
                abstained = says_dont_know(text)
            evidence = _normal(row.get("evidence", ""))[:40]
            if evidence:
                ranking = reader.score_units(
                    call["question"],
                    units,
                    unit_vectors,
                    call["query"],
                    reader.ReaderSettings(max_units=1, steps=0),
                    known,
                )
                first = bool(ranking.units) and evidence in _normal(ranking.units[0].unit.text)
        long_gold = row.get("answer", "") if row.get("source", "").startswith("kb/") else ""
        right = row["answerable"] and not abstained and is_correct(text, row["answers"], long_gold)
        figures = out.setdefault(
            record["set"],
            {"correct": 0, "answerable": 0, "abstained_unanswerable": 0, "unanswerable": 0,
             "abstained_answerable": 0, "words": 0, "evidence_first": 0},
        )  # fmt: skip
        if row["answerable"]:
            figures["answerable"] += 1
            figures["correct"] += right
            figures["abstained_answerable"] += abstained
            figures["words"] += len(text.split())
            figures["evidence_first"] += first
        else:
            figures["unanswerable"] += 1
            figures["abstained_unanswerable"] += abstained
        if show and row["answerable"] and not right:
            print(f"x {record['set']} {row['id']} {row['question'][:70]!r} => {text[:160]!r}")
    vectors.save()
    for figures in out.values():
        figures["words"] = round(figures["words"] / max(figures["answerable"], 1), 1)
    return out


def main() -> None:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("step", choices=("capture", "score"))
    parser.add_argument("--show", action="store_true", help="print every wrong answer")
    args = parser.parse_args()
    if args.step == "capture":
        capture()
    for name, figures in score(args.show).items():
        print(name, figures)


if __name__ == "__main__":
    main()
