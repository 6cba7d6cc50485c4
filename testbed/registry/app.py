"""The registry's FastAPI application: models API, health, readiness, metrics, fault admin."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

from fastapi import Depends, FastAPI, Request
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from testbed.registry.auth import require_scope
from testbed.registry.errors import (
    ApiError,
    error_response,
    error_responses,
    install_error_handlers,
)
from testbed.registry.faults import (
    DB_DOWN,
    KNOWN_FAULTS,
    FaultSwitches,
    UnknownFault,
    check_fault_names,
)
from testbed.registry.limits import MAX_BODY_BYTES, BodyLimitMiddleware
from testbed.registry.model_routes import build_model_router
from testbed.registry.schemas import FaultsOut, FaultsRequest, HealthOut, ReadyOut
from testbed.registry.store import DuplicateModel, ModelMissing, ModelStore, StageConflict
from testbed.registry.telemetry import MetricsMiddleware, RequestMetrics
from testbed.registry.tokens import Scope, Tokens


@dataclass(frozen=True)
class RegistrySettings:
    database_url: str
    tokens: Tokens
    faults: frozenset[str] = field(default_factory=frozenset)
    max_body_bytes: int = MAX_BODY_BYTES


def set_faults(store: ModelStore, faults: FaultSwitches, names: frozenset[str]) -> None:
    """Switch the faults to exactly ``names``; db-down really cuts the connection pool."""
    faults.replace(names)
    if DB_DOWN in names:
        store.gate.close()
    else:
        store.gate.open()


def _install_store_errors(app: FastAPI) -> None:
    def on_missing(request: Request, exc: Exception) -> JSONResponse:
        return error_response(404, "model_not_found", str(exc))

    def on_duplicate(request: Request, exc: Exception) -> JSONResponse:
        return error_response(409, "duplicate_model", str(exc))

    def on_conflict(request: Request, exc: Exception) -> JSONResponse:
        return error_response(409, "stage_conflict", str(exc))

    app.add_exception_handler(ModelMissing, on_missing)
    app.add_exception_handler(DuplicateModel, on_duplicate)
    app.add_exception_handler(StageConflict, on_conflict)


def create_app(settings: RegistrySettings) -> FastAPI:
    store = ModelStore(settings.database_url)
    faults = FaultSwitches()
    metrics = RequestMetrics(store.count)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await asyncio.to_thread(store.create_tables)
        set_faults(store, faults, settings.faults)
        try:
            yield
        finally:
            store.close()

    app = FastAPI(
        title="model-registry",
        version="1.0.0",
        description="Model registry of the harness testbed. Errors: "
        '{"error": {"code", "message", "field"?}}. Tags map string to string.',
        lifespan=lifespan,
    )
    app.state.store = store
    app.state.faults = faults
    install_error_handlers(app)
    _install_store_errors(app)
    app.add_middleware(BodyLimitMiddleware, limit_bytes=settings.max_body_bytes)
    app.add_middleware(MetricsMiddleware, metrics=metrics)
    app.include_router(build_model_router(store, settings.tokens, faults))

    @app.get("/health", response_model=HealthOut, tags=["ops"], summary="Liveness")
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    @app.get(
        "/ready",
        response_model=ReadyOut,
        tags=["ops"],
        responses=error_responses(503),
        summary="Readiness: the database answers",
    )
    def ready() -> dict[str, str]:
        try:
            store.ping()
        except Exception as exc:
            raise ApiError(
                503, "database_unavailable", f"database unreachable ({type(exc).__name__})"
            ) from None
        return {"status": "ready"}

    @app.get(
        "/metrics",
        tags=["ops"],
        response_class=Response,
        responses={200: {"content": {"text/plain": {"schema": {"type": "string"}}}}},
        summary="Prometheus metrics",
    )
    def prometheus_metrics() -> Response:
        return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)

    admin = [Depends(require_scope(settings.tokens, Scope.ADMIN))]
    admin_errors = error_responses(401, 403)

    def faults_body() -> FaultsOut:
        return FaultsOut(faults=sorted(faults.active), known=list(KNOWN_FAULTS))

    @app.get(
        "/admin/faults",
        response_model=FaultsOut,
        dependencies=admin,
        responses=admin_errors,
        tags=["admin"],
    )
    def get_faults() -> FaultsOut:
        return faults_body()

    @app.put(
        "/admin/faults",
        response_model=FaultsOut,
        dependencies=admin,
        responses=error_responses(400, 401, 403, 413, 422),
        tags=["admin"],
    )
    def put_faults(request: FaultsRequest) -> FaultsOut:
        try:
            names = check_fault_names(request.faults)  # index of the bad one, in order
        except UnknownFault as exc:
            raise ApiError(422, "unknown_fault", str(exc), field=f"faults.{exc.index}") from None
        set_faults(store, faults, names)
        return faults_body()

    @app.delete(
        "/admin/faults",
        response_model=FaultsOut,
        dependencies=admin,
        responses=admin_errors,
        tags=["admin"],
    )
    def clear_faults() -> FaultsOut:
        set_faults(store, faults, frozenset())
        return faults_body()

    metrics.initialise(app.routes)
    return app
