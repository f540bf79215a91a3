"""What the command modules share: the options, error exits and opening an index.

Everything heavy (the pipeline, the models, the index libraries) is imported inside the
helpers, so ``ragfusion --help`` stays instant.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import typer

if TYPE_CHECKING:
    from ragfusion.config import PipelineConfig
    from ragfusion.pipeline import Pipeline
    from ragfusion.stores.base import MetadataFilter

T = TypeVar("T")

IndexOpt = Annotated[
    Path, typer.Option("--index", "-i", envvar="RAGFUSION_INDEX", help="Index directory.")
]
DEFAULT_INDEX = Path("ragfusion-index")
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON instead of text.")]
KOpt = Annotated[int, typer.Option("-k", "--top-k", min=1, max=1000, help="Number of hits.")]
PassagesOpt = Annotated[
    int | None,
    typer.Option("-k", "--passages", min=1, max=20, help="Passages given to the model."),
]
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
ModeOpt = Annotated[
    str | None,
    typer.Option(
        "--mode",
        help="reader (default): quote the passage span that answers; extractive: the most "
        "similar sentences; generative: the LLM writes, each sentence checked against its "
        "passage.",
    ),
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


def setup_environment() -> None:
    """Keep the model libraries offline and quiet unless the user says otherwise."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


def fail(message: str, code: int = 1) -> typer.Exit:
    """Print ``error: message`` on stderr; returns the exit for the caller to raise."""
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(code)


def run(func: Callable[[], T]) -> T:
    """Call into the pipeline, turning our errors into a clean message and exit code 1."""
    from ragfusion.errors import RagfusionError

    try:
        return func()
    except RagfusionError as exc:
        raise fail(str(exc)) from exc


def load_config(index: Path, **overrides: Any) -> PipelineConfig:
    """The configuration for a run: defaults, then the index's tuned fusion, then options."""
    from ragfusion.config import config_for_index

    return run(lambda: config_for_index(index.expanduser().resolve(), **overrides))


def model_overrides(
    llm_model: Path | None,
    llm: str | None,
    llm_base_url: str | None,
    embedder: str | None,
    embed_base_url: str | None,
) -> dict[str, Any]:
    """Config overrides for the model options (None: keep the configured value)."""
    if llm_model is not None and llm is not None:
        raise fail("give --llm-model PATH or --llm SPEC, not both")
    return {
        "llm": f"gguf:{llm_model}" if llm_model is not None else llm,
        "llm_base_url": llm_base_url,
        "embedder": embedder,
        "embed_base_url": embed_base_url,
    }


def open_pipeline(
    index: Path,
    config: PipelineConfig | None = None,
    *,
    create: bool = False,
    store: str | None = None,
) -> Pipeline:
    """Open (or with ``create``, start) the index; our errors exit with code 1."""
    setup_environment()
    from ragfusion.pipeline import Pipeline

    return run(lambda: Pipeline.open(index, config, create=create, store=store))


def metadata_filter(source: str | None, types: list[str] | None) -> MetadataFilter | None:
    """The filter for ``--source`` and ``--type`` (None when neither is given)."""
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


def display_path(source: str) -> str:
    """A document's path relative to the working directory when it can be."""
    try:
        return os.path.relpath(source)
    except ValueError:
        return source
