"""Ingest throughput and `ask` latency on the bundled sample corpus (examples/kb).

Ingest is measured twice in fresh indexes: cold (the process loads the embedding model
first) and warm (model already loaded). Then every question of examples/questions.jsonl
is asked in generative (SmolLM2) and extractive mode; the first ask pays the LLM load and
is reported apart.

    .venv/bin/python benchmarks/sample_corpus.py     # writes results/sample_corpus.json
"""

from __future__ import annotations

import json
import os
import platform
import tempfile
import time
from pathlib import Path

import numpy as np

from ragfusion import Pipeline

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "benchmarks" / "results" / "sample_corpus.json"


def pct(values: list[float], q: float) -> float:
    return round(float(np.percentile(values, q)), 1)


def main() -> None:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    questions = [json.loads(line) for line in (ROOT / "examples" / "questions.jsonl").open()]
    with tempfile.TemporaryDirectory() as tmp:
        started = time.perf_counter()
        with Pipeline.open(Path(tmp) / "cold") as pipe:
            cold = pipe.ingest([ROOT / "examples" / "kb"])
            cold_s = time.perf_counter() - started
            embedder = pipe.embedder
        with Pipeline.open(Path(tmp) / "warm", embedder=embedder) as pipe:
            warm = pipe.ingest([ROOT / "examples" / "kb"])
            first_ask_started = time.perf_counter()
            pipe.ask(questions[0]["question"])  # loads the LLM
            first_ask_s = time.perf_counter() - first_ask_started
            ttft, total, extractive, tokens = [], [], [], []
            for q in questions:
                answer = pipe.ask(q["question"])
                ttft.append(answer.timings_ms["first_token_ms"])
                total.append(answer.timings_ms["total_ms"])
                tokens.append(len(answer.text.split()))
                extractive.append(pipe.ask(q["question"], extractive=True).timings_ms["total_ms"])
    result = {
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
        "chunks": warm.chunks_added,
        "ingest_cold": {
            "seconds": round(cold_s, 2),
            "chunks_per_s": round(cold.chunks_added / cold_s, 1),
        },
        "ingest_warm": {
            "seconds": round(warm.seconds, 2),
            "chunks_per_s": round(warm.chunks_per_second, 1),
            "breakdown_s": warm.timings_s,
        },
        "first_ask_with_llm_load_s": round(first_ask_s, 2),
        "ask_generative_ms": {
            "ttft_p50": pct(ttft, 50),
            "ttft_p95": pct(ttft, 95),
            "total_p50": pct(total, 50),
            "total_p95": pct(total, 95),
            "answer_words_p50": pct([float(t) for t in tokens], 50),
        },
        "ask_extractive_ms": {"total_p50": pct(extractive, 50), "total_p95": pct(extractive, 95)},
        "questions": len(questions),
    }
    OUT.parent.mkdir(exist_ok=True)
    OUT.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
