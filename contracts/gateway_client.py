"""Typed async client of model serving, as the inference gateway uses it (the Pact
consumer ``inference-gateway`` -> provider ``model-serving``).

Exceptions::

    GatewayError          status and body of any non-success answer
    └── ContractViolation an answer that does not have the agreed shape
"""

from __future__ import annotations

from collections.abc import Sequence
from types import TracebackType
from typing import Literal, TypeVar

import httpx
from pydantic import BaseModel, ConfigDict, ValidationError

FEATURE_COUNT = 8
_M = TypeVar("_M", bound="BaseModel")


class Prediction(BaseModel):
    model_config = ConfigDict(frozen=True, strict=True)

    prediction: int
    probability: float
    model_version: str


class ModelInfo(BaseModel):
    model_config = ConfigDict(frozen=True, strict=True)

    name: str
    version: str
    features: int


class Health(BaseModel):
    model_config = ConfigDict(frozen=True, strict=True, extra="ignore")

    status: Literal["ok"]


class GatewayError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(f"{status}: {message}")
        self.status = status
        self.message = message


class ContractViolation(GatewayError):
    pass


class GatewayClient:
    """``async with GatewayClient(url) as serving: await serving.predict([...])``."""

    def __init__(
        self,
        base_url: str,
        *,
        timeout_s: float = 5.0,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self._http = httpx.AsyncClient(
            base_url=base_url.rstrip("/"),
            headers={"Accept": "application/json"},
            timeout=timeout_s,
            transport=transport,
        )

    async def __aenter__(self) -> GatewayClient:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self._http.aclose()

    async def predict(self, features: Sequence[float]) -> Prediction:
        if len(features) != FEATURE_COUNT:
            raise ValueError(f"expected {FEATURE_COUNT} features, got {len(features)}")
        response = await self._http.post("/predict", json={"features": list(features)})
        return _parse(response, Prediction)

    async def model_info(self) -> ModelInfo:
        return _parse(await self._http.get("/model-info"), ModelInfo)

    async def health(self) -> Health:
        return _parse(await self._http.get("/health"), Health)


def _parse(response: httpx.Response, model: type[_M]) -> _M:
    if response.status_code != 200:
        raise GatewayError(response.status_code, response.text[:200])
    try:
        return model.model_validate_json(response.content)
    except ValidationError as exc:
        raise ContractViolation(response.status_code, str(exc.errors()[:3])) from exc
