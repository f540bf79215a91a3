"""The commands that read an index: ``search``, ``ask`` and the terminal ``chat``."""

from __future__ import annotations

import json
import sys
from typing import Annotated, Any

import typer

from ragfusion.cli.common import (
    DEFAULT_INDEX,
    EmbedBaseUrlOpt,
    EmbedderOpt,
    IndexOpt,
    JsonOpt,
    KOpt,
    LlmBaseUrlOpt,
    LlmModelOpt,
    LlmOpt,
    ModeOpt,
    PassagesOpt,
    QueryOpt,
    RewritesOpt,
    SourceOpt,
    StoreOpt,
    TypeOpt,
    display_path,
    fail,
    load_config,
    metadata_filter,
    model_overrides,
    open_pipeline,
    run,
)


def search(
    question: Annotated[str, typer.Argument(help="What to search for.")],
    index: IndexOpt = DEFAULT_INDEX,
    k: KOpt = 10,
    rewrites: RewritesOpt = None,
    query: QueryOpt = None,
    source: SourceOpt = None,
    file_type: TypeOpt = None,
    llm_model: LlmModelOpt = None,
    llm: LlmOpt = None,
    llm_base_url: LlmBaseUrlOpt = None,
    embedder: EmbedderOpt = None,
    embed_base_url: EmbedBaseUrlOpt = None,
    as_json: JsonOpt = False,
    store: StoreOpt = None,
) -> None:
    """Fused BM25 + dense search over every query variant, with provenance."""
    from ragfusion.serialize import search_json

    overrides = model_overrides(llm_model, llm, llm_base_url, embedder, embed_base_url)
    pipe = open_pipeline(index, load_config(index, **overrides), store=store)
    with pipe:
        result = run(
            lambda: pipe.search(
                question,
                rewrites=rewrites,
                queries=query or (),
                k=k,
                where=metadata_filter(source, file_type),
            )
        )
    if as_json:
        typer.echo(json.dumps(search_json(result), indent=2, ensure_ascii=False))
        return
    from rich.console import Console

    out = Console(highlight=False)
    out.print("[bold]queries:[/] " + " | ".join(v.text for v in result.queries))
    for rank, hit in enumerate(result.hits, start=1):
        c = hit.chunk
        found = ", ".join(
            f"{p.retriever}#{p.rank}" + ("" if p.query == result.question else f" ({p.query[:30]})")
            for p in hit.provenance
        )
        out.print(
            f"\n[bold]{rank}.[/] {display_path(c.source)} [dim]{c.heading}[/] "
            f"[{c.start}:{c.end}] score {hit.score:.4f}  [dim]found by {found}[/]"
        )
        out.print("   " + " ".join(c.text.split())[:300])
    for warning in result.warnings:
        Console(stderr=True).print(f"[yellow]warning:[/] {warning}")


def ask(
    question: Annotated[str, typer.Argument(help="Your question.")],
    index: IndexOpt = DEFAULT_INDEX,
    k: PassagesOpt = None,
    rewrites: RewritesOpt = None,
    query: QueryOpt = None,
    source: SourceOpt = None,
    file_type: TypeOpt = None,
    extractive: Annotated[
        bool,
        typer.Option(
            help="Answer with the most relevant sentences "
            "of the passages (no LLM, cannot make things "
            "up); the same as --mode extractive."
        ),
    ] = False,
    mode: ModeOpt = None,
    stream: Annotated[
        bool,
        typer.Option(
            help="Stream the answer as it is written (with --json: one JSON event per line)."
        ),
    ] = True,
    llm_model: LlmModelOpt = None,
    llm: LlmOpt = None,
    llm_base_url: LlmBaseUrlOpt = None,
    embedder: EmbedderOpt = None,
    embed_base_url: EmbedBaseUrlOpt = None,
    as_json: JsonOpt = False,
    store: StoreOpt = None,
) -> None:
    """Answer a question from the indexed documents, citing the exact sources."""
    from ragfusion.errors import RagfusionError
    from ragfusion.serialize import answer_json, hit_json

    overrides = model_overrides(llm_model, llm, llm_base_url, embedder, embed_base_url)
    pipe = open_pipeline(index, load_config(index, **overrides), store=store)
    options: dict[str, Any] = {
        "rewrites": rewrites,
        "queries": query or (),
        "k": k,
        "where": metadata_filter(source, file_type),
        "extractive": extractive,
        "mode": mode,
    }
    with pipe:
        if as_json and not stream:
            whole = run(lambda: pipe.ask(question, **options))
            typer.echo(json.dumps(answer_json(whole), indent=2, ensure_ascii=False))
            return
        events = pipe.ask_stream(question, **options)
        answer = None
        try:
            for event in events:
                if as_json:
                    data: Any = event.data
                    if event.kind == "hits":
                        data = [hit_json(h, i) for i, h in enumerate(event.data, start=1)]
                    elif event.kind == "done":
                        data = answer_json(event.data)
                    typer.echo(json.dumps({"event": event.kind, "data": data}, ensure_ascii=False))
                    continue
                if event.kind == "token":
                    sys.stdout.write(event.data)
                    sys.stdout.flush()
                elif event.kind == "replace":
                    sys.stdout.write(
                        "\n\n[checked against the sources, the answer is:]\n" + event.data
                    )
                elif event.kind == "done":
                    answer = event.data
        except RagfusionError as exc:
            raise fail(str(exc)) from exc
    if answer is not None:
        _print_sources(answer)


def chat(
    index: IndexOpt = DEFAULT_INDEX,
    conversation: Annotated[
        str | None, typer.Option("--conversation", help="Resume this conversation id.")
    ] = None,
    k: PassagesOpt = None,
    extractive: Annotated[
        bool, typer.Option(help="Answer with quoted sentences only (no LLM).")
    ] = False,
    mode: ModeOpt = None,
    llm_model: LlmModelOpt = None,
    llm: LlmOpt = None,
    llm_base_url: LlmBaseUrlOpt = None,
    embedder: EmbedderOpt = None,
    embed_base_url: EmbedBaseUrlOpt = None,
) -> None:
    """Multi-turn support chat in the terminal: follow-ups use the conversation so far.
    Type /new for a new conversation, /quit (or Ctrl-D) to leave."""
    from ragfusion.apps.chat import chat_stream
    from ragfusion.apps.conversations import CONVERSATIONS_FILE, ConversationStore
    from ragfusion.errors import RagfusionError

    overrides = model_overrides(llm_model, llm, llm_base_url, embedder, embed_base_url)
    pipe = open_pipeline(index, load_config(index, **overrides))
    with pipe:
        store = ConversationStore(pipe.index_dir / CONVERSATIONS_FILE)
        if conversation:
            run(lambda: store.require(conversation))
        current = conversation
        typer.echo("Ask a question (/new starts over, /quit leaves).", err=True)
        while True:
            try:
                message = input("\nyou> ").strip()
            except (EOFError, KeyboardInterrupt):
                typer.echo("", err=True)
                break
            if message in ("/quit", "/exit"):
                break
            if message == "/new":
                current = None
                typer.echo("(new conversation)", err=True)
                continue
            if not message:
                continue
            sys.stdout.write("bot> ")
            answer = None
            try:
                for event in chat_stream(
                    pipe,
                    store,
                    message,
                    conversation_id=current,
                    k=k,
                    extractive=extractive,
                    mode=mode,
                ):
                    if event.kind == "conversation":
                        current = event.data["id"]
                        if event.data["how"] != "as-is":
                            typer.echo(f"(searching: {event.data['standalone']})", err=True)
                    elif event.kind == "token":
                        sys.stdout.write(event.data)
                        sys.stdout.flush()
                    elif event.kind == "replace":
                        sys.stdout.write("\n[checked against the sources:]\n" + event.data)
                    elif event.kind == "done":
                        answer = event.data
            except RagfusionError as exc:
                typer.echo(f"\nerror: {exc}", err=True)
                continue
            if answer is not None:
                _print_sources(answer)
        if current:
            typer.echo(f"conversation id: {current}", err=True)
        store.close()


def _print_sources(answer: Any) -> None:
    """The numbered sources on stdout; notes and timings on stderr."""
    from rich.console import Console

    out = Console(highlight=False)
    out.print()
    if answer.citations:
        out.print("\n[bold]Sources[/]")
        for c in answer.citations:
            where = f" > {c.heading}" if c.heading else ""
            out.print(
                f"  [{c.n}] {display_path(c.source)}{where} [dim](chars {c.start}-{c.end})[/]"
            )
    err = Console(stderr=True, highlight=False)
    for warning in answer.warnings:
        err.print(f"[yellow]note:[/] {warning}")
    t = answer.timings_ms
    first = f"first token {t['first_token_ms']:.0f} ms, " if "first_token_ms" in t else ""
    err.print(f"[dim]{answer.mode} answer; {first}total {t.get('total_ms', 0):.0f} ms[/]")
