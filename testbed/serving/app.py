"""The serving HTTP API (FastAPI), one instance per gunicorn worker.

Gunicorn loads ``testbed.serving.app:create_app()`` in each worker (no preload), so each
replica loads the model itself.

- ``POST /predict`` {features: [8 floats], id?} -> {prediction, probability, model_version,
  id? (the request's, echoed)}
- ``GET /health`` (process up), ``GET /ready`` (model loaded), ``GET /model-info``
- ``GET /metrics`` (Prometheus text, all replicas)
- ``GET|PUT|DELETE /admin/faults`` (admin bearer token)

Faults and the rate limit apply to ``/predict`` and ``/model-info`` only.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from starlette.routing import Route

from testbed.faults import FaultSpecError, FaultState, fault_state_from_json, write_fault_state
from testbed.serving.answer_faults import AnswerTamper
from testbed.serving.metrics import (
    INITIAL_STATUSES,
    METRICS_CONTENT_TYPE,
    PREDICTION_LATENCY,
    PREDICTIONS,
    render_metrics,
)
from testbed.serving.model import FEATURE_COUNT, MODEL_NAME, MODEL_VERSION
from testbed.serving.replica import Guarded, Refusal, Replica, apply_fragile
from testbed.serving.request_input import BadInput, parse_json_body, read_body, token_matches
from testbed.serving.settings import settings_from_env
from testbed.serving.worker import draining

FiniteFloat = Annotated[float, Field(allow_inf_nan=False)]
NOT_UTF8 = BadInput(400, "bad_request", "body is not UTF-8")


def _is_utf8(body: bytes) -> bool:
    try:
        body.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


class PredictRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    features: Annotated[
        list[FiniteFloat], Field(min_length=FEATURE_COUNT, max_length=FEATURE_COUNT)
    ]
    id: Annotated[str | None, Field(max_length=128)] = None  # echoed (KServe v2 style)


def _state_json(state: FaultState, replica: Replica) -> dict[str, Any]:
    return {
        **state.to_json(),
        "stall_until": state.stall_until() or None,
        "pod": replica.pod_name,
        "problem": replica.faults.problem or None,
    }


def create_app() -> FastAPI:
    replica = Replica(settings_from_env())
    tamper = AnswerTamper()
    pod_headers = {"X-Pod": replica.pod_name, "X-Pod-Pid": str(replica.pid)}

    @contextlib.asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        watcher = asyncio.create_task(replica.watch())
        try:
            yield
        finally:
            watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await watcher
            replica.close()

    app = FastAPI(
        title="testbed model serving",
        version=MODEL_VERSION,
        lifespan=lifespan,
        # FastAPI's native OpenTelemetry hooks cost a check per request; /metrics is the way.
        telemetry={"tracing": False, "metrics": False, "logs": False},
    )

    def answer(
        status: int, body: dict[str, Any], timing: tuple[float, Guarded] | None = None
    ) -> JSONResponse:
        headers = pod_headers if not draining() else {**pod_headers, "Connection": "close"}
        if timing is not None:  # Server-Timing: time held by faults, and in total
            started, guarded = timing
            total_ms = (time.perf_counter() - started) * 1000.0
            server_timing = f"fault;dur={guarded.hold_ms:.2f}, total;dur={total_ms:.2f}"
            headers = {**headers, "Server-Timing": server_timing}
        return JSONResponse(body, status_code=status, headers=headers)

    def refuse(refusal: Refusal, timing: tuple[float, Guarded] | None = None) -> JSONResponse:
        body = {"error": refusal.error, "detail": refusal.detail}
        return answer(refusal.status, body, timing)

    def bad_input(refusal: BadInput) -> JSONResponse:
        return answer(refusal.status, {"error": refusal.error, "detail": refusal.detail})

    def admin_refusal(request: Request) -> JSONResponse | None:
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not token:
            return JSONResponse(
                {"error": "unauthorized", "detail": "admin bearer token required"},
                status_code=401,
                headers={"WWW-Authenticate": "Bearer"},
            )
        if token_matches(token, replica.tokens["admin"]):
            return None
        if any(token_matches(token, replica.tokens[r]) for r in ("read", "write")):
            return JSONResponse(
                {"error": "forbidden", "detail": "this token may not change faults"},
                status_code=403,
            )
        return JSONResponse(
            {"error": "unauthorized", "detail": "unknown token"},
            status_code=401,
            headers={"WWW-Authenticate": "Bearer"},
        )

    @app.get("/health")
    async def health() -> JSONResponse:
        return answer(200, {"status": "ok", "pod": replica.pod_name})

    @app.get("/ready")
    async def ready() -> JSONResponse:
        if replica.model is None and not replica.claims_ready:
            return answer(503, {"status": "not ready", "reason": replica.load_error})
        return answer(200, {"status": "ready", "pod": replica.pod_name})

    @app.get("/model-info")
    async def model_info() -> JSONResponse:
        guarded = await replica.guard()
        await guarded.held_until_release()
        if guarded.refusal is not None:
            return refuse(guarded.refusal)
        return answer(
            200, {"name": MODEL_NAME, "version": replica.version, "features": FEATURE_COUNT}
        )

    counted: dict[tuple[str, int], Any] = {
        (replica.version, status): PREDICTIONS.labels(MODEL_NAME, replica.version, str(status))
        for status in INITIAL_STATUSES
    }
    # Series from the first scrape, like the counters (a labelled histogram has none until
    # its first .labels(): the dashboard's latency panels would be empty until traffic).
    latencies: dict[str, Any] = {
        replica.version: PREDICTION_LATENCY.labels(MODEL_NAME, replica.version)
    }

    def count(status: int, started: float) -> None:
        version = replica.version
        key = (version, status)
        if key not in counted:
            counted[key] = PREDICTIONS.labels(MODEL_NAME, version, str(status))
        counted[key].inc()
        if version not in latencies:
            latencies[version] = PREDICTION_LATENCY.labels(MODEL_NAME, version)
        latencies[version].observe(time.perf_counter() - started)

    # The hot path is a plain Starlette route (FastAPI's per-request dependency machinery cost
    # ~0.3 ms, a third of a replica's budget); the body is validated with pydantic-core
    # directly, answering the same 422 shape as FastAPI.
    async def predict(request: Request) -> JSONResponse:
        started = time.perf_counter()
        raw = await read_body(request)
        if isinstance(raw, BadInput) or not _is_utf8(raw):
            bad = raw if isinstance(raw, BadInput) else NOT_UTF8
            count(bad.status, started)
            return bad_input(bad)
        try:
            body = PredictRequest.model_validate_json(raw)
        except ValidationError as exc:
            errors = json.loads(exc.json(include_url=False, include_input=False))
            count(422, started)
            return answer(422, {"detail": errors})
        guarded = await replica.guard(started)
        timing = (started, guarded)
        model = replica.model
        if guarded.refusal is not None or model is None:
            refusal = guarded.refusal or Refusal(503, "not_ready", replica.load_error)
            response = refuse(refusal, timing)
        else:
            result = model.predict(body.features)
            await guarded.held_until_release()
            prediction: dict[str, Any] = {
                "prediction": result.prediction,
                "probability": result.probability,
                "model_version": model.version,
            }
            if body.id is not None:
                prediction["id"] = body.id
            prediction = tamper.apply(replica.faults.current(), prediction)
            response = answer(200, prediction, timing)
        count(response.status_code, started)
        return response

    app.router.routes.append(Route("/predict", predict, methods=["POST"]))

    @app.get("/metrics")
    async def metrics() -> Response:
        renamed = replica.faults.current().find("metric-renamed") is not None
        return Response(render_metrics(renamed), media_type=METRICS_CONTENT_TYPE)

    @app.get("/admin/faults")
    async def get_faults(request: Request) -> JSONResponse:
        refusal = admin_refusal(request)
        if refusal is not None:
            return refusal
        return answer(200, _state_json(replica.faults.current(), replica))

    @app.put("/admin/faults")
    async def put_faults(request: Request) -> JSONResponse:
        refusal = admin_refusal(request)
        if refusal is not None:
            return refusal
        raw = await read_body(request)
        data = raw if isinstance(raw, BadInput) else parse_json_body(raw)
        if isinstance(data, BadInput):
            return bad_input(data)
        if isinstance(data, dict):
            data = {k: v for k, v in data.items() if k != "set_at"}  # a PUT starts now
        try:
            state = fault_state_from_json(data, source="request body")
        except FaultSpecError as exc:
            return answer(422, {"error": "invalid_fault", "detail": str(exc)})
        return apply(state)

    @app.delete("/admin/faults")
    async def delete_faults(request: Request) -> JSONResponse:
        refusal = admin_refusal(request)
        if refusal is not None:
            return refusal
        return apply(FaultState(set_at=time.time()))

    def apply(state: FaultState) -> JSONResponse:
        write_fault_state(replica.settings.fault_state_path, state)
        apply_fragile(replica.settings, state)
        return answer(200, _state_json(replica.sync(), replica))

    return app
