"""Generation overhead of ``ask``: time to first token (TTFT) and decode tokens/s of
ragfusion's ``Pipeline.ask_stream`` against llama-cpp-python called directly with the same
prompt, model and options. The goal is an overhead of a few percent at most.

Setup: examples/kb is ingested into a temporary index; the questions are the first N of
examples/questions.jsonl. ragfusion runs as shipped (default settings: bundled SmolLM2-135M
GGUF, 3 passages, greedy decoding, at most 256 answer tokens). The direct side is a second
``llama_cpp.Llama`` loaded with the arguments ragfusion's ``LlamaCppLLM`` passes (model path,
n_ctx, n_threads, seed; every scalar context and model parameter is then compared with
ragfusion's loaded model) and called as ``create_chat_completion(messages, stream=True, ...)``.

Same prompt and options, checked rather than assumed: during the warm-up (one ask per
question, untimed, model loads included there) ``Llama.create_chat_completion`` records the
messages and options ragfusion passes. The direct side's messages are rebuilt with ragfusion's
own ``build_messages`` from the hits the ask streamed and must match the recorded ones byte for
byte; its options are the recorded ones. In every timed pair the prompt token ids that reach
llama.cpp and the sampled token ids of both sides are compared as well.

Per round and question the two sides run back to back, in alternating order, each after
``Llama.reset()`` (no KV-cache prefix reuse: both evaluate the whole prompt) and a gc:
- TTFT: from the call to the first non-empty text the caller receives (ragfusion: the first
  ``token`` event; direct: the first chunk with content). For ragfusion also without
  retrieval (from its ``hits`` event), split into: retrieval; prompt building, chat template
  and tokenising; prefill (llama.cpp evaluating the prompt and sampling the first token);
  and release (first sampled token to the first text the caller sees);
- decode tokens/s: (sampled tokens - 1) / (last - first sampling time). The caller pulls the
  tokens, so per-token work in ragfusion's streaming layers counts. Sampling times come from
  the same thin wrapper around ``Llama.generate`` on both sides (about a microsecond a token);
- total time (ragfusion: to the ``done`` event, retrieval and answer checks included) and
  completion tokens.
Reported: p50 per side, p50 of the paired ratios ragfusion/direct and of the paired
differences. Writes results/generation.json and prints a Markdown table.

    HF_HUB_OFFLINE=1 .venv/bin/python benchmarks/generation.py --rounds 5 --questions 12 \
        --out benchmarks/results/generation.json
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import gc
import importlib.metadata
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from llama_cpp import Llama, llama_context_params, llama_model_params

from ragfusion import Pipeline
from ragfusion.answering.prompting import build_messages
from ragfusion.llm import Message
from ragfusion.llm.llama_cpp import LlamaCppLLM
from ragfusion.types import Answer, Hit

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT / "examples" / "kb"
QUESTIONS = ROOT / "examples" / "questions.jsonl"
OUT = ROOT / "benchmarks" / "results" / "generation.json"
OURS, DIRECT = "ragfusion", "direct"
VERSIONS = ("ragfusion", "llama_cpp_python", "onnxruntime", "numpy")


# probes --------------------------------------------------------------------------------------
@dataclass
class Probe:
    """Records one ``Llama``'s token generator: prompt ids, sampled ids and their times.
    The same wrapper is put on both sides, so its small cost cancels out."""

    prompt: list[int] = field(default_factory=list)
    tokens: list[int] = field(default_factory=list)
    stamps: list[float] = field(default_factory=list)
    started: float | None = None  # llama.cpp starts evaluating the (tokenised) prompt

    def attach(self, llama: Llama) -> None:
        inner = llama.generate

        def generate(tokens: Sequence[int], **options: Any) -> Iterator[int]:
            self.prompt = list(tokens)
            self.started = time.perf_counter()
            for token in inner(tokens, **options):
                self.stamps.append(time.perf_counter())
                self.tokens.append(token)
                yield token

        llama.generate = generate  # type: ignore[method-assign,assignment]

    def clear(self) -> None:
        self.prompt, self.tokens, self.stamps, self.started = [], [], [], None


@dataclass(frozen=True)
class ChatCall:
    llama: Llama
    messages: list[Message]
    options: dict[str, Any]


@contextlib.contextmanager
def recorded_chat_calls() -> Iterator[list[ChatCall]]:
    """Every streamed ``Llama.create_chat_completion`` call while the block runs."""
    original = Llama.create_chat_completion
    calls: list[ChatCall] = []

    def recording(self: Llama, *args: Any, **kwargs: Any) -> Any:
        if kwargs.get("stream"):
            if args:
                raise SystemExit("ragfusion now passes positional arguments to the LLM; update")
            options = {k: v for k, v in kwargs.items() if k not in ("messages", "stream")}
            calls.append(ChatCall(self, list(kwargs["messages"]), options))
        return original(self, *args, **kwargs)

    Llama.create_chat_completion = recording  # type: ignore[method-assign]
    try:
        yield calls
    finally:
        Llama.create_chat_completion = original  # type: ignore[method-assign]


def load_parameters(llama: Llama) -> dict[str, Any]:
    """Every scalar field of the llama.cpp context and model parameters, plus the template."""
    found: dict[str, Any] = {"model_path": llama.model_path, "chat_format": llama.chat_format}
    for prefix, params, struct in (
        ("context.", llama.context_params, llama_context_params),
        ("model.", llama.model_params, llama_model_params),
    ):
        for name, *_ in struct._fields_:
            value = getattr(params, name)
            if isinstance(value, bool | int | float):
                found[prefix + name] = value
    return found


# runs ----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Prompt:
    """One question's verified prompt: what ragfusion sent, rebuilt with its own function."""

    question: str
    messages: list[Message]
    options: dict[str, Any]
    passages: int
    answer: str  # ragfusion's final answer text in the warm-up


@dataclass(frozen=True)
class Run:
    side: str
    round: int
    question: int
    ttft_ms: float
    retrieval_ms: float  # call -> ``hits`` event (0 for the direct side)
    pre_llm_ms: float  # -> llama.cpp starts evaluating: prompt, chat template, tokens
    prefill_ms: float  # -> first token sampled
    release_ms: float  # -> the caller has the first text
    decode_tps: float | None
    total_ms: float
    prompt_tokens: int
    completion_tokens: int
    mode: str
    text: str = field(repr=False)
    prompt_ids: tuple[int, ...] = field(repr=False)
    token_ids: tuple[int, ...] = field(repr=False)

    @property
    def ttft_llm_ms(self) -> float:
        return round(self.ttft_ms - self.retrieval_ms, 2)

    def row(self) -> dict[str, Any]:
        out = dataclasses.asdict(self)
        for name in ("text", "prompt_ids", "token_ids"):
            del out[name]
        out["ttft_llm_ms"] = self.ttft_llm_ms
        return out


def _ms(start: float, end: float) -> float:
    return round((end - start) * 1000, 2)


def make_run(
    side: str,
    place: tuple[int, int],
    times: tuple[float, float, float | None, float],  # started, ready, first text, ended
    probe: Probe,
    eos: int,
    text: str,
    mode: str,
) -> Run:
    started, ready, first, ended = times
    if probe.started is None or not probe.stamps:
        raise SystemExit(f"{side}: the model sampled no token for question {place[1]}")
    seen = first if first is not None else ended  # no text at all: the caller waited to the end
    stamps = probe.stamps
    span = stamps[-1] - stamps[0]
    return Run(
        side=side,
        round=place[0],
        question=place[1],
        ttft_ms=_ms(started, seen),
        retrieval_ms=_ms(started, ready),
        pre_llm_ms=_ms(ready, probe.started),
        prefill_ms=_ms(probe.started, stamps[0]),
        release_ms=_ms(stamps[0], seen),
        decode_tps=round((len(stamps) - 1) / span, 2) if len(stamps) > 1 and span > 0 else None,
        total_ms=_ms(started, ended),
        prompt_tokens=len(probe.prompt),
        completion_tokens=len(probe.tokens) - (probe.tokens[-1] == eos),
        mode=mode,
        text=text,
        prompt_ids=tuple(probe.prompt),
        token_ids=tuple(probe.tokens),
    )


def ask(pipe: Pipeline, question: str) -> tuple[list[Hit], str, Answer, list[float | None]]:
    """One streamed ask: hits, streamed text, answer and [started, hits, first text, ended]."""
    hits: list[Hit] = []
    pieces: list[str] = []
    answer: Answer | None = None
    ready: float | None = None
    first: float | None = None
    started = time.perf_counter()
    for event in pipe.ask_stream(question):
        now = time.perf_counter()
        if event.kind == "token":
            if first is None:
                first = now
            pieces.append(event.data)
        elif event.kind == "hits":
            ready = now
            hits = list(event.data)
        elif event.kind == "done":
            answer = event.data
    ended = time.perf_counter()
    assert answer is not None
    return hits, "".join(pieces), answer, [started, ready, first, ended]


def run_ours(
    pipe: Pipeline, llama: Llama, probe: Probe, prompt: Prompt, place: tuple[int, int]
) -> tuple[Run, bool]:
    """A timed ask; also whether its rebuilt messages equal the verified prompt."""
    llama.reset()  # type: ignore[no-untyped-call]
    probe.clear()
    gc.collect()
    hits, text, answer, (started, ready, first, ended) = ask(pipe, prompt.question)
    assert started is not None and ended is not None
    guard = pipe.config.guard_passages
    same = _exact(build_messages(answer.question, hits, guard=guard)) == _exact(prompt.messages)
    times = (started, ready if ready is not None else started, first, ended)
    return make_run(OURS, place, times, probe, llama.token_eos(), text, answer.mode), same


def run_direct(llama: Llama, probe: Probe, prompt: Prompt, place: tuple[int, int]) -> Run:
    llama.reset()  # type: ignore[no-untyped-call]
    probe.clear()
    gc.collect()
    pieces: list[str] = []
    first: float | None = None
    started = time.perf_counter()
    chunks: Any = llama.create_chat_completion(
        messages=list(prompt.messages),  # type: ignore[arg-type]
        stream=True,
        **prompt.options,
    )
    for chunk in chunks:
        piece = chunk["choices"][0]["delta"].get("content")
        if piece:
            if first is None:
                first = time.perf_counter()
            pieces.append(piece)
    ended = time.perf_counter()
    times = (started, started, first, ended)
    return make_run(DIRECT, place, times, probe, llama.token_eos(), "".join(pieces), "direct")


def _exact(messages: Sequence[Message]) -> str:
    return json.dumps(list(messages), ensure_ascii=False)


# setup ---------------------------------------------------------------------------------------
def verified_prompts(
    pipe: Pipeline, questions: Sequence[str]
) -> tuple[Llama, list[Prompt], list[str]]:
    """Warm-up asks that record what ragfusion sends to llama.cpp, and the check that
    ``build_messages`` on the streamed hits rebuilds it byte for byte."""
    prompts: list[Prompt] = []
    notes: list[str] = []
    llama: Llama | None = None
    with recorded_chat_calls() as calls:
        for question in questions:
            calls.clear()
            hits, _, answer, _ = ask(pipe, question)
            if not calls:
                notes.append(f"skipped (answered without the LLM, {answer.mode}): {question}")
                continue
            if len(calls) != 1:
                raise SystemExit(f"{len(calls)} streamed LLM calls for one ask: {question}")
            call = calls[0]
            if llama is not None and call.llama is not llama:
                raise SystemExit("ragfusion used two different Llama objects")
            llama = call.llama
            rebuilt = build_messages(answer.question, hits, guard=pipe.config.guard_passages)
            if _exact(rebuilt) != _exact(call.messages):
                raise SystemExit(
                    "build_messages on the streamed hits does not rebuild the prompt ragfusion "
                    f"sent for {question!r}; the comparison would not be like for like"
                )
            if prompts and call.options != prompts[0].options:
                raise SystemExit(f"ragfusion's LLM options differ by question: {call.options}")
            prompts.append(Prompt(question, rebuilt, call.options, len(hits), answer.text))
    if llama is None:
        raise SystemExit("no question reached the LLM")
    return llama, prompts, notes


def direct_llama(llm: LlamaCppLLM, ours: Llama) -> tuple[Llama, dict[str, Any]]:
    """A second model loaded the way ``LlamaCppLLM.warm_up`` loads it; parameters compared."""
    llama = Llama(
        model_path=str(llm.model_path),
        n_ctx=llm.n_ctx,
        n_threads=llm.n_threads,
        seed=llm.seed,
        verbose=False,
    )
    mine, theirs = load_parameters(llama), load_parameters(ours)
    differ = {k: (theirs.get(k), v) for k, v in mine.items() if theirs.get(k) != v}
    if differ:
        raise SystemExit(f"the direct model loaded with other parameters (ours, direct): {differ}")
    return llama, mine


def machine() -> dict[str, Any]:
    versions = {}
    for name in VERSIONS:
        with contextlib.suppress(importlib.metadata.PackageNotFoundError):
            versions[name] = importlib.metadata.version(name)
    return {
        "cpus": os.cpu_count(),
        "load_avg_at_start": [round(x, 2) for x in os.getloadavg()],
        "python": platform.python_version(),
        "platform": platform.platform(),
        "versions": versions,
    }


# report --------------------------------------------------------------------------------------
def _p50(values: Sequence[float | None], digits: int = 2) -> float | None:
    kept = [v for v in values if v is not None]
    return round(statistics.median(kept), digits) if kept else None


METRICS = (
    "ttft_ms",
    "ttft_llm_ms",
    "retrieval_ms",
    "pre_llm_ms",
    "prefill_ms",
    "release_ms",
    "decode_tps",
    "total_ms",
    "prompt_tokens",
    "completion_tokens",
)
# (label, ragfusion metric, direct metric)
ROWS = (
    ("TTFT incl. retrieval, ms", "ttft_ms", "ttft_ms"),
    ("TTFT excl. retrieval, ms", "ttft_llm_ms", "ttft_ms"),
    ("- retrieval (search), ms", "retrieval_ms", None),
    ("- prompt, chat template, tokenise, ms", "pre_llm_ms", "pre_llm_ms"),
    ("- prefill to first sampled token, ms", "prefill_ms", "prefill_ms"),
    ("- first sampled token to caller, ms", "release_ms", "release_ms"),
    ("decode tokens/s", "decode_tps", "decode_tps"),
    ("total, ms", "total_ms", "total_ms"),
    ("completion tokens", "completion_tokens", "completion_tokens"),
)


def _value(run: Run, metric: str) -> float | None:
    value = getattr(run, metric)
    return None if value is None else float(value)


def summarise(pairs: Sequence[dict[str, Run]]) -> dict[str, Any]:
    sides = {side: [pair[side] for pair in pairs] for side in (OURS, DIRECT)}
    p50 = {
        side: {m: _p50([_value(r, m) for r in runs]) for m in METRICS}
        for side, runs in sides.items()
    }
    compared: dict[str, Any] = {}
    for _, ours_metric, direct_metric in ROWS:
        if direct_metric is None:
            continue
        ratios: list[float | None] = []
        differences: list[float | None] = []
        for pair in pairs:
            a, b = _value(pair[OURS], ours_metric), _value(pair[DIRECT], direct_metric)
            ratios.append(a / b if a is not None and b else None)
            differences.append(a - b if a is not None and b is not None else None)
        mine, theirs = p50[OURS][ours_metric], p50[DIRECT][direct_metric]
        compared[ours_metric] = {
            "p50_of_paired_ratios": _p50(ratios, 4),
            "ratio_of_p50s": round(mine / theirs, 4) if mine is not None and theirs else None,
            "p50_of_paired_differences": _p50(differences, 3),
        }
    checks = {
        "pairs": len(pairs),
        "prompt_tokens_identical": sum(p[OURS].prompt_ids == p[DIRECT].prompt_ids for p in pairs),
        "output_tokens_identical": sum(p[OURS].token_ids == p[DIRECT].token_ids for p in pairs),
        "streamed_text_identical": sum(p[OURS].text == p[DIRECT].text for p in pairs),
    }
    return {"p50": p50, "ragfusion_vs_direct": compared, "checks": checks}


def markdown(summary: dict[str, Any]) -> str:
    def cell(value: float | None, digits: int = 1) -> str:
        return "-" if value is None else f"{value:.{digits}f}"

    p50, compared = summary["p50"], summary["ragfusion_vs_direct"]
    lines = [
        "| metric (p50) | ragfusion ask | direct llama-cpp | ragfusion/direct | difference |",
        "|---|---:|---:|---:|---:|",
    ]
    for label, ours_metric, direct_metric in ROWS:
        row = compared.get(ours_metric, {}) if direct_metric else {}
        theirs = p50[DIRECT][direct_metric] if direct_metric else None
        lines.append(
            f"| {label} | {cell(p50[OURS][ours_metric])} | {cell(theirs)} | "
            f"{cell(row.get('p50_of_paired_ratios'), 3)} | "
            f"{cell(row.get('p50_of_paired_differences'), 2)} |"
        )
    checks = summary["checks"]
    lines.append("")
    lines.append(
        f"{checks['pairs']} pairs; identical prompt tokens in {checks['prompt_tokens_identical']}, "
        f"identical output tokens in {checks['output_tokens_identical']}, identical streamed "
        f"text in {checks['streamed_text_identical']}. Ratio and difference: p50 over pairs."
    )
    return "\n".join(lines)


# main ----------------------------------------------------------------------------------------
def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5, help="timed rounds (default 5)")
    parser.add_argument("--questions", type=int, default=12, help="first N questions (12)")
    parser.add_argument("--out", type=Path, default=OUT, help="JSON results file")
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    info = machine()
    busy = info["load_avg_at_start"][0]
    if busy > 0.5 * (os.cpu_count() or 1):
        print(
            f"warning: load average {busy} on {os.cpu_count()} cores; llama.cpp runs one thread "
            "per core and slows down sharply when other processes share them",
            file=sys.stderr,
        )
    rows = [json.loads(line) for line in QUESTIONS.open() if line.strip()]
    questions = [str(row["question"]) for row in rows[: args.questions]]

    with (
        tempfile.TemporaryDirectory(prefix="ragfusion-generation-") as tmp,
        Pipeline.open(Path(tmp) / "index") as pipe,
    ):
        ingested = pipe.ingest([CORPUS])
        print(f"ingested {ingested.files} files, {ingested.chunks_added} chunks", file=sys.stderr)
        llm = pipe.llm
        if not isinstance(llm, LlamaCppLLM):
            raise SystemExit(f"ragfusion's LLM is {type(llm).__name__}, not the local llama.cpp")
        ours, prompts, notes = verified_prompts(pipe, questions)
        direct, parameters = direct_llama(llm, ours)
        probes = {OURS: Probe(), DIRECT: Probe()}
        probes[OURS].attach(ours)
        probes[DIRECT].attach(direct)
        warm = [run_direct(direct, probes[DIRECT], p, (-1, i)) for i, p in enumerate(prompts)]

        pairs: list[dict[str, Run]] = []
        rebuilt_identical = 0
        for rnd in range(args.rounds):
            for i, prompt in enumerate(prompts):
                order = (OURS, DIRECT) if (rnd + i) % 2 == 0 else (DIRECT, OURS)
                pair: dict[str, Run] = {}
                for side in order:
                    if side == OURS:
                        pair[OURS], same = run_ours(pipe, ours, probes[OURS], prompt, (rnd, i))
                        rebuilt_identical += same
                    else:
                        pair[DIRECT] = run_direct(direct, probes[DIRECT], prompt, (rnd, i))
                pairs.append(pair)
            print(f"round {rnd + 1}/{args.rounds} done", file=sys.stderr)
        embedder = pipe.embedder.name

    info["load_avg_at_end"] = [round(x, 2) for x in os.getloadavg()]
    summary = summarise(pairs)
    summary["checks"]["messages_rebuilt_identical"] = rebuilt_identical
    result = {
        "benchmark": "generation overhead of ask vs llama-cpp-python called directly",
        "machine": info,
        "settings": {
            "rounds": args.rounds,
            "questions": len(prompts),
            "llm": llm.name,
            "model_bytes": llm.model_path.stat().st_size,
            "embedder": embedder,
            "chat_options": prompts[0].options,
            "load_parameters": parameters,
            "kv_cache": "Llama.reset() before every timed call: the whole prompt is evaluated",
            "notes": notes,
        },
        **summary,
        "questions": [
            {
                "question": p.question,
                "passages": p.passages,
                "prompt_tokens": warm[i].prompt_tokens,
                "ragfusion_answer": p.answer,
                "direct_text": warm[i].text,
            }
            for i, p in enumerate(prompts)
        ],
        "runs": [pair[side].row() for pair in pairs for side in (OURS, DIRECT)],
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n")
    print(markdown(summary))
    print(f"\nwritten to {args.out}")


if __name__ == "__main__":
    main()
