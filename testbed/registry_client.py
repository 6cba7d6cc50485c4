"""Typed async client of the model registry: the code the Pact consumer tests cover, and
the only way the pipeline orchestrator talks to the registry.

Exceptions::

    RegistryError                 status, code, message of any non-success answer
    ├── Unauthorized              401  no token
    ├── Forbidden                 403  unknown token, or its scope is too small
    ├── ModelNotFound             404
    ├── Conflict                  409  e.g. rollback with no previous production version
    │   └── DuplicateModel        409  (name, version) already registered
    ├── InvalidRequest            400 / 422
    ├── RegistryUnavailable       503  the registry cannot reach its database
    ├── RegistryUnreachable       no HTTP answer at all (refused, timed out)
    └── ContractViolation         an answer that breaks the API contract (renamed or retyped
                                  field, value outside an enum, unexpected status)
"""

from __future__ import annotations

import json
from datetime import datetime
from types import TracebackType
from typing import Any, Literal, NoReturn
from urllib.parse import quote

import httpx
from pydantic import BaseModel, ConfigDict, Field, ValidationError

__all__ = [
    "Conflict",
    "ContractViolation",
    "DuplicateModel",
    "Forbidden",
    "InvalidRequest",
    "Model",
    "ModelNotFound",
    "ModelSpec",
    "RegistryClient",
    "RegistryError",
    "RegistryUnavailable",
    "RegistryUnreachable",
    "Unauthorized",
]


class ModelSpec(BaseModel):
    """What to register. ``tags`` map a string to a string: ``{"team": "search"}``."""

    model_config = ConfigDict(frozen=True)

    name: str
    version: str
    framework: str
    metrics: dict[str, float] = Field(default_factory=dict)
    tags: dict[str, str] = Field(default_factory=dict)


class Model(BaseModel):
    """A registered model version, as the registry answers it (validated strictly)."""

    model_config = ConfigDict(frozen=True, strict=True)

    model_id: int
    name: str
    version: str
    status: Literal["active", "retired"]
    stage: Literal["none", "staging", "production", "archived"]
    framework: str
    metrics: dict[str, float]
    tags: dict[str, str]
    created_at: datetime


class _Versions(BaseModel):
    model_config = ConfigDict(strict=True)

    versions: list[Model]


class RegistryError(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(f"{status} {code}: {message}" if status else f"{code}: {message}")
        self.status = status
        self.code = code
        self.message = message


class Unauthorized(RegistryError):
    pass


class Forbidden(RegistryError):
    pass


class ModelNotFound(RegistryError):
    pass


class Conflict(RegistryError):
    pass


class DuplicateModel(Conflict):
    pass


class InvalidRequest(RegistryError):
    pass


class RegistryUnavailable(RegistryError):
    pass


class RegistryUnreachable(RegistryError):
    pass


class ContractViolation(RegistryError):
    pass


_BY_STATUS: dict[int, type[RegistryError]] = {
    400: InvalidRequest,
    401: Unauthorized,
    403: Forbidden,
    404: ModelNotFound,
    409: Conflict,
    422: InvalidRequest,
    503: RegistryUnavailable,
}


def _raise_for_error(response: httpx.Response) -> NoReturn:
    code = "http_error"
    message = response.reason_phrase or "error"
    try:
        body: Any = response.json()
        detail = body["error"]
        code = str(detail["code"])
        message = str(detail["message"])
    except (ValueError, KeyError, TypeError):
        raise ContractViolation(
            response.status_code,
            "unexpected_error_body",
            f"error answer is not {{'error': {{'code', 'message'}}}}: {response.text[:200]!r}",
        ) from None
    if response.status_code == 409 and code == "duplicate_model":
        raise DuplicateModel(409, code, message)
    error_type = _BY_STATUS.get(response.status_code, RegistryError)
    raise error_type(response.status_code, code, message)


def _check_status(response: httpx.Response, expected: int) -> None:
    if response.status_code == expected:
        return
    if response.status_code >= 400:
        _raise_for_error(response)
    raise ContractViolation(
        response.status_code,
        "unexpected_status",
        f"{response.request.method} {response.request.url.path} answered "
        f"{response.status_code}, the contract says {expected}",
    )


def _parse_model(response: httpx.Response) -> Model:
    try:
        return Model.model_validate_json(response.content)
    except ValidationError as exc:
        raise ContractViolation(response.status_code, "invalid_model_body", _describe(exc)) from exc


def _describe(exc: ValidationError) -> str:
    problems = [
        f"{'.'.join(str(p) for p in err['loc']) or 'body'}: {err['msg']}" for err in exc.errors()
    ]
    return "; ".join(problems[:5]) + (f" (+{len(problems) - 5} more)" if len(problems) > 5 else "")


class RegistryClient:
    """``async with RegistryClient(url, token) as client: await client.get_model(1)``."""

    def __init__(
        self,
        base_url: str,
        token: str | None,
        *,
        timeout_s: float = 5.0,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        headers = {"Accept": "application/json"}
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        self._http = httpx.AsyncClient(
            base_url=base_url.rstrip("/"),
            headers=headers,
            timeout=timeout_s,
            transport=transport,
        )

    async def __aenter__(self) -> RegistryClient:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()

    async def _request(
        self, method: str, path: str, body: dict[str, Any] | None = None
    ) -> httpx.Response:
        try:
            if body is None:
                return await self._http.request(method, path)
            try:
                content = json.dumps(body, allow_nan=False).encode()
            except ValueError as exc:  # NaN or infinity in metrics: not JSON
                raise InvalidRequest(0, "invalid_spec", f"{method} {path}: {exc}") from None
            return await self._http.request(
                method, path, content=content, headers={"Content-Type": "application/json"}
            )
        except httpx.TransportError as exc:
            raise RegistryUnreachable(
                0, "unreachable", f"{method} {path}: {type(exc).__name__}: {exc}"
            ) from exc

    async def register_model(self, spec: ModelSpec) -> Model:
        response = await self._request("POST", "/models/register", spec.model_dump(mode="json"))
        _check_status(response, 201)
        return _parse_model(response)

    async def get_model(self, model_id: int | str) -> Model:
        """``model_id`` may be a string so that a malformed id can be sent on purpose."""
        response = await self._request("GET", f"/models/{_path_segment(model_id)}")
        _check_status(response, 200)
        return _parse_model(response)

    async def list_versions(self, model_id: int) -> list[Model]:
        response = await self._request("GET", f"/models/{_path_segment(model_id)}/versions")
        _check_status(response, 200)
        try:
            return _Versions.model_validate_json(response.content).versions
        except ValidationError as exc:
            raise ContractViolation(200, "invalid_versions_body", _describe(exc)) from exc

    async def transition(self, model_id: int, stage: str) -> Model:
        response = await self._request(
            "POST", f"/models/{_path_segment(model_id)}/transition", {"stage": stage}
        )
        _check_status(response, 200)
        return _parse_model(response)

    async def rollback(self, name: str) -> Model:
        response = await self._request("POST", f"/models/{_path_segment(name)}/rollback")
        _check_status(response, 200)
        return _parse_model(response)

    async def delete_model(self, model_id: int) -> None:
        response = await self._request("DELETE", f"/models/{_path_segment(model_id)}")
        _check_status(response, 204)

    async def check_ready(self) -> None:
        """Return when the registry and its database answer; else raise a RegistryError."""
        response = await self._request("GET", "/ready")
        _check_status(response, 200)


def _path_segment(value: int | str) -> str:
    # Quote everything, "/" included, so a hostile string stays inside one path segment.
    return quote(str(value), safe="")
