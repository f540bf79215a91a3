"""How many fused passages to give the bundled LLM: answer quality and latency.

Asks every question of examples/questions.jsonl with 2, 3 and 4 passages and reports the share
of the gold answer's words found in the answer, how many answers cite a passage that holds
the gold evidence, and time to first token / total (medians).

    .venv/bin/python benchmarks/answer_passages.py    # writes results/answer_passages.json
"""

from __future__ import annotations

import dataclasses
import json
import re
import tempfile
from pathlib import Path

import numpy as np

from ragfusion import Pipeline

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "benchmarks" / "results" / "answer_passages.json"
_WORD = re.compile(r"\w+")


def words(text: str) -> set[str]:
    return {w for w in _WORD.findall(text.lower()) if len(w) > 2 or w.isdigit()}


def flat(text: str) -> str:
    return " ".join(text.split())


def main() -> None:
    questions = [json.loads(line) for line in (ROOT / "examples" / "questions.jsonl").open()]
    results = {}
    with tempfile.TemporaryDirectory() as tmp, Pipeline.open(Path(tmp) / "idx") as pipe:
        pipe.ingest([ROOT / "examples" / "kb"])
        pipe.ask(questions[0]["question"])  # load the LLM outside the measurements
        for passages in (2, 3, 4):
            view = pipe.with_config(dataclasses.replace(pipe.config, answer_passages=passages))
            overlap, cites, ttft, total = [], 0, [], []
            for q in questions:
                answer = view.ask(q["question"])
                gold = words(q["answer"])
                overlap.append(len(gold & words(answer.text)) / max(1, len(gold)))
                cites += any(flat(q["evidence"]) in flat(c.text) for c in answer.citations)
                ttft.append(answer.timings_ms.get("first_token_ms", 0.0))
                total.append(answer.timings_ms["total_ms"])
            results[passages] = {
                "gold_word_overlap": round(float(np.mean(overlap)), 3),
                "answers_citing_the_evidence": cites,
                "ttft_ms_p50": round(float(np.median(ttft))),
                "total_ms_p50": round(float(np.median(total))),
            }
            print(passages, results[passages], flush=True)
    OUT.parent.mkdir(exist_ok=True)
    OUT.write_text(json.dumps({"questions": len(questions), "by_passages": results}, indent=2))


if __name__ == "__main__":
    main()
