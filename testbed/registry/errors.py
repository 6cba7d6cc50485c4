"""Every error the registry answers is JSON: {"error": {"code", "message", "field"?}}."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

import sqlalchemy as sa
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from testbed.registry.faults import BAD_ID_500
from testbed.registry.schemas import ErrorBody

log = logging.getLogger("testbed.registry")

_HTTP_CODES = {
    400: "invalid_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "invalid_body",
    503: "database_unavailable",
}


class ApiError(Exception):
    """An answer other than success, raised from a route and rendered by the handler."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        *,
        field: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.field = field
        self.headers = dict(headers or {})


def error_response(
    status: int,
    code: str,
    message: str,
    *,
    field: str | None = None,
    headers: Mapping[str, str] | None = None,
) -> JSONResponse:
    detail: dict[str, Any] = {"code": code, "message": message}
    if field is not None:
        detail["field"] = field
    return JSONResponse({"error": detail}, status_code=status, headers=dict(headers or {}))


def error_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses=`` entries describing the JSON error body for each status."""
    return {
        status: {"model": ErrorBody, "description": _HTTP_CODES.get(status, "error")}
        for status in statuses
    }


def _field_of(loc: Sequence[Any]) -> str:
    parts = [str(part) for part in loc[1:]]
    return ".".join(parts) if parts else str(loc[0]) if loc else ""


def _on_validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = list(exc.errors())
    first = errors[0] if errors else {"loc": ("body",), "msg": "invalid request", "type": ""}
    loc = tuple(first.get("loc", ()))
    field = _field_of(loc)
    message = str(first.get("msg", "invalid request"))
    if first.get("type") == "json_invalid":
        return error_response(400, "invalid_json", f"the body is not valid JSON: {message}")
    if loc and loc[0] == "path":
        faults = getattr(request.app.state, "faults", None)
        if faults is not None and faults.is_on(BAD_ID_500):  # the fault: a crash, not a 400
            return error_response(500, "internal", "internal error (ValueError)")
        return error_response(400, "invalid_path", f"invalid {field}: {message}", field=field)
    if loc and loc[0] in ("query", "header"):
        return error_response(400, "invalid_request", f"invalid {field}: {message}", field=field)
    more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
    where = f"{field}: " if field else ""
    return error_response(422, "invalid_body", f"{where}{message}{more}", field=field or None)


def _on_api_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ApiError)
    return error_response(exc.status, exc.code, exc.message, field=exc.field, headers=exc.headers)


def _allowed_methods(request: Request) -> str:
    """Every documented method on this path (Starlette names only the matched route's).

    A literal path (/models/register) shadows the templates it also matches (/models/{id})."""
    matching = [
        route
        for route in request.app.routes
        if getattr(route, "include_in_schema", False)
        and getattr(route, "path_regex", None) is not None
        and route.path_regex.match(request.url.path)
    ]
    literal = [route for route in matching if "{" not in route.path]
    methods: set[str] = set()
    for route in literal or matching:
        methods |= set(getattr(route, "methods", None) or ())
    methods.discard("HEAD")
    return ", ".join(sorted(methods))


def _on_http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    code = _HTTP_CODES.get(exc.status_code, "error")
    message = exc.detail if isinstance(exc.detail, str) else code.replace("_", " ")
    headers = dict(exc.headers or {})
    if exc.status_code == 400 and "parsing the body" in message:
        code = "invalid_json"
    if exc.status_code == 405:
        headers["Allow"] = _allowed_methods(request)
        message = f"method {request.method} not allowed here; allowed: {headers['Allow']}"
    return error_response(exc.status_code, code, message, headers=headers)


def _on_database_unavailable(request: Request, exc: Exception) -> JSONResponse:
    log.warning("database unavailable: %s", str(exc).splitlines()[0] if str(exc) else exc)
    return error_response(
        503,
        "database_unavailable",
        "the registry cannot reach its database; retry later",
        headers={"Retry-After": "1"},
    )


def _on_unexpected(request: Request, exc: Exception) -> JSONResponse:
    log.exception("unexpected error on %s %s", request.method, request.url.path)
    return error_response(500, "internal", f"internal error ({type(exc).__name__})")


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(ApiError, _on_api_error)
    app.add_exception_handler(RequestValidationError, _on_validation_error)
    app.add_exception_handler(StarletteHTTPException, _on_http_error)
    for db_error in (sa.exc.OperationalError, sa.exc.InterfaceError, sa.exc.TimeoutError):
        app.add_exception_handler(db_error, _on_database_unavailable)
    app.add_exception_handler(Exception, _on_unexpected)
