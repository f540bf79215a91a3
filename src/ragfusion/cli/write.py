"""The ``write`` command: a Markdown document grounded in the index, with citations."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Annotated, TypeVar

import typer

from ragfusion.cli.common import (
    DEFAULT_INDEX,
    EmbedBaseUrlOpt,
    EmbedderOpt,
    IndexOpt,
    LlmBaseUrlOpt,
    LlmModelOpt,
    LlmOpt,
    load_config,
    model_overrides,
    open_pipeline,
    run,
)

T = TypeVar("T")


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
    from ragfusion.apps.writer import Draft, write_stream

    overrides = model_overrides(llm_model, llm, llm_base_url, embedder, embed_base_url)
    pipe = open_pipeline(index, load_config(index, **overrides))
    draft: Draft | None = None
    with pipe:
        for item in run(
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


def _progressively(items: Iterable[T]) -> Iterator[T]:
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
