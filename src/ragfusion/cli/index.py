"""The commands that build and inspect an index: ``ingest``, ``sync``, ``docs``, ``check``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from ragfusion.cli.common import (
    DEFAULT_INDEX,
    EmbedBaseUrlOpt,
    EmbedderOpt,
    IndexOpt,
    JsonOpt,
    StoreOpt,
    display_path,
    fail,
    load_config,
    open_pipeline,
    run,
)

MaxFileMbOpt = Annotated[float, typer.Option(min=0.001, help="Skip larger files.")]


def ingest(
    paths: Annotated[list[Path], typer.Argument(help="Files and folders to ingest.")],
    index: IndexOpt = DEFAULT_INDEX,
    rebuild: Annotated[bool, typer.Option(help="Delete the index and build it anew.")] = False,
    max_file_mb: MaxFileMbOpt = 100.0,
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
    pipe = open_pipeline(
        index,
        load_config(
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
        report = run(
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
        raise fail("nothing could be ingested; see the reasons above")


def _rebuild(index: Path) -> str | None:
    """Delete an index (and its Milvus collection); returns the store it used."""
    from ragfusion.ingest.manifest import MANIFEST_FILE

    if not (index / MANIFEST_FILE).exists():
        raise fail(
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
        store = manifest.store
        run(lambda: drop_store(store, index.expanduser().resolve()))
    import shutil

    shutil.rmtree(index)
    return None if manifest is None else manifest.store


def sync(
    paths: Annotated[list[Path], typer.Argument(help="Files and folders to mirror.")],
    index: IndexOpt = DEFAULT_INDEX,
    max_file_mb: MaxFileMbOpt = 100.0,
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

    config = load_config(
        index,
        max_file_bytes=int(max_file_mb * 2**20),
        embedder=embedder,
        embed_base_url=embed_base_url,
    )
    pipe = open_pipeline(index, config, create=True, store=store)
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
        report = run(
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


def docs(index: IndexOpt = DEFAULT_INDEX, as_json: JsonOpt = False) -> None:
    """List the ingested documents."""
    pipe = open_pipeline(index)
    with pipe:
        rows = pipe.documents()
    if as_json:
        typer.echo(json.dumps([r.__dict__ for r in rows], indent=2))
        return
    for r in rows:
        typer.echo(f"{r.doc_id}  {r.file_type:4}  {r.chunks:5} chunks  {display_path(r.source)}")
    typer.echo(f"{len(rows)} documents, {sum(r.chunks for r in rows)} chunks")


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
    pipe = open_pipeline(index)
    with pipe:
        report = pipe.store.repair() if repair else pipe.store.check()
        found = getattr(pipe.store, "recovered", None)
    shown = {**report.__dict__, "ok": report.ok}
    if found is not None:
        shown["repaired_on_open"] = found.__dict__
    typer.echo(json.dumps(shown, indent=2))
    if not report.ok:
        raise typer.Exit(1)
