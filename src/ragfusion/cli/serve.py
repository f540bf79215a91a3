"""The ``serve`` command: the HTTP API, the OpenAI-compatible endpoint and the web page."""

from __future__ import annotations

from typing import Annotated

import typer

from ragfusion.cli.common import (
    DEFAULT_INDEX,
    EmbedBaseUrlOpt,
    EmbedderOpt,
    IndexOpt,
    LlmBaseUrlOpt,
    LlmModelOpt,
    LlmOpt,
    fail,
    load_config,
    model_overrides,
    open_pipeline,
    run,
    setup_environment,
)

# Keep-alive longer than uvicorn's 5 s default: a pooled client connection closed by the
# server just as the client reuses it fails the request (seen under load).
KEEP_ALIVE_SECONDS = 75


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
    setup_environment()
    try:
        import uvicorn

        from ragfusion.server.app import create_app
        from ragfusion.server.settings import ServerSettings, keys_from_env
    except ImportError as exc:
        raise fail(
            f"The HTTP service needs the 'server' extra ({exc.name} is missing). Install it "
            "with: pip install 'ragfusion[server]'"
        ) from exc
    keys = tuple(api_key or ()) + keys_from_env()
    settings = run(lambda: ServerSettings(index.expanduser().resolve(), host, port, keys))
    overrides = model_overrides(llm_model, llm, llm_base_url, embedder, embed_base_url)
    pipe = open_pipeline(index, load_config(index, **overrides), create=True)
    auth = "API keys required" if keys else "no API key (loopback only)"
    typer.echo(f"ragfusion serving {pipe.index_dir} on http://{host}:{port}/ ({auth})", err=True)
    uvicorn.run(
        create_app(settings, pipe),
        host=host,
        port=port,
        log_level="info",
        timeout_keep_alive=KEEP_ALIVE_SECONDS,
    )
