"""The /models API. Routes are blocking functions (FastAPI runs them in its thread pool);
every write is committed before the answer is sent."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from testbed.registry.auth import require_scope
from testbed.registry.errors import error_responses
from testbed.registry.faults import WRONG_STATUS, FaultSwitches, apply_body_faults
from testbed.registry.schemas import (
    MAX_ID,
    NAME_MAX_CHARS,
    NAME_PATTERN,
    ModelOut,
    RegisterRequest,
    TransitionRequest,
    VersionsOut,
)
from testbed.registry.store import ModelRecord, ModelStore
from testbed.registry.tokens import Scope, Tokens

ModelId = Annotated[int, Path(ge=1, le=MAX_ID, description="positive integer id of a model")]
ModelNameParam = Annotated[str, Path(min_length=1, max_length=NAME_MAX_CHARS, pattern=NAME_PATTERN)]


def build_model_router(store: ModelStore, tokens: Tokens, faults: FaultSwitches) -> APIRouter:
    router = APIRouter(prefix="/models", tags=["models"])
    read = [Depends(require_scope(tokens, Scope.READ))]
    write = [Depends(require_scope(tokens, Scope.WRITE, faults))]

    def model_response(record: ModelRecord, status: int = 200) -> JSONResponse:
        return JSONResponse(apply_body_faults(record.to_body(), faults.active), status)

    @router.post(
        "/register",
        status_code=201,
        response_model=ModelOut,
        dependencies=write,
        responses=error_responses(400, 401, 403, 409, 413, 422, 503),
        summary="Register a model version",
    )
    def register_model(spec: RegisterRequest) -> JSONResponse:
        record = store.register(
            name=spec.name,
            version=spec.version,
            framework=spec.framework,
            metrics=spec.metrics,
            tags=spec.tags,
        )
        return model_response(record, 200 if faults.is_on(WRONG_STATUS) else 201)

    @router.api_route(
        "/register", methods=["GET", "PUT", "PATCH", "DELETE", "OPTIONS"], include_in_schema=False
    )
    def register_other_methods() -> None:
        # Without this, GET /models/register would reach /models/{model_id} and answer 400.
        raise StarletteHTTPException(405)

    @router.get(
        "/{model_id}",
        response_model=ModelOut,
        dependencies=read,
        responses=error_responses(400, 401, 403, 404, 503),
        summary="Get a model version",
    )
    def get_model(model_id: ModelId) -> JSONResponse:
        return model_response(store.get(model_id))

    @router.get(
        "/{model_id}/versions",
        response_model=VersionsOut,
        dependencies=read,
        responses=error_responses(400, 401, 403, 404, 503),
        summary="All versions of this model's name, oldest first",
    )
    def list_versions(model_id: ModelId) -> JSONResponse:
        bodies = [apply_body_faults(r.to_body(), faults.active) for r in store.versions(model_id)]
        return JSONResponse({"versions": bodies})

    @router.post(
        "/{model_id}/transition",
        response_model=ModelOut,
        dependencies=write,
        responses=error_responses(400, 401, 403, 404, 409, 413, 422, 503),
        summary="Move a version to a stage (production archives the previous one)",
    )
    def transition_model(model_id: ModelId, request: TransitionRequest) -> JSONResponse:
        return model_response(store.transition(model_id, request.stage))

    @router.post(
        "/{name}/rollback",
        response_model=ModelOut,
        dependencies=write,
        responses=error_responses(400, 401, 403, 404, 409, 503),
        summary="Return the previous production version of a name to production",
    )
    def rollback_model(name: ModelNameParam) -> JSONResponse:
        return model_response(store.rollback(name))

    @router.post(
        "/{model_id}/retire",
        response_model=ModelOut,
        dependencies=write,
        responses=error_responses(400, 401, 403, 404, 503),
        summary="Mark a version retired",
    )
    def retire_model(model_id: ModelId) -> JSONResponse:
        return model_response(store.retire(model_id))

    @router.delete(
        "/{model_id}",
        status_code=204,
        response_class=Response,
        dependencies=write,
        responses=error_responses(400, 401, 403, 404, 503),
        summary="Delete a version (lets contract verification remove its test data)",
    )
    def delete_model(model_id: ModelId) -> Response:
        store.delete(model_id)
        return Response(status_code=204)

    return router
