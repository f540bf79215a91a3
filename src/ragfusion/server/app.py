"""The FastAPI application: JSON and Server-Sent-Events routes over one Pipeline.

Model calls are blocking and the in-process LLM must be entered and left on one thread, so
every answer runs start to finish on a worker thread that hands its events to the response
through a queue (``threaded_events``).
"""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from fastapi import Depends, FastAPI, File, Request, UploadFile
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException

from ragfusion import __version__
from ragfusion.apps.chat import chat_stream
from ragfusion.apps.conversations import (
    CONVERSATIONS_FILE,
    ConversationStore,
)
from ragfusion.errors import (
    RagfusionError,
)
from ragfusion.pipeline import AnswerEvent, Pipeline
from ragfusion.serialize import answer_json, search_json
from ragfusion.server import openai_compat
from ragfusion.server.errors import ApiError, error_body, status_of
from ragfusion.server.jobs import IngestJobs
from ragfusion.server.metrics import Metrics
from ragfusion.server.middleware import BodyLimit, MeasureRequests
from ragfusion.server.schemas import (
    AskRequest,
    ChatCompletionRequest,
    ChatRequest,
    Filters,
    SearchRequest,
)
from ragfusion.server.settings import ServerSettings
from ragfusion.server.streaming import sse_response, sse_stream, threaded_events
from ragfusion.server.uploads import safe_upload_name
from ragfusion.stores.base import MetadataFilter

STATIC_DIR = Path(__file__).parent / "static"
_MAX_FILES = 100


def _filter(body: Filters) -> MetadataFilter | None:
    where = MetadataFilter(
        source_prefix=body.source or None, file_types=tuple(body.file_types or ())
    )
    return None if where.is_empty else where


# the app --------------------------------------------------------------------------------------
def create_app(settings: ServerSettings, pipe: Pipeline | None = None) -> FastAPI:
    state: dict[str, Any] = {}
    metrics = Metrics()

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        opened = pipe or Pipeline.open(settings.index_dir)
        state["pipe"] = opened
        state["jobs"] = IngestJobs(opened)
        state["conversations"] = ConversationStore(opened.index_dir / CONVERSATIONS_FILE)
        settings.upload_dir.mkdir(parents=True, exist_ok=True)
        if settings.warm_up:
            threading.Thread(target=_warm_up, args=(opened,), daemon=True).start()
        yield
        state["jobs"].close()
        state["conversations"].close()
        if pipe is None:
            opened.close()

    app = FastAPI(
        title="ragfusion",
        version=__version__,
        description="Retrieval-augmented generation with fusion: search, answer with "
        "citations, chat, and manage the indexed documents.",
        lifespan=lifespan,
    )
    bearer = HTTPBearer(auto_error=False)

    def authorised(creds: HTTPAuthorizationCredentials | None = Depends(bearer)) -> None:  # noqa: B008
        if not settings.api_keys:
            return
        if creds is None or creds.credentials not in settings.api_keys:
            raise ApiError(
                401,
                "unauthorized",
                "A valid API key is required: send the header 'Authorization: Bearer KEY'",
            )

    def the_pipe() -> Pipeline:
        opened: Pipeline = state["pipe"]
        return opened

    # errors -----------------------------------------------------------------------------------
    @app.exception_handler(ApiError)
    async def _api_error(_: Request, exc: ApiError) -> JSONResponse:
        headers = {"WWW-Authenticate": "Bearer"} if exc.status == 401 else None
        return JSONResponse(
            error_body(exc.status, exc.code, exc.message), exc.status, headers=headers
        )

    @app.exception_handler(RagfusionError)
    async def _ragfusion_error(_: Request, exc: RagfusionError) -> JSONResponse:
        status, code = status_of(exc)
        return JSONResponse(error_body(status, code, str(exc)), status)

    @app.exception_handler(RequestValidationError)
    async def _invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        problems = []
        for err in exc.errors()[:10]:
            where = ".".join(str(p) for p in err.get("loc", ()) if p != "body") or "body"
            problems.append(f"{where}: {err.get('msg', 'invalid')}")
        return JSONResponse(
            error_body(422, "invalid_request", "; ".join(problems)),
            422,
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = {404: "not_found", 405: "method_not_allowed", 413: "too_large"}.get(
            exc.status_code, "http_error"
        )
        return JSONResponse(error_body(exc.status_code, code, str(exc.detail)), exc.status_code)

    @app.exception_handler(Exception)
    async def _unexpected(_: Request, exc: Exception) -> JSONResponse:
        message = f"Internal error ({type(exc).__name__}); the server log has the details"
        return JSONResponse(error_body(500, "internal_error", message), 500)

    # service ----------------------------------------------------------------------------------
    @app.get("/healthz", tags=["service"])
    def healthz() -> dict[str, Any]:
        """Liveness and what is indexed."""
        opened = the_pipe()
        return {
            "status": "ok",
            "version": __version__,
            "documents": len(opened.documents()),
            "chunks": opened.store.count_chunks(),
        }

    @app.get("/metrics", tags=["service"], dependencies=[Depends(authorised)])
    def prometheus() -> Response:
        """Request counts and latencies in the Prometheus text format."""
        body, content_type = metrics.render()
        return Response(body, media_type=content_type)

    # search and answers -----------------------------------------------------------------------
    @app.post("/v1/search", tags=["retrieval"], dependencies=[Depends(authorised)])
    def search(body: SearchRequest) -> dict[str, Any]:
        """Fused hits with their provenance, and each retriever's ranked list."""
        found = the_pipe().search(
            body.question,
            rewrites=body.rewrites,
            queries=body.queries,
            k=body.k,
            where=_filter(body),
            retrievers=body.retrievers,
        )
        result = search_json(found)
        result["lists"] = [
            {
                "query": ranked.query,
                "retriever": ranked.retriever,
                "weight": ranked.weight,
                "hits": [
                    {"chunk_id": h.chunk.chunk_id, "rank": rank, "score": h.score}
                    for rank, h in enumerate(ranked.hits[:20], start=1)
                ],
            }
            for ranked in found.lists
        ]
        return result

    @app.post(
        "/v1/ask",
        tags=["answers"],
        dependencies=[Depends(authorised)],
        response_model=None,
        responses={200: {"content": {"text/event-stream": {}}}},
    )
    async def ask(body: AskRequest) -> Any:
        """A cited answer. With ``stream: true``, Server-Sent Events: queries, hits, token
        (repeated), replace (if the answer was swapped for an extractive one), citations,
        done (the whole answer) or error."""
        opened = the_pipe()

        def events() -> Iterator[AnswerEvent]:
            return opened.ask_stream(
                body.question,
                rewrites=body.rewrites,
                queries=body.queries,
                k=body.k,
                where=_filter(body),
                extractive=body.extractive,
                mode=body.mode,
            )

        if body.stream:
            return sse_response(sse_stream(events))
        return await _final_answer(events)

    @app.post(
        "/v1/chat",
        tags=["answers"],
        dependencies=[Depends(authorised)],
        response_model=None,
        responses={200: {"content": {"text/event-stream": {}}}},
    )
    async def chat(body: ChatRequest) -> Any:
        """One turn of a multi-turn conversation. Leave ``conversation_id`` out to start one;
        the follow-up is rewritten into a standalone question before retrieval (the
        ``conversation`` event or field shows it)."""
        opened, conversations = the_pipe(), state["conversations"]
        if body.conversation_id is not None:
            conversations.require(body.conversation_id)

        def events() -> Iterator[AnswerEvent]:
            return chat_stream(
                opened,
                conversations,
                body.message,
                conversation_id=body.conversation_id,
                k=body.k,
                where=_filter(body),
                extractive=body.extractive,
                mode=body.mode,
            )

        if body.stream:
            return sse_response(sse_stream(events))
        result: dict[str, Any] = {}
        async for event in threaded_events(events):
            if event.kind == "conversation":
                result["conversation"] = event.data
            elif event.kind == "done":
                result.update(answer_json(event.data))
        return result

    @app.get("/v1/conversations/{conversation_id}", tags=["answers"])
    def conversation(conversation_id: str, _: None = Depends(authorised)) -> dict[str, Any]:
        """The turns of a conversation, with the standalone question of each user turn."""
        conversations: ConversationStore = state["conversations"]
        conversations.require(conversation_id)
        return {
            "id": conversation_id,
            "turns": [
                {
                    "role": t.role,
                    "content": t.content,
                    "standalone": t.standalone,
                    "citations": t.citations,
                    "created_at": t.created_at,
                }
                for t in conversations.turns(conversation_id)
            ],
        }

    # documents --------------------------------------------------------------------------------
    @app.post("/v1/documents", status_code=202, tags=["documents"])
    async def upload(
        files: list[UploadFile] = File(..., description="Files to ingest"),  # noqa: B008
        _: None = Depends(authorised),
    ) -> dict[str, Any]:
        """Store the files and ingest them in the background; poll ``/v1/jobs/{id}``."""
        if not files:
            raise ApiError(400, "invalid_request", "Send at least one file in the 'files' field")
        if len(files) > _MAX_FILES:
            raise ApiError(400, "invalid_request", f"Send at most {_MAX_FILES} files at once")
        names = [safe_upload_name(f.filename) for f in files]
        jobs: IngestJobs = state["jobs"]
        job_id = jobs.new_id()
        # One flat folder: uploading a file again under the same name updates that document
        # (only its changed chunks are re-embedded) instead of adding a copy.
        folder = settings.upload_dir.resolve()
        stored: list[Path] = []
        for upload_file, name in zip(files, names, strict=True):
            target = (folder / name).resolve()
            if target.parent != folder:  # cannot happen after safe_upload_name; belt and braces
                raise ApiError(400, "invalid_file", f"Refusing the file name {name!r}")
            if target in stored:
                raise ApiError(400, "invalid_request", f"{name!r} is sent twice in one upload")
            partial = folder / f".{job_id}.{name}.part"
            with partial.open("wb") as out:
                while chunk := await upload_file.read(1 << 20):
                    out.write(chunk)
            partial.replace(target)  # atomic: a running ingest never sees half a file
            stored.append(target)
        job = jobs.submit(job_id, stored)
        return job.as_json()

    @app.get("/v1/jobs/{job_id}", tags=["documents"], dependencies=[Depends(authorised)])
    def job_status(job_id: str) -> dict[str, Any]:
        """Progress of an upload's ingest: queued, running, done (with a report) or failed."""
        job = state["jobs"].get(job_id)
        if job is None:
            raise ApiError(404, "not_found", f"No ingest job with id {job_id!r}")
        result: dict[str, Any] = job.as_json()
        return result

    @app.get("/v1/documents", tags=["documents"], dependencies=[Depends(authorised)])
    def documents() -> dict[str, Any]:
        """Every indexed document (without its text)."""
        return {
            "documents": [
                {
                    "doc_id": d.doc_id,
                    "source": d.source,
                    "file_type": d.file_type,
                    "title": d.title,
                    "chunks": d.chunks,
                    "ingested_at": d.ingested_at,
                }
                for d in the_pipe().documents()
            ]
        }

    @app.get("/v1/documents/{doc_id}", tags=["documents"], dependencies=[Depends(authorised)])
    def document(doc_id: str) -> dict[str, Any]:
        """One document with its extracted text (citation offsets point into it)."""
        found = the_pipe().document(doc_id)
        if found is None:
            raise ApiError(404, "not_found", f"No document with id {doc_id!r}")
        return {
            "doc_id": found.doc_id,
            "source": found.source,
            "file_type": found.file_type,
            "title": found.title,
            "text": found.text,
        }

    @app.delete("/v1/documents/{doc_id}", tags=["documents"], dependencies=[Depends(authorised)])
    def delete_document(doc_id: str) -> dict[str, Any]:
        """Remove a document and its chunks (and its uploaded file, if it was uploaded)."""
        opened = the_pipe()
        found = opened.document(doc_id)
        if found is None:
            raise ApiError(404, "not_found", f"No document with id {doc_id!r}")
        removed = opened.delete(doc_id)
        source = Path(found.source)
        if source.is_relative_to(settings.upload_dir.resolve()) and source.is_file():
            source.unlink()
        return {"doc_id": doc_id, "chunks_removed": removed}

    # OpenAI-compatible ------------------------------------------------------------------------
    @app.get("/v1/models", tags=["openai"], dependencies=[Depends(authorised)])
    def models() -> dict[str, Any]:
        return openai_compat.models_json()

    @app.post(
        "/v1/chat/completions",
        tags=["openai"],
        dependencies=[Depends(authorised)],
        response_model=None,
        responses={200: {"content": {"text/event-stream": {}}}},
    )
    async def chat_completions(body: ChatCompletionRequest) -> Any:
        """OpenAI's chat completion API answered by RAG: the last user message is the question,
        earlier messages the history. Citations ride along in ``citations``."""
        request = openai_compat.parse(body)
        opened = the_pipe()

        def events() -> Iterator[AnswerEvent]:
            return openai_compat.answer_events(opened, request)

        if body.stream:
            return sse_response(openai_compat.stream_chunks(threaded_events(events), request))
        answer = None
        async for event in threaded_events(events):
            if event.kind == "done":
                answer = event.data
        assert answer is not None
        return openai_compat.completion_json(answer, request)

    # web page ---------------------------------------------------------------------------------
    @app.get("/", include_in_schema=False)
    def page() -> FileResponse:
        return FileResponse(STATIC_DIR / "index.html")

    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    app.add_middleware(
        BodyLimit, json_limit=settings.max_json_bytes, upload_limit=settings.max_upload_bytes
    )
    app.add_middleware(MeasureRequests, metrics=metrics)
    return app


async def _final_answer(make: Callable[[], Iterator[AnswerEvent]]) -> dict[str, Any]:
    async for event in threaded_events(make):
        if event.kind == "done":
            return answer_json(event.data)
    raise ApiError(500, "internal_error", "The answer ended without a result")


def _warm_up(pipe: Pipeline) -> None:
    """Load the models before the first request needs them (errors surface on that request)."""
    try:
        warm = getattr(pipe.embedder, "warm_up", None)
        if warm:
            warm()
        llm_warm = getattr(pipe.llm, "warm_up", None)
        if llm_warm:
            llm_warm()
    except RagfusionError:
        pass
