"""The orchestrator's FastAPI application. No authentication: it listens on 127.0.0.1 only
and holds no secrets beyond the registry write token it uses itself."""

from __future__ import annotations

import contextlib
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import FastAPI, Path, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from starlette.exceptions import HTTPException

from testbed.orchestrator.pipeline import PipelineJob, PipelineRunner
from testbed.orchestrator.runs import PipelineRun, RunBook
from testbed.registry_client import RegistryClient, RegistryError

_NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]*$"
DEFAULT_MODEL_NAME = "synthetic-classifier"


@dataclass(frozen=True)
class OrchestratorSettings:
    registry_url: str
    registry_token: str
    cpu_workers: int = 2
    registry_timeout_s: float = 10.0


class PipelineRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(
        default=DEFAULT_MODEL_NAME, min_length=1, max_length=128, pattern=_NAME_PATTERN
    )
    version: str | None = Field(
        default=None,
        min_length=1,
        max_length=64,
        pattern=_NAME_PATTERN,
        description="default: the run id (unique)",
    )
    samples: int = Field(default=400, ge=40, le=20_000)
    seed: int = Field(default=0, ge=0, le=2**31 - 1)


class PipelineAccepted(BaseModel):
    run_id: str


class StepOut(BaseModel):
    name: str
    status: str
    duration_s: float | None
    detail: str | None


class PipelineOut(BaseModel):
    run_id: str
    name: str
    version: str
    status: str
    model_id: int | None
    error: str | None
    steps: list[StepOut]
    duration_s: float


def _error(status: int, code: str, message: str, field: str | None = None) -> JSONResponse:
    detail: dict[str, Any] = {"code": code, "message": message}
    if field:
        detail["field"] = field
    return JSONResponse({"error": detail}, status_code=status)


def _install_error_handlers(app: FastAPI) -> None:
    def on_validation(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        first = next(iter(exc.errors()), {"loc": (), "msg": "invalid request"})
        field = ".".join(str(p) for p in tuple(first.get("loc", ()))[1:])
        status = 400 if tuple(first.get("loc", ("",)))[:1] == ("path",) else 422
        return _error(status, "invalid_request", f"{field or 'body'}: {first['msg']}", field)

    def on_http(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, HTTPException)
        return _error(exc.status_code, "http_error", str(exc.detail))

    app.add_exception_handler(RequestValidationError, on_validation)
    app.add_exception_handler(HTTPException, on_http)


def create_app(settings: OrchestratorSettings) -> FastAPI:
    book = RunBook()
    # Neither binds to an event loop when created; both are closed when the server stops.
    client = RegistryClient(
        settings.registry_url, settings.registry_token, timeout_s=settings.registry_timeout_s
    )
    runner = PipelineRunner(client, book, cpu_workers=settings.cpu_workers)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        try:
            yield
        finally:
            await runner.close()
            await client.aclose()

    app = FastAPI(title="pipeline-orchestrator", version="1.0.0", lifespan=lifespan)
    _install_error_handlers(app)

    @app.post("/pipelines", status_code=202, response_model=PipelineAccepted)
    async def start_pipeline(request: PipelineRequest | None = None) -> PipelineAccepted:
        request = request or PipelineRequest()
        run_id = uuid.uuid4().hex
        job = PipelineJob(
            run_id=run_id,
            name=request.name,
            version=request.version or run_id,
            samples=request.samples,
            seed=request.seed,
        )
        book.add(
            PipelineRun(
                run_id=run_id,
                name=job.name,
                version=job.version,
                samples=job.samples,
                seed=job.seed,
                started_monotonic_s=time.monotonic(),
            )
        )
        runner.start(job)
        return PipelineAccepted(run_id=run_id)

    @app.get("/pipelines/{run_id}", response_model=PipelineOut)
    async def get_pipeline(
        run_id: Annotated[str, Path(min_length=1, max_length=64)],
    ) -> JSONResponse:
        run = book.get(run_id)
        if run is None:
            return _error(404, "run_not_found", f"no pipeline run {run_id!r}")
        return JSONResponse(run.to_body())

    @app.get("/health")
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/ready")
    async def ready() -> JSONResponse:
        try:
            await client.check_ready()
        except RegistryError as exc:
            return _error(503, "registry_unavailable", f"registry not ready: {exc}")
        return JSONResponse({"status": "ready", "runs": book.counts()})

    return app
