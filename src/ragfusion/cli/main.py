"""The ``ragfusion`` command: parse, call the Pipeline, render. No logic of its own.

Heavy modules (the pipeline, models, index libraries) are imported inside the commands so
``ragfusion --help`` stays instant.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

if TYPE_CHECKING:
    from ragfusion.config import PipelineConfig
    from ragfusion.pipeline import Pipeline
    from ragfusion.stores.base import MetadataFilter

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    help="Retrieval-augmented generation with fusion, offline by default.",
)

IndexOpt = Annotated[
    Path, typer.Option("--index", "-i", envvar="RAGFUSION_INDEX", help="Index directory.")
]
DEFAULT_INDEX = Path("ragfusion-index")
KEEP_ALIVE_SECONDS = 75
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON instead of text.")]
KOpt = Annotated[int, typer.Option("-k", "--top-k", min=1, max=1000, help="Number of hits.")]
RewritesOpt = Annotated[
    int | None,
    typer.Option(
        "--rewrites",
        min=0,
        max=8,
        help="LLM rewrites of the question (0 = none; default: the configured value).",
    ),
]
QueryOpt = Annotated[
    list[str] | None, typer.Option("--query", "-q", help="Your own query variant (repeatable).")
]
SourceOpt = Annotated[
    str | None,
    typer.Option("--source", help="Only documents whose path starts with this (file or folder)."),
]
TypeOpt = Annotated[
    list[str] | None,
    typer.Option("--type", help="Only these file types: txt, md, html, pdf, docx (repeatable)."),
]
LlmModelOpt = Annotated[
    Path | None,
    typer.Option(
        "--llm-model",
        help="A local chat GGUF instead of the bundled SmolLM2 (or set RAGFUSION_GGUF).",
    ),
]
LlmOpt = Annotated[
    str | None,
    typer.Option(
        "--llm",
        help="The chat model: smollm2 (bundled, default), gguf:PATH or openai:MODEL (a model "
        "on an OpenAI-compatible server; key in RAGFUSION_LLM_API_KEY or OPENAI_API_KEY).",
    ),
]
LlmBaseUrlOpt = Annotated[
    str | None,
    typer.Option(
        "--llm-base-url",
        help="API root of the server for --llm openai:MODEL, e.g. http://127.0.0.1:8000/v1 "
        "(default: RAGFUSION_LLM_BASE_URL or OPENAI_BASE_URL).",
    ),
]
EmbedderOpt = Annotated[
    str | None,
    typer.Option(
        "--embedder",
        help="The embedding model: minilm (bundled, default), st:PATH or openai:MODEL (an "
        "OpenAI-compatible server). Fixed when the index is created; an index built with "
        "openai:MODEL keeps using it.",
    ),
]
EmbedBaseUrlOpt = Annotated[
    str | None,
    typer.Option(
        "--embed-base-url",
        help="API root of the server for --embedder openai:MODEL (default: "
        "RAGFUSION_EMBED_BASE_URL or OPENAI_BASE_URL).",
    ),
]
StoreOpt = Annotated[
    str | None,
    typer.Option(
        "--store",
        help="Where chunks are indexed: local (default), milvus-lite, FILE.db (a Milvus Lite "
        "file, relative to the index) or milvus://HOST:PORT, optionally /COLLECTION (token in "
        "RAGFUSION_MILVUS_TOKEN). Chosen when the index is created; the manifest keeps it.",
    ),
]


def _setup_environment() -> None:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


def _fail(message: str, code: int = 1) -> typer.Exit:
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(code)


def _config(index: Path, **overrides: Any) -> PipelineConfig:
    """The configuration for a run: defaults, then the index's tuned fusion, then options."""
    from ragfusion.config import config_for_index

    config: PipelineConfig = _run(
        lambda: config_for_index(index.expanduser().resolve(), **overrides)
    )
    return config


def _models(
    llm_model: Path | None,
    llm: str | None,
    llm_base_url: str | None,
    embedder: str | None,
    embed_base_url: str | None,
) -> dict[str, Any]:
    """Config overrides for the model options (None: keep the configured value)."""
    if llm_model is not None and llm is not None:
        raise _fail("give --llm-model PATH or --llm SPEC, not both")
    return {
        "llm": f"gguf:{llm_model}" if llm_model is not None else llm,
        "llm_base_url": llm_base_url,
        "embedder": embedder,
        "embed_base_url": embed_base_url,
    }


def _open(
    index: Path,
    config: PipelineConfig | None = None,
    *,
    create: bool = False,
    store: str | None = None,
) -> Pipeline:
    _setup_environment()
    from ragfusion.errors import RagfusionError
    from ragfusion.pipeline import Pipeline

    try:
        return Pipeline.open(index, config, create=create, store=store)
    except RagfusionError as exc:
        raise _fail(str(exc)) from exc


def _filter(source: str | None, types: list[str] | None) -> MetadataFilter | None:
    from ragfusion.stores.base import MetadataFilter

    if not source and not types:
        return None
    prefix = None
    if source:
        candidate = Path(source).expanduser()
        prefix = str(candidate.resolve()) if candidate.exists() else source
    return MetadataFilter(
        source_prefix=prefix, file_types=tuple(t.lower().lstrip(".") for t in types or ())
    )


def _run(func: Any) -> Any:
    """Call into the pipeline, turning our errors into a clean message and exit code 1."""
    from ragfusion.errors import RagfusionError

    try:
        return func()
    except RagfusionError as exc:
        raise _fail(str(exc)) from exc


def _display_path(source: str) -> str:
    try:
        return os.path.relpath(source)
    except ValueError:
        return source


@app.command()
def ingest(
    paths: Annotated[list[Path], typer.Argument(help="Files and folders to ingest.")],
    index: IndexOpt = DEFAULT_INDEX,
    rebuild: Annotated[bool, typer.Option(help="Delete the index and build it anew.")] = False,
    max_file_mb: Annotated[float, typer.Option(min=0.001, help="Skip larger files.")] = 100.0,
    chunk_tokens: Annotated[
        int | None, typer.Option(help="Chunk size in tokens (new indexes only).")
    ] = None,
    chunk_overlap: Annotated[
        int | None, typer.Option(help="Overlap in tokens (new indexes only).")
    ] = None,
    as_json: JsonOpt = False,
    store: StoreOpt = None,
    embedder: EmbedderOpt = None,
    embed_base_url: EmbedBaseUrlOpt = None,
) -> None:
    """Load, chunk, embed and index documents (.txt .md .html .pdf .docx)."""
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from ragfusion.ingest.chunking import ChunkingConfig
    from ragfusion.serialize import ingest_json

    chunking = ChunkingConfig(
        max_tokens=chunk_tokens or ChunkingConfig.max_tokens,
        overlap_tokens=chunk_overlap
        if chunk_overlap is not None
        else ChunkingConfig.overlap_tokens,
    )
    if rebuild and index.exists():
        recorded = _rebuild(index)
        store = store or recorded  # a rebuilt index keeps its store unless told otherwise
    pipe = _open(
        index,
        _config(
            index,
            chunking=chunking,
            max_file_bytes=int(max_file_mb * 2**20),
            embedder=embedder,
            embed_base_url=embed_base_url,
        ),
        create=True,
        store=store,
    )
    err = Console(stderr=True)
    with (
        pipe,
        Progress(
            TextColumn("[bold]ingest"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[chunks]} chunks"),
            TimeElapsedColumn(),
            console=err,
            transient=True,
            disable=as_json,
        ) as bar,
    ):
        task = bar.add_task("ingest", total=None, chunks=0)
        report = _run(
            lambda: pipe.ingest(
                paths,
                progress=lambda p: bar.update(
                    task, completed=p.files_done, total=p.files_total, chunks=p.chunks_added
                ),
            )
        )
    if as_json:
        typer.echo(json.dumps(ingest_json(report), indent=2))
    else:
        typer.echo(
            f"{report.files} files: {report.added} added, {report.updated} updated, "
            f"{report.unchanged} unchanged; {report.chunks_added} chunks added, "
            f"{report.chunks_removed} removed in {report.seconds:.1f}s "
            f"({report.chunks_per_second:.0f} chunks/s) -> {pipe.index_dir}"
        )
        for skipped in report.skipped:
            err.print(f"[yellow]skipped[/] {skipped.path}: {skipped.reason}", highlight=False)
    if report.added + report.updated + report.unchanged == 0:
        raise _fail("nothing could be ingested; see the reasons above")


def _rebuild(index: Path) -> str | None:
    """Delete an index (and its Milvus collection); returns the store it used."""
    from ragfusion.ingest.manifest import MANIFEST_FILE

    if not (index / MANIFEST_FILE).exists():
        raise _fail(
            f"{index} does not look like a ragfusion index (no {MANIFEST_FILE}); "
            "refusing to delete it"
        )
    from ragfusion.errors import IndexStateError
    from ragfusion.ingest.manifest import read_manifest
    from ragfusion.stores.factory import drop_store

    try:
        manifest = read_manifest(index)
    except IndexStateError:  # unreadable: the directory can still be rebuilt
        manifest = None
    if manifest is not None:  # a Milvus collection lives outside the index directory
        _run(lambda: drop_store(manifest.store, index.expanduser().resolve()))
    import shutil

    shutil.rmtree(index)
    return None if manifest is None else manifest.store


@app.command()
def sync(
    paths: Annotated[list[Path], typer.Argument(help="Files and folders to mirror.")],
    index: IndexOpt = DEFAULT_INDEX,
    max_file_mb: Annotated[float, typer.Option(min=0.001, help="Skip larger files.")] = 100.0,
    as_json: JsonOpt = False,
    store: StoreOpt = None,
    embedder: EmbedderOpt = None,
    embed_base_url: EmbedBaseUrlOpt = None,
) -> None:
    """Bring the index in line with folders: add new files, re-chunk changed ones (only
    new text is embedded), remove documents whose files under PATHS are gone."""
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    from ragfusion.serialize import ingest_json

    config = _config(
        index,
        max_file_bytes=int(max_file_mb * 2**20),
        embedder=embedder,
        embed_base_url=embed_base_url,
    )
    pipe = _open(index, config, create=True, store=store)
    err = Console(stderr=True)
    bar = Progress(
        TextColumn("[bold]sync"),
        BarColumn(),
        MofNCompleteColumn(),
        console=err,
        transient=True,
        disable=as_json,
    )
    with pipe, bar:
        task = bar.add_task("sync", total=None)
        report = _run(
            lambda: pipe.sync(
                paths,
                progress=lambda p: bar.update(task, completed=p.files_done, total=p.files_total),
            )
        )
    if as_json:
        typer.echo(json.dumps(ingest_json(report), indent=2))
        return
    typer.echo(
        f"{report.files} files: {report.added} added, {report.updated} updated, "
        f"{report.unchanged} unchanged, {report.removed} removed; {report.chunks_added} chunks "
        f"added ({report.chunks_reused} of them reused), {report.chunks_removed} removed in "
        f"{report.seconds:.1f}s -> {pipe.index_dir}"
    )
    for skipped in report.skipped:
        err.print(f"[yellow]skipped[/] {skipped.path}: {skipped.reason}", highlight=False)


@app.command()
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

    config = _config(index, **_models(llm_model, llm, llm_base_url, embedder, embed_base_url))
    pipe = _open(index, config, store=store)
    with pipe:
        result = _run(
            lambda: pipe.search(
                question,
                rewrites=rewrites,
                queries=query or (),
                k=k,
                where=_filter(source, file_type),
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
            f"\n[bold]{rank}.[/] {_display_path(c.source)} [dim]{c.heading}[/] "
            f"[{c.start}:{c.end}] score {hit.score:.4f}  [dim]found by {found}[/]"
        )
        out.print("   " + " ".join(c.text.split())[:300])
    for warning in result.warnings:
        Console(stderr=True).print(f"[yellow]warning:[/] {warning}")


ModeOpt = Annotated[
    str | None,
    typer.Option(
        "--mode",
        help="reader (default): quote the passage span that answers; extractive: the most "
        "similar sentences; generative: the LLM writes, each sentence checked against its "
        "passage.",
    ),
]


@app.command()
def ask(
    question: Annotated[str, typer.Argument(help="Your question.")],
    index: IndexOpt = DEFAULT_INDEX,
    k: Annotated[
        int | None,
        typer.Option("-k", "--passages", min=1, max=20, help="Passages given to the model."),
    ] = None,
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
    from ragfusion.serialize import answer_json, hit_json

    config = _config(index, **_models(llm_model, llm, llm_base_url, embedder, embed_base_url))
    pipe = _open(index, config, store=store)
    options: dict[str, Any] = {
        "rewrites": rewrites,
        "queries": query or (),
        "k": k,
        "where": _filter(source, file_type),
        "extractive": extractive,
        "mode": mode,
    }
    with pipe:
        if as_json and not stream:
            answer = _run(lambda: pipe.ask(question, **options))
            typer.echo(json.dumps(answer_json(answer), indent=2, ensure_ascii=False))
            return
        events = pipe.ask_stream(question, **options)
        answer = None
        from ragfusion.errors import RagfusionError

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
            raise _fail(str(exc)) from exc
    if answer is not None:
        _print_sources(answer)


def _print_sources(answer: Any) -> None:
    from rich.console import Console

    out = Console(highlight=False)
    out.print()
    if answer.citations:
        out.print("\n[bold]Sources[/]")
        for c in answer.citations:
            where = f" > {c.heading}" if c.heading else ""
            out.print(
                f"  [{c.n}] {_display_path(c.source)}{where} [dim](chars {c.start}-{c.end})[/]"
            )
    err = Console(stderr=True, highlight=False)
    for warning in answer.warnings:
        err.print(f"[yellow]note:[/] {warning}")
    t = answer.timings_ms
    first = f"first token {t['first_token_ms']:.0f} ms, " if "first_token_ms" in t else ""
    err.print(f"[dim]{answer.mode} answer; {first}total {t.get('total_ms', 0):.0f} ms[/]")


@app.command()
def docs(index: IndexOpt = DEFAULT_INDEX, as_json: JsonOpt = False) -> None:
    """List the ingested documents."""
    pipe = _open(index)
    with pipe:
        rows = pipe.documents()
    if as_json:
        typer.echo(json.dumps([r.__dict__ for r in rows], indent=2))
        return
    for r in rows:
        typer.echo(f"{r.doc_id}  {r.file_type:4}  {r.chunks:5} chunks  {_display_path(r.source)}")
    typer.echo(f"{len(rows)} documents, {sum(r.chunks for r in rows)} chunks")


@app.command()
def check(
    index: IndexOpt = DEFAULT_INDEX,
    repair: Annotated[
        bool,
        typer.Option(
            help="Rebuild what is missing or extra in the BM25 and vector indexes from SQLite."
        ),
    ] = False,
) -> None:
    """Check that the BM25 and vector indexes hold exactly the chunks in SQLite.

    Opening an index already repairs what a crashed writer left behind; the output then
    shows what was found under ``repaired_on_open``."""
    pipe = _open(index)
    with pipe:
        report = pipe.store.repair() if repair else pipe.store.check()
        found = getattr(pipe.store, "recovered", None)
    shown = {**report.__dict__, "ok": report.ok}
    if found is not None:
        shown["repaired_on_open"] = found.__dict__
    typer.echo(json.dumps(shown, indent=2))
    if not report.ok:
        raise typer.Exit(1)


def _collection_index(data_dir: Path, split: str, index: Path | None) -> tuple[Any, Pipeline]:
    _setup_environment()
    from rich.console import Console

    from ragfusion.evaluation.beir import load_collection
    from ragfusion.evaluation.runner import default_index_dir

    collection = _run(lambda: load_collection(data_dir, split))
    for warning in collection.warnings:
        Console(stderr=True).print(f"[yellow]warning:[/] {warning}")
    pipe = _open(index or default_index_dir(collection), create=True)
    return collection, pipe


def _ingest_collection(pipe: Pipeline, collection: Any) -> None:
    from rich.console import Console

    err = Console(stderr=True)
    with err.status(
        f"indexing {len(collection.corpus)} documents of {collection.name} "
        f"into {pipe.index_dir} (reused when unchanged)"
    ):
        report = _run(lambda: pipe.ingest_records(collection.corpus))
    if report.chunks_added:
        err.print(
            f"indexed {report.chunks_added} chunks in {report.seconds:.0f}s "
            f"({report.chunks_per_second:.0f} chunks/s)"
        )


@app.command("eval")
def eval_command(
    data_dir: Annotated[Path, typer.Argument(help="A BEIR-format collection folder.")],
    modes: Annotated[
        str | None,
        typer.Option(
            help="Comma-separated: bm25, dense, hybrid, "
            "hybrid-weighted, prf, fusion, hyde, default, "
            "oracle."
        ),
    ] = None,
    split: Annotated[str, typer.Option(help="Which qrels/<split>.tsv to score.")] = "test",
    index: Annotated[
        Path | None,
        typer.Option(help="Index to build or reuse (default: a cache folder per collection)."),
    ] = None,
    limit: Annotated[int | None, typer.Option(min=1, help="Only the first N queries.")] = None,
    json_out: Annotated[Path | None, typer.Option("--json", help="Write results here.")] = None,
    plot: Annotated[Path | None, typer.Option(help="Draw nDCG@10 per mode to this PNG.")] = None,
) -> None:
    """Score retrieval modes on a BEIR collection: nDCG@10, Recall@100, MRR@10 with 95%
    bootstrap intervals, a paired test against the best single retriever, and latency."""
    from rich.console import Console
    from rich.table import Table

    from ragfusion.evaluation.runner import evaluate

    chosen = [m.strip() for m in (modes or "bm25,dense,default").split(",") if m.strip()]
    collection, pipe = _collection_index(data_dir, split, index)
    err = Console(stderr=True)
    with pipe:
        _ingest_collection(pipe, collection)
        _tune_if_needed(pipe, data_dir, chosen, err)
        with err.status("evaluating") as status:
            report = _run(
                lambda: evaluate(
                    pipe,
                    collection,
                    chosen,
                    limit=limit,
                    progress=lambda m, d, n: status.update(f"evaluating {m}: {d}/{n} queries"),
                )
            )
    if json_out:
        json_out.write_text(json.dumps(report, indent=2) + "\n")
    if plot:
        from ragfusion.evaluation.plot import plot_report

        _run(lambda: plot_report(report, plot))
    table = Table(title=f"{report['dataset']} ({report['split']}, {report['n_queries']} queries)")
    for column in ("mode", "nDCG@10", "95% CI", "R@100", "MRR@10", "p vs best single", "p50 ms"):
        table.add_column(column, justify="left" if column == "mode" else "right")
    for name, m in report["modes"].items():
        low, high = m["ci95"]["ndcg@10"]
        table.add_row(
            name,
            f"{m['ndcg@10']:.4f}",
            f"{low:.3f}-{high:.3f}",
            f"{m['recall@100']:.4f}",
            f"{m['mrr@10']:.4f}",
            f"{m['p_vs_best_single']:.3g}" if "p_vs_best_single" in m else "",
            f"{m['latency_ms_p50']:.1f}" if "latency_ms_p50" in m else "",
        )
    Console().print(table)


def _tune_if_needed(pipe: Pipeline, data_dir: Path, modes: list[str], err: Any) -> None:
    from ragfusion.evaluation.runner import ensure_tuned

    if "hybrid-weighted" not in modes:
        return
    with err.status("tuning fusion on the train split (hybrid-weighted needs it)"):
        tuned = _run(lambda: ensure_tuned(pipe, data_dir))
    err.print(
        f"fusion tuned on {tuned['trained_on']['split']}: {tuned['method']} "
        f"k={tuned['rrf_k']} weights {tuned['retriever_weights']} "
        f"cluster feedback {tuned.get('cluster_feedback', 'as configured')}"
    )


@app.command()
def tune(
    data_dir: Annotated[
        Path, typer.Argument(help="A BEIR-format collection with labelled queries to learn from.")
    ],
    split: Annotated[
        str, typer.Option(help="The split to learn on (never the test split you report).")
    ] = "train",
    index: Annotated[
        Path | None,
        typer.Option(help="The index to tune (default: the collection's cached index)."),
    ] = None,
    limit: Annotated[int | None, typer.Option(min=1, help="Only the first N queries.")] = None,
) -> None:
    """Learn the fusion method, RRF k, the retriever weights and whether cluster feedback
    helps, from labelled queries; saves them in the index (fusion.json), where search, ask
    and eval's hybrid-weighted mode use them."""
    from ragfusion.evaluation.runner import tune as tune_weights

    collection, pipe = _collection_index(data_dir, split, index)
    with pipe:
        _ingest_collection(pipe, collection)
        tuned = _run(lambda: tune_weights(pipe, collection, limit=limit))
    typer.echo(json.dumps(tuned, indent=2))


@app.command()
def serve(
    index: IndexOpt = DEFAULT_INDEX,
    host: Annotated[str, typer.Option(help="Address to bind (loopback by default).")] = (
        "127.0.0.1"
    ),
    port: Annotated[int, typer.Option(min=1, max=65535, help="Port to listen on.")] = 8000,
    api_key: Annotated[
        list[str] | None,
        typer.Option(
            "--api-key",
            help="A bearer token clients must send (repeatable; or set RAGFUSION_API_KEYS="
            "k1,k2). Required unless bound to loopback.",
        ),
    ] = None,
    llm_model: LlmModelOpt = None,
    llm: LlmOpt = None,
    llm_base_url: LlmBaseUrlOpt = None,
    embedder: EmbedderOpt = None,
    embed_base_url: EmbedBaseUrlOpt = None,
) -> None:
    """Serve the HTTP API, the OpenAI-compatible chat endpoint and the web page."""
    _setup_environment()
    try:
        import uvicorn

        from ragfusion.server.app import create_app
        from ragfusion.server.settings import ServerSettings, keys_from_env
    except ImportError as exc:
        raise _fail(
            f"The HTTP service needs the 'server' extra ({exc.name} is missing). Install it "
            "with: pip install 'ragfusion[server]'"
        ) from exc
    keys = tuple(api_key or ()) + keys_from_env()
    settings = _run(lambda: ServerSettings(index.expanduser().resolve(), host, port, keys))
    config = _config(index, **_models(llm_model, llm, llm_base_url, embedder, embed_base_url))
    pipe = _open(index, config, create=True)
    auth = "API keys required" if keys else "no API key (loopback only)"
    typer.echo(f"ragfusion serving {pipe.index_dir} on http://{host}:{port}/ ({auth})", err=True)
    # Keep-alive longer than uvicorn's 5 s default: a pooled client connection closed by the
    # server just as the client reuses it fails the request (seen under load).
    uvicorn.run(
        create_app(settings, pipe),
        host=host,
        port=port,
        log_level="info",
        timeout_keep_alive=KEEP_ALIVE_SECONDS,
    )


@app.command()
def chat(
    index: IndexOpt = DEFAULT_INDEX,
    conversation: Annotated[
        str | None, typer.Option("--conversation", help="Resume this conversation id.")
    ] = None,
    k: Annotated[
        int | None,
        typer.Option("-k", "--passages", min=1, max=20, help="Passages given to the model."),
    ] = None,
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

    config = _config(index, **_models(llm_model, llm, llm_base_url, embedder, embed_base_url))
    pipe = _open(index, config)
    with pipe:
        store = ConversationStore(pipe.index_dir / CONVERSATIONS_FILE)
        if conversation:
            _run(lambda: store.require(conversation))
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


@app.command()
def write(
    topic: Annotated[str, typer.Argument(help="What the document is about.")],
    index: IndexOpt = DEFAULT_INDEX,
    words: Annotated[
        int, typer.Option(min=150, max=5000, help="About how many words to write.")
    ] = 600,
    out: Annotated[
        Path | None, typer.Option("--out", "-o", help="Write the Markdown here (else stdout).")
    ] = None,
    extractive: Annotated[
        bool, typer.Option(help="Build the sections from quoted sentences only (no drafting).")
    ] = False,
    llm_model: LlmModelOpt = None,
    llm: LlmOpt = None,
    llm_base_url: LlmBaseUrlOpt = None,
    embedder: EmbedderOpt = None,
    embed_base_url: EmbedBaseUrlOpt = None,
) -> None:
    """Write a Markdown document grounded in the index: outline, sections with citations,
    and a reference list."""
    from ragfusion.apps.writer import Draft, WriteProgress, write_stream

    config = _config(index, **_models(llm_model, llm, llm_base_url, embedder, embed_base_url))
    pipe = _open(index, config)
    draft: Draft | None = None
    with pipe:
        for item in _run(
            lambda: list(
                _progressively(write_stream(pipe, topic, words=words, extractive=extractive))
            )
        ):
            if isinstance(item, Draft):
                draft = item
    assert draft is not None
    for warning in draft.warnings:
        typer.echo(f"warning: {warning}", err=True)
    if out is not None:
        out.write_text(draft.markdown, encoding="utf-8")
        typer.echo(
            f"wrote {out} ({len(draft.markdown.split())} words, {len(draft.sections)} "
            f"sections, {len(draft.references)} references)",
            err=True,
        )
    else:
        typer.echo(draft.markdown)
    del WriteProgress


def _progressively(items: Any) -> Any:
    """Show writer progress on stderr as the items pass through."""
    from ragfusion.apps.writer import WriteProgress

    for item in items:
        if isinstance(item, WriteProgress):
            if item.stage == "outline":
                typer.echo("planning the outline…", err=True)
            elif item.stage == "section":
                typer.echo(f"[{item.done + 1}/{item.total}] {item.heading}", err=True)
            else:
                typer.echo("done", err=True)
        yield item


def main() -> None:
    app()


if __name__ == "__main__":
    main()
