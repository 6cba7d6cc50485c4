"""Typed async client of MLflow's model registry REST API (``/api/2.0/mlflow/``), as a
deployment pipeline uses it: the Pact consumer ``harness-mlflow-client`` -> provider
``mlflow-registry`` (``contracts/test_mlflow_consumer.py`` writes the pact).

Exceptions::

    MlflowError           status, error_code and message of any non-success answer
    ├── NotFound          RESOURCE_DOES_NOT_EXIST (404)
    ├── AlreadyExists     RESOURCE_ALREADY_EXISTS (MLflow answers 400, not 409)
    └── ContractViolation an answer that does not have the agreed shape
"""

from __future__ import annotations

from collections.abc import Mapping
from types import TracebackType
from typing import Any, Literal, TypeVar

import httpx
from pydantic import BaseModel, ConfigDict, Field, ValidationError

API = "/api/2.0/mlflow"
_M = TypeVar("_M", bound=BaseModel)


class _Answer(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")


class ModelVersion(_Answer):
    name: str
    version: str  # MLflow sends versions as strings
    status: Literal["READY", "PENDING_REGISTRATION", "FAILED_REGISTRATION"]
    aliases: list[str] = Field(default_factory=list)


class RegisteredModel(_Answer):
    name: str
    creation_timestamp: int
    latest_versions: list[ModelVersion] = Field(default_factory=list)


class _RegisteredModelAnswer(_Answer):
    registered_model: RegisteredModel


class _RegisteredModels(_Answer):
    registered_models: list[RegisteredModel] = Field(default_factory=list)


class _ModelVersionAnswer(_Answer):
    model_version: ModelVersion


class _ModelVersions(_Answer):
    model_versions: list[ModelVersion] = Field(default_factory=list)


class MlflowError(Exception):
    def __init__(self, status: int, error_code: str, message: str) -> None:
        super().__init__(f"{status} {error_code}: {message}")
        self.status = status
        self.error_code = error_code
        self.message = message


class NotFound(MlflowError):
    pass


class AlreadyExists(MlflowError):
    pass


class ContractViolation(MlflowError):
    pass


class MlflowRegistryClient:
    """``async with MlflowRegistryClient(url) as registry: await registry.get_model("m")``."""

    def __init__(
        self, base_url: str, *, headers: Mapping[str, str] | None = None, timeout_s: float = 10.0
    ) -> None:
        self._client = httpx.AsyncClient(
            base_url=base_url.rstrip("/") + API, headers=dict(headers or {}), timeout=timeout_s
        )

    async def __aenter__(self) -> MlflowRegistryClient:
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self._client.aclose()

    async def get_model(self, name: str) -> RegisteredModel:
        answer = await self._call("GET", "/registered-models/get", params={"name": name})
        return _parse(_RegisteredModelAnswer, answer).registered_model

    async def create_model(self, name: str) -> RegisteredModel:
        answer = await self._call("POST", "/registered-models/create", json={"name": name})
        return _parse(_RegisteredModelAnswer, answer).registered_model

    async def search_models(self, name: str) -> list[RegisteredModel]:
        params = {"filter": f"name='{name}'"}
        answer = await self._call("GET", "/registered-models/search", params=params)
        return _parse(_RegisteredModels, answer).registered_models

    async def get_version(self, name: str, version: str) -> ModelVersion:
        params = {"name": name, "version": version}
        answer = await self._call("GET", "/model-versions/get", params=params)
        return _parse(_ModelVersionAnswer, answer).model_version

    async def search_versions(self, name: str) -> list[ModelVersion]:
        params = {"filter": f"name='{name}'"}
        answer = await self._call("GET", "/model-versions/search", params=params)
        return _parse(_ModelVersions, answer).model_versions

    async def set_alias(self, name: str, alias: str, version: str) -> None:
        body = {"name": name, "alias": alias, "version": version}
        await self._call("POST", "/registered-models/alias", json=body)

    async def get_version_by_alias(self, name: str, alias: str) -> ModelVersion:
        params = {"name": name, "alias": alias}
        answer = await self._call("GET", "/registered-models/alias", params=params)
        return _parse(_ModelVersionAnswer, answer).model_version

    async def _call(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str] | None = None,
        json: object | None = None,
    ) -> Any:
        response = await self._client.request(method, path, params=params, json=json)
        try:
            body = response.json()
        except ValueError:
            body = None
        if response.is_success:
            if body is None:
                raise ContractViolation(response.status_code, "", "answer is not JSON")
            return body
        code = str(body.get("error_code", "")) if isinstance(body, dict) else ""
        message = str(body.get("message", "")) if isinstance(body, dict) else response.text[:200]
        if code == "RESOURCE_DOES_NOT_EXIST":
            raise NotFound(response.status_code, code, message)
        if code == "RESOURCE_ALREADY_EXISTS":
            raise AlreadyExists(response.status_code, code, message)
        raise MlflowError(response.status_code, code, message)


def _parse(model: type[_M], body: Any) -> _M:
    try:
        return model.model_validate(body)
    except ValidationError as exc:
        raise ContractViolation(200, "", f"unexpected answer shape: {exc}") from None
