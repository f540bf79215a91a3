"""Peer half of the answer-quality benchmark: LlamaIndex and LangChain answer each question over
the passages given with it, each with its own DEFAULT question-answering prompt and response
synthesis, through an OpenAI-compatible chat server (llama-cpp-python's, serving the bundled
SmolLM2-135M GGUF). Runs in .venv-peers; never imports ragfusion and retrieves nothing.

* ``llamaindex``: ``get_response_synthesizer(llm=llm)`` with every other argument at its default
  (``ResponseMode.COMPACT`` -> ``CompactAndRefine``; ``text_qa_template`` =
  ``DEFAULT_TEXT_QA_PROMPT_SEL``, which for a chat model picks ``CHAT_TEXT_QA_PROMPT``: system
  "You are an expert Q&A system that is trusted around the world. ..." and user "Context
  information is below. ... Query: {query_str} Answer: "; refine = ``DEFAULT_REFINE_PROMPT_SEL``,
  used only when the passages overflow one prompt). Passages become ``NodeWithScore(TextNode(
  text, metadata={"source": ...}))``; LlamaIndex's default LLM metadata mode puts
  ``source: ...`` above each text. LLM: ``llama_index.llms.openai_like.OpenAILike(
  is_chat_model=True, temperature=0, max_tokens=256, context_window=--context-window)``; the
  window is the server's n_ctx, so the prompt helper packs and refines within what the server
  takes (its token counts use LlamaIndex's bundled tiktoken cl100k file, no download).
* ``langchain``: ``langchain_classic.chains.question_answering.load_qa_chain(llm,
  chain_type="stuff")`` with its default ``stuff_prompt.PROMPT_SELECTOR``, which for a chat model
  picks ``CHAT_PROMPT``: system "Use the following pieces of context to answer the user's
  question.\\nIf you don't know the answer, just say that you don't know, don't try to make up an
  answer.\\n----------------\\n{context}" and human "{question}"; documents joined as
  ``{page_content}`` with "\\n\\n" (source kept in metadata, not shown). LangChain 1.x has no
  QA chain of its own; langchain-classic keeps this one (deprecated, still the default prompt).
  LLM: ``langchain_openai.ChatOpenAI(temperature=0, max_tokens=256,
  extra_body={"max_tokens": 256})``: ChatOpenAI renames max_tokens to ``max_completion_tokens``,
  which llama-cpp-python's server ignores, so the cap is also sent under its old name. The
  "stuff" chain knows no context window: passages over n_ctx come back as that row's error.

Both: max_retries=0 (a failure is recorded, not hidden in a retry's latency), one shared
``httpx.Client``. Each system answers one untimed warm-up question, then all questions in turn;
latency_ms is wall clock around the whole synthesize/invoke call, prompt building and the LLM
request included. A request the server refuses (say, a prompt over its n_ctx) is recorded as
the row's error; a server that goes away ends the run.

Versions used when written (printed at every run): llama-index-core 0.14.25,
llama-index-llms-openai-like 0.8.1, llama-index-llms-openai 0.8.3, langchain 1.5.2,
langchain-classic 1.0.8, langchain-core 1.8.3, langchain-openai 1.8.1, openai 2.54.0.

    bash benchmarks/peers-setup.sh
    .venv/bin/python -m llama_cpp.server --model "$GGUF" --model_alias smollm2 --host 127.0.0.1 \\
        --port PORT --n_ctx 2048 --n_threads 1 --n_threads_batch 1 &  # the GGUF's chat template
    .venv-peers/bin/python benchmarks/peers_answers.py --input Q.jsonl \\
        --llm-url http://127.0.0.1:PORT/v1 --output A.jsonl [--systems llamaindex,langchain] \\
        [--requests SENT.jsonl]   # also log each chat request body the peer sent
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.metadata
import json
import sys
import time
import urllib.error
import urllib.request
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

SYSTEMS = ("llamaindex", "langchain")
PACKAGES = ("llama-index", "langchain", "openai", "httpx")  # versions printed at run time
# The same generation settings for both peers (and nothing about the prompt).
SETTINGS = {"temperature": 0.0, "max_tokens": 256, "max_retries": 0, "timeout": 600.0}
Answerer = Callable[[str, list[dict[str, str]]], str]
WARM_UP = {"question": "What is this?", "passages": [{"text": "A warm-up.", "source": "warm-up"}]}


def served_model(llm_url: str) -> str:
    """The first model id at ``{llm_url}/models``; exits with a clear message if unreachable."""
    try:
        with urllib.request.urlopen(f"{llm_url}/models", timeout=10) as reply:
            models = json.load(reply)["data"]
    except (urllib.error.URLError, OSError, ValueError, KeyError) as error:
        raise SystemExit(f"LLM server not reachable at {llm_url}/models: {error}") from error
    if not models:
        raise SystemExit(f"LLM server at {llm_url} lists no model")
    return str(models[0]["id"])


def llamaindex(url: str, window: int, settings: dict[str, Any]) -> Answerer:
    from llama_index.core import get_response_synthesizer
    from llama_index.core.schema import NodeWithScore, TextNode
    from llama_index.llms.openai_like import OpenAILike  # type: ignore[import-untyped]

    llm = OpenAILike(api_base=url, is_chat_model=True, context_window=window, **settings)
    synthesizer = get_response_synthesizer(llm=llm)

    def answer(question: str, passages: list[dict[str, str]]) -> str:
        nodes = [
            NodeWithScore(node=TextNode(text=p["text"], metadata={"source": p["source"]}))
            for p in passages
        ]
        response = synthesizer.synthesize(question, nodes=nodes)  # a Response: not streaming
        return str(getattr(response, "response", None) or "")

    return answer


def langchain(url: str, window: int, settings: dict[str, Any]) -> Answerer:
    from langchain_classic.chains.question_answering import load_qa_chain
    from langchain_core.documents import Document
    from langchain_openai import ChatOpenAI

    # ChatOpenAI sends max_tokens as max_completion_tokens, which llama-cpp-python's server
    # ignores (it would generate up to n_ctx): send the cap under its old name too.
    llm = ChatOpenAI(base_url=url, extra_body={"max_tokens": settings["max_tokens"]}, **settings)
    with warnings.catch_warnings():  # load_qa_chain is deprecated in favour of hand-made prompts
        warnings.simplefilter("ignore")
        chain = load_qa_chain(llm, chain_type="stuff")

    def answer(question: str, passages: list[dict[str, str]]) -> str:
        docs = [
            Document(page_content=p["text"], metadata={"source": p["source"]}) for p in passages
        ]
        return str(chain.invoke({"input_documents": docs, "question": question})["output_text"])

    return answer


def is_connection_error(error: BaseException) -> bool:
    """True when the server went away (abort the run) rather than refused one request."""
    import openai

    chain: BaseException | None = error
    while chain is not None:
        if isinstance(chain, openai.APIConnectionError | httpx.TransportError):
            return True
        chain = chain.__cause__ or chain.__context__
    return False


def timed(answer: Answerer, item: dict[str, Any], url: str) -> tuple[str | None, str | None, float]:
    """(answer, error, wall-clock ms) for one question; exits if the server went away."""
    started = time.perf_counter()
    reply: str | None = None
    error: str | None = None
    try:
        reply = answer(item["question"], item["passages"])
    except Exception as failure:
        if is_connection_error(failure):
            raise SystemExit(f"LLM server at {url} went away: {failure}") from failure
        error = f"{type(failure).__name__}: {failure}"
    return reply, error, round((time.perf_counter() - started) * 1000, 1)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--input", type=Path, required=True)
    parser.add_argument("--llm-url", required=True, help="API root, e.g. http://127.0.0.1:PORT/v1")
    parser.add_argument("--output", type=Path, required=True)
    parser.add_argument("--systems", default=",".join(SYSTEMS))
    parser.add_argument("--model", help="model name to send (default: the server's first)")
    parser.add_argument("--context-window", type=int, default=2048, help="the server's n_ctx")
    parser.add_argument("--requests", type=Path, help="also write each request body sent here")
    args = parser.parse_args(argv)

    systems = [name.strip() for name in args.systems.split(",") if name.strip()]
    if unknown := [name for name in systems if name not in SYSTEMS]:
        parser.error(f"unknown systems {unknown}; choose from {', '.join(SYSTEMS)}")
    questions = [json.loads(line) for line in args.input.open() if line.strip()]
    url = args.llm_url.rstrip("/")
    model = args.model or served_model(url)
    names = {
        dist.metadata["Name"].lower(): dist.version for dist in importlib.metadata.distributions()
    }
    print(" ".join(f"{n}=={v}" for n, v in sorted(names.items()) if n.startswith(PACKAGES)))
    print(f"{len(questions)} questions, systems {systems}, model {model!r} at {url}", flush=True)

    sent: list[Any] = []

    def record(request: httpx.Request) -> None:
        if request.url.path.endswith("/chat/completions"):
            sent.append(json.loads(request.content))

    builders = {"llamaindex": llamaindex, "langchain": langchain}
    with contextlib.ExitStack() as stack:
        client = stack.enter_context(httpx.Client(event_hooks={"request": [record]}))
        out = stack.enter_context(args.output.open("w"))
        requests_log = stack.enter_context(args.requests.open("w")) if args.requests else None
        for system in systems:
            settings = {**SETTINGS, "model": model, "api_key": "unused", "http_client": client}
            answer = builders[system](url, args.context_window, settings)
            # Untimed: loads the peer's lazy pieces (tokenizer, clients) and puts its system
            # prompt in the server's prefix cache, so question 1 is timed like the rest.
            timed(answer, WARM_UP, url)
            for number, item in enumerate(questions, 1):
                sent.clear()
                reply, error, latency_ms = timed(answer, item, url)
                row = {
                    "id": item["id"],
                    "system": system,
                    "answer": reply,
                    "latency_ms": latency_ms,
                    "error": error,
                }
                out.write(json.dumps(row) + "\n")
                out.flush()
                if requests_log is not None:
                    for body in sent:
                        entry = {"id": item["id"], "system": system, "request": body}
                        requests_log.write(json.dumps(entry) + "\n")
                    requests_log.flush()
                status = "error" if error else f"{len(reply or '')} chars"
                print(
                    f"  {system} {number}/{len(questions)} {item['id']}: {latency_ms:.0f} ms,"
                    f" {status}",
                    flush=True,
                )
    return 0


if __name__ == "__main__":
    sys.exit(main())
