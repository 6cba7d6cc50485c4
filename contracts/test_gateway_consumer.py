"""Consumer "inference-gateway" -> provider "model-serving", through the typed
``contracts.gateway_client.GatewayClient``. Serving needs no token for these calls."""

from __future__ import annotations

import asyncio

from pact import Pact, match

from contracts.conftest import mock_provider
from contracts.gateway_client import GatewayClient

FEATURES = [0.5, 1.0, -0.25, 3.0, 0.0, 2.5, -1.0, 0.75]


async def test_predict(serving_pact: Pact) -> None:
    (
        serving_pact.upon_receiving("a prediction request")
        .with_request("POST", "/predict")
        .with_body({"features": FEATURES}, content_type="application/json")
        .will_respond_with(200)
        .with_body(
            {
                "prediction": match.int(1),
                "probability": match.decimal(0.87),
                "model_version": match.str("1.0.0"),
            }
        )
    )
    async with asyncio.timeout(10):
        with mock_provider(serving_pact) as url:
            async with GatewayClient(url) as serving:
                result = await serving.predict(FEATURES)
    assert result.prediction == 1
    assert 0.0 <= result.probability <= 1.0


async def test_model_info(serving_pact: Pact) -> None:
    (
        serving_pact.upon_receiving("a request for the model info")
        .with_request("GET", "/model-info")
        .will_respond_with(200)
        .with_body(
            {"name": match.str("churn-classifier"), "version": match.str("1.0.0"), "features": 8}
        )
    )
    async with asyncio.timeout(10):
        with mock_provider(serving_pact) as url:
            async with GatewayClient(url) as serving:
                info = await serving.model_info()
    assert info.features == 8


async def test_health(serving_pact: Pact) -> None:
    (
        serving_pact.upon_receiving("a health check")
        .with_request("GET", "/health")
        .will_respond_with(200)
        .with_body({"status": "ok"})
    )
    async with asyncio.timeout(10):
        with mock_provider(serving_pact) as url:
            async with GatewayClient(url) as serving:
                health = await serving.health()
    assert health.status == "ok"
