"""Answer quality: is the answer right, does it state only what its sources say, and does it
abstain when the documents do not answer? Per answer mode, beside LlamaIndex and LangChain
answering with their default QA prompts, and beside the reader's ceiling (the same LLM given
the gold passage directly). Metrics: benchmarks/answer_metrics.py.

Question sets:
- ``kb``: examples/questions.jsonl over examples/kb (follow-ups are asked as chat turns).
- ``squad2``: benchmarks/data/squad2 (SQuAD 2.0 paragraphs as the corpus, answerable and
  unanswerable questions; see its SOURCE.md), the ``test`` split unless ``--split train``.

Modes: ``reader`` (the default answer), ``extractive``, ``generative`` (verified; its
unverified text is scored as ``generative-raw``), ``ceiling`` (generative over the gold
passage alone), ``llamaindex`` and ``langchain`` (run in .venv-peers with the same bundled
LLM served by llama.cpp on loopback, over our top passages for each question).

    .venv/bin/python benchmarks/answers.py                    # everything (~40 min)
    .venv/bin/python benchmarks/answers.py --modes reader,extractive --sets squad2 --split train
    .venv/bin/python benchmarks/answers.py --tune             # reader weights on squad2 train

Writes results/answers.json (the summary; a set run alone replaces only its own figures) and
results/answers-rows-SET.jsonl (every answer, to read them).
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from answer_metrics import (
    is_correct,
    percentile,
    says_dont_know,
    unsupported_count,
)

from ragfusion import Pipeline
from ragfusion.answering.prompting import build_messages
from ragfusion.answering.reader import ReaderSettings, answer_units, score_units, unit_text
from ragfusion.apps.chat import chat_stream
from ragfusion.apps.conversations import ConversationStore
from ragfusion.pipeline import TextRecord
from ragfusion.types import Answer, Chunk, Hit

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
CACHE = ROOT / "benchmarks" / ".cache" / "answers"
SQUAD = ROOT / "benchmarks" / "data" / "squad2"
PEERS_PYTHON = ROOT / ".venv-peers" / "bin" / "python"
OUR_MODES = ("reader", "extractive", "generative")
ALL_MODES = (*OUR_MODES, "ceiling", "llamaindex", "langchain")
PEER_PASSAGES = 3  # what our generative mode gives the LLM (PipelineConfig.answer_passages)


def load_questions(name: str, split: str) -> list[dict[str, Any]]:
    if name == "kb":
        path = ROOT / "examples" / "questions.jsonl"
        rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
        for row in rows:
            row.setdefault("answerable", True)
            row.setdefault("answers", [row["answer"]])
        return rows
    rows = [json.loads(line) for line in (SQUAD / "questions.jsonl").read_text().splitlines()]
    return [row for row in rows if row["split"] == split]


def open_index(name: str) -> Pipeline:
    """The question set's corpus, indexed once into benchmarks/.cache/answers/NAME."""
    index = CACHE / name
    pipe = Pipeline.open(index)
    if pipe.store.count_chunks() == 0:
        if name == "kb":
            pipe.ingest([ROOT / "examples" / "kb"])
        else:
            corpus = [
                json.loads(line) for line in (SQUAD / "corpus.jsonl").read_text().splitlines()
            ]
            pipe.ingest_records([TextRecord(r["_id"], r["text"], r["title"]) for r in corpus])
    return pipe


def answer_passages(answer: Answer) -> list[str]:
    """The text each ``[n]`` of the answer points at (passage n, or citation n beyond them)."""
    by_n = {c.n: c.text for c in answer.citations}
    top = max([*by_n, 0])
    if answer.mode == "generative":
        passages = [h.chunk.text for h in answer.hits]
        top = max(top, len(passages))
        return [
            by_n.get(n, passages[n - 1] if n <= len(passages) else "") for n in range(1, top + 1)
        ]
    return [by_n.get(n, "") for n in range(1, top + 1)]


def ask(pipe: Pipeline, row: dict[str, Any], mode: str) -> tuple[Answer, float | None, str]:
    """Our answer (chat turns for follow-ups), time to first token, and the raw streamed text."""
    history = row.get("history") or []
    started = time.perf_counter()
    first: float | None = None
    pieces: list[str] = []
    answer: Answer | None = None
    if history:
        with tempfile.TemporaryDirectory() as tmp:
            store = ConversationStore(Path(tmp) / "c.sqlite3")
            conversation = None
            for earlier in history:
                for event in chat_stream(
                    pipe, store, earlier, conversation_id=conversation, mode=mode
                ):
                    if event.kind == "conversation":
                        conversation = event.data["id"]
            started = time.perf_counter()
            events = chat_stream(
                pipe, store, row["question"], conversation_id=conversation, mode=mode
            )
            for event in events:
                if event.kind == "token":
                    first = first or (time.perf_counter() - started) * 1000
                    pieces.append(event.data)
                elif event.kind == "done":
                    answer = event.data
            store.close()
    else:
        for event in pipe.ask_stream(row["question"], mode=mode):
            if event.kind == "token":
                first = first or (time.perf_counter() - started) * 1000
                pieces.append(event.data)
            elif event.kind == "done":
                answer = event.data
    assert answer is not None
    return answer, first, "".join(pieces)


def score(row: dict[str, Any], text: str, passages: list[str], abstained: bool) -> dict[str, Any]:
    long_gold = row.get("answer", "") if row.get("source", "").startswith("kb/") else ""
    abstained = abstained or says_dont_know(text)
    return {
        "correct": bool(row["answerable"])
        and not abstained
        and is_correct(text, row["answers"], long_gold),
        "abstained": abstained,
        "unsupported": 0 if abstained else unsupported_count(text, passages),
    }


def run_ours(pipe: Pipeline, rows: list[dict[str, Any]], mode: str) -> Iterator[dict[str, Any]]:
    for row in rows:
        t = time.perf_counter()
        answer, first, streamed = ask(pipe, row, mode)
        latency = (time.perf_counter() - t) * 1000
        abstained = answer.mode in ("abstain", "none")
        passages = answer_passages(answer)
        base = {"id": row["id"], "latency_ms": round(latency, 1), "first_ms": first}
        yield {
            **base,
            "mode": mode,
            "answer": answer.text,
            **score(row, answer.text, passages, abstained),
            "warnings": list(answer.warnings),
            "answer_mode": answer.mode,
        }
        if mode == "generative":
            raw_passages = [h.chunk.text for h in answer.hits]
            yield {
                **base,
                "mode": "generative-raw",
                "answer": streamed,
                **score(row, streamed, raw_passages, abstained),
                "answer_mode": answer.mode,
            }


def gold_passage(pipe: Pipeline, row: dict[str, Any]) -> str:
    """The passage holding the evidence: the indexed chunk that contains it, if one does,
    else the evidence with up to 400 characters around it from its document."""
    evidence = row["evidence"]
    found = pipe.search(evidence, k=20)
    for hit in found.hits:
        if evidence in hit.chunk.text:
            return hit.chunk.text
    for info in pipe.documents():
        document = pipe.document(info.doc_id)
        if document is not None and evidence in document.text:
            at = document.text.index(evidence)
            return document.text[max(0, at - 400) : at + len(evidence) + 400]
    return evidence


def run_ceiling(pipe: Pipeline, rows: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    for row in rows:
        if not row["answerable"]:
            continue
        passage = gold_passage(pipe, row)
        chunk = Chunk("gold", "gold", "gold", "txt", 0, 0, len(passage), "", passage)
        messages = build_messages(row["question"], [Hit(chunk, 1.0)])
        t = time.perf_counter()
        text = pipe.llm.complete(messages, max_tokens=pipe.config.max_answer_tokens)
        latency = (time.perf_counter() - t) * 1000
        yield {
            "id": row["id"],
            "mode": "ceiling",
            "answer": text,
            "latency_ms": round(latency, 1),
            "first_ms": None,
            **score(row, text, [passage], False),
        }


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def llm_server() -> Iterator[str]:
    """The bundled GGUF behind llama.cpp's OpenAI-compatible server on loopback."""
    from ragfusion.llm.llama_cpp import DEFAULT_CONTEXT_TOKENS, default_gguf_path

    port = free_port()
    command = [
        sys.executable,
        "-m",
        "llama_cpp.server",
        "--model",
        str(default_gguf_path()),
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--n_ctx",
        str(DEFAULT_CONTEXT_TOKENS),
        "--n_threads",
        str(os.cpu_count() or 1),
    ]
    server = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}/v1"
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1):
                    break
            except OSError:
                if time.monotonic() > deadline or server.poll() is not None:
                    raise RuntimeError("the llama.cpp server did not start") from None
                time.sleep(0.5)
        yield url
    finally:
        server.terminate()
        server.wait(timeout=30)


def run_peers(
    pipe: Pipeline, rows: list[dict[str, Any]], systems: list[str]
) -> Iterator[dict[str, Any]]:
    if not PEERS_PYTHON.exists():
        raise SystemExit("peers need .venv-peers: bash benchmarks/peers-setup.sh")
    inputs, passages_of = [], {}
    for row in rows:
        question = " ".join([*(row.get("history") or []), row["question"]])
        hits = pipe.search(question, k=PEER_PASSAGES).hits
        passages_of[row["id"]] = [h.chunk.text for h in hits]
        inputs.append(
            {
                "id": row["id"],
                "question": question,
                "passages": [{"text": h.chunk.text, "source": h.chunk.source} for h in hits],
            }
        )
    with tempfile.TemporaryDirectory() as tmp, llm_server() as url:
        src, out = Path(tmp) / "in.jsonl", Path(tmp) / "out.jsonl"
        src.write_text("".join(json.dumps(i) + "\n" for i in inputs))
        subprocess.run(
            [
                str(PEERS_PYTHON),
                str(ROOT / "benchmarks" / "peers_answers.py"),
                "--input",
                str(src),
                "--output",
                str(out),
                "--llm-url",
                url,
                "--systems",
                ",".join(systems),
            ],
            check=True,
        )
        answers = [json.loads(line) for line in out.read_text().splitlines()]
    by_id = {row["id"]: row for row in rows}
    for peer in answers:
        row, text = by_id[peer["id"]], peer["answer"] or ""
        yield {
            "id": peer["id"],
            "mode": peer["system"],
            "answer": text,
            "latency_ms": peer["latency_ms"],
            "first_ms": None,
            "error": peer.get("error"),
            **score(row, text, passages_of[peer["id"]], False),
        }


def summarise(rows: list[dict[str, Any]], questions: list[dict[str, Any]]) -> dict[str, Any]:
    answerable = {q["id"] for q in questions if q["answerable"]}
    out = {}
    for mode in dict.fromkeys(r["mode"] for r in rows):
        mine = [r for r in rows if r["mode"] == mode]
        ans = [r for r in mine if r["id"] in answerable]
        unans = [r for r in mine if r["id"] not in answerable]
        latencies = [r["latency_ms"] for r in mine]
        firsts = [r["first_ms"] for r in mine if r.get("first_ms") is not None]
        out[mode] = {
            "questions": len(mine),
            "correct": round(sum(r["correct"] for r in ans) / len(ans), 4) if ans else None,
            "correct_n": sum(r["correct"] for r in ans),
            "answerable": len(ans),
            "abstained_unanswerable": round(sum(r["abstained"] for r in unans) / len(unans), 4)
            if unans
            else None,
            "unanswerable": len(unans),
            "abstained_answerable": sum(r["abstained"] for r in ans),
            "unsupported_claims": sum(r["unsupported"] for r in mine),
            "answers_with_unsupported": sum(r["unsupported"] > 0 for r in mine),
            "latency_p50_ms": percentile(latencies, 50),
            "latency_p95_ms": percentile(latencies, 95),
            "first_token_p50_ms": percentile(firsts, 50),
            "first_token_p95_ms": percentile(firsts, 95),
        }
    return out


def tune(split: str) -> dict[str, Any]:
    """Grid over the reader's weights on the squad2 train split: correct answers with the
    abstain rule off, then the abstain thresholds for the best weights."""
    questions = load_questions("squad2", split)
    cases = []
    with open_index("squad2") as pipe:
        for row in questions:
            found = pipe.search(row["question"], k=pipe.config.reader_passages)
            units = answer_units(list(found.hits))
            vectors = pipe.embedder.embed_documents([unit_text(u) for u in units]) if units else []
            cases.append((row, units, vectors, pipe.embedder.embed_queries([row["question"]])[0]))

    def evaluate(settings: ReaderSettings) -> tuple[float, float, float]:
        """Share correct, share of unanswerable abstained on, mean words of the answers."""
        right = abstained = n_ans = n_un = said = 0
        for row, units, vectors, query in cases:
            reading = score_units(row["question"], units, vectors, query, settings)
            text = " ".join(s.unit.text for s in reading.units)
            if row["answerable"]:
                n_ans += 1
                right += (not reading.abstain) and is_correct(text, row["answers"])
                said += len(text.split())
            else:
                n_un += 1
                abstained += reading.abstain
        return right / max(n_ans, 1), abstained / max(n_un, 1), said / max(n_ans, 1)

    never = {"abstain_cosine": -1.0, "abstain_overlap": -1.0}
    grid = []
    for overlap, typed, rank, units in itertools.product(
        (0.0, 0.2, 0.35, 0.5, 0.8), (0.0, 0.06, 0.12, 0.2), (0.0, 0.05, 0.15), (1, 2)
    ):
        settings = ReaderSettings(
            overlap=overlap, answer_type=typed, rank=rank, max_units=units, **never
        )
        grid.append(
            {
                "overlap": overlap,
                "answer_type": typed,
                "rank": rank,
                "max_units": units,
                "correct": round(evaluate(settings)[0], 4),
            }
        )
    # How many units an answer quotes: the best one and those scoring within a margin of it.
    composition = []
    for margin, units in itertools.product((0.03, 0.05, 0.08, 0.1, 0.15, 0.2), (1, 2, 3)):
        right, _, said = evaluate(ReaderSettings(second_margin=margin, max_units=units, **never))
        composition.append(
            {
                "second_margin": margin,
                "max_units": units,
                "correct": round(right, 4),
                "mean_words": round(said, 1),
            }
        )
    composition.sort(key=lambda g: (-g["correct"], g["mean_words"]))
    thresholds = []
    for cosine, share in itertools.product((0.2, 0.25, 0.3, 0.35, 0.4), (0.3, 0.4, 0.5, 0.6)):
        settings = ReaderSettings(abstain_cosine=cosine, abstain_overlap=share)
        right, abstained, _ = evaluate(settings)
        thresholds.append(
            {
                "abstain_cosine": cosine,
                "abstain_overlap": share,
                "correct": round(right, 4),
                "abstained_unanswerable": round(abstained, 4),
            }
        )
    grid.sort(key=lambda g: -g["correct"])
    return {
        "split": split,
        "questions": len(cases),
        "weights": grid,
        "composition": composition,
        "abstain": thresholds,
    }


def main() -> None:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sets", default="kb,squad2")
    parser.add_argument("--modes", default=",".join(ALL_MODES))
    parser.add_argument("--split", default="test")
    parser.add_argument(
        "--llm-limit",
        type=int,
        default=150,
        help="questions per set for the modes that run the LLM",
    )
    parser.add_argument("--tune", action="store_true")
    parser.add_argument("--out", default=str(RESULTS / "answers.json"))
    args = parser.parse_args()
    RESULTS.mkdir(parents=True, exist_ok=True)
    if args.tune:
        result = tune("train")
        (RESULTS / "answers-tune.json").write_text(json.dumps(result, indent=2) + "\n")
        print(json.dumps(result["weights"][:8], indent=1))
        print(json.dumps(result["abstain"], indent=1))
        return
    modes = args.modes.split(",")
    out = Path(args.out)
    # Sets run separately add up in one file: a set's figures replace its earlier ones.
    summary: dict[str, Any] = json.loads(out.read_text()) if out.exists() else {"sets": {}}
    for name in args.sets.split(","):
        questions = load_questions(name, args.split)
        llm_questions = questions[: args.llm_limit]
        rows: list[dict[str, Any]] = []
        with open_index(name) as pipe:
            for mode in modes:
                t = time.perf_counter()
                if mode in OUR_MODES:
                    subset = llm_questions if mode == "generative" else questions
                    rows += list(run_ours(pipe, subset, mode))
                elif mode == "ceiling":
                    rows += list(run_ceiling(pipe, llm_questions))
                print(f"{name} {mode}: {time.perf_counter() - t:.0f} s", file=sys.stderr)
            peers = [m for m in modes if m in ("llamaindex", "langchain")]
            if peers:
                rows += list(run_peers(pipe, llm_questions, peers))
        summary["sets"][name] = {
            "split": args.split if name != "kb" else "all",
            "questions": len(questions),
            "llm_questions": len(llm_questions),
            "modes": summarise(rows, questions),
        }
        print(json.dumps(summary["sets"][name], indent=1))
        out.write_text(json.dumps(summary, indent=2) + "\n")
        rows_path = out.with_name(f"{out.stem}-rows-{name}.jsonl")
        rows_path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows))


if __name__ == "__main__":
    main()
