"""The serving API against a real gunicorn deployment with two replicas."""

from __future__ import annotations

import asyncio
import re

import httpx

from testbed.serving.deployment import ServingDeployment
from testbed.serving.model import FEATURE_COUNT, MODEL_NAME, MODEL_VERSION

FEATURES = [0.5, -1.2, 0.3, 2.0, -0.7, 0.0, 1.1, -0.4]


async def test_predict_answers_a_deterministic_prediction(
    shared_serving: ServingDeployment,
) -> None:
    async with asyncio.timeout(20), httpx.AsyncClient(base_url=shared_serving.url) as client:
        answers = [
            (await client.post("/predict", json={"features": FEATURES})).json() for _ in range(6)
        ]
    first = answers[0]
    assert set(first) == {"prediction", "probability", "model_version"}
    assert first["prediction"] in (0, 1)
    assert 0.5 <= first["probability"] <= 1.0
    assert first["model_version"] == MODEL_VERSION
    assert all(a == first for a in answers)  # same model in every replica


async def test_bad_input_is_a_json_422(shared_serving: ServingDeployment) -> None:
    bad_bodies = [
        {"features": FEATURES[:-1]},
        {"features": [*FEATURES, 1.0]},
        {"features": ["a"] * FEATURE_COUNT},
        {"feature": FEATURES},
        {},
    ]
    async with asyncio.timeout(20), httpx.AsyncClient(base_url=shared_serving.url) as client:
        for body in bad_bodies:
            response = await client.post("/predict", json=body)
            assert response.status_code == 422, body
            assert "detail" in response.json()
        response = await client.post(
            "/predict", content=b"{broken", headers={"content-type": "application/json"}
        )
        assert response.status_code == 422
        assert response.headers["content-type"].startswith("application/json")


async def test_health_ready_and_model_info(shared_serving: ServingDeployment) -> None:
    async with asyncio.timeout(20), httpx.AsyncClient(base_url=shared_serving.url) as client:
        assert (await client.get("/health")).json()["status"] == "ok"
        ready = await client.get("/ready")
        assert ready.status_code == 200
        assert re.fullmatch(r"model-serving-\d+", ready.headers["x-pod"])
        info = (await client.get("/model-info")).json()
    assert info == {"name": MODEL_NAME, "version": MODEL_VERSION, "features": FEATURE_COUNT}


def _sample(text: str, name: str, **labels: str) -> float:
    for line in text.splitlines():
        if line.startswith(name + "{") and all(f'{k}="{v}"' in line for k, v in labels.items()):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


async def test_metrics_aggregate_all_replicas(shared_serving: ServingDeployment) -> None:
    # A new connection per request: the replicas share one listening socket, and one worker
    # can accept a whole burst of connections, which keep-alive would then pin to it.
    fresh = httpx.Limits(max_keepalive_connections=0)
    async with (
        asyncio.timeout(30),
        httpx.AsyncClient(base_url=shared_serving.url, limits=fresh) as client,
    ):
        before = (await client.get("/metrics")).text
        pods: set[str] = set()
        sends = 0
        # Until both replicas answered (each keeps its own counter file), at most 400 requests.
        while len(pods) < 2 and sends < 400:
            batch = await asyncio.gather(
                *(client.post("/predict", json={"features": FEATURES}) for _ in range(4))
            )
            sends += len(batch)
            pods.update(r.headers["x-pod"] for r in batch if r.status_code == 200)
        after = (await client.get("/metrics")).text
    assert len(pods) == 2, "requests never reached both replicas"
    labels = {"model": MODEL_NAME, "version": MODEL_VERSION, "status": "200"}
    counted = _sample(after, "ml_predictions_total", **labels) - _sample(
        before, "ml_predictions_total", **labels
    )
    assert counted == sends  # every replica's predictions, whichever replica answered /metrics
    histogram_count = _sample(after, "ml_prediction_latency_seconds_count") - _sample(
        before, "ml_prediction_latency_seconds_count"
    )
    assert histogram_count == sends
    assert "# TYPE ml_prediction_latency_seconds histogram" in after


async def test_admin_needs_the_admin_token(
    shared_serving: ServingDeployment, admin_headers: dict[str, str], read_headers: dict[str, str]
) -> None:
    async with asyncio.timeout(20), httpx.AsyncClient(base_url=shared_serving.url) as client:
        assert (await client.get("/admin/faults")).status_code == 401
        wrong = {"Authorization": "Bearer not-a-token"}
        assert (await client.put("/admin/faults", json={}, headers=wrong)).status_code == 401
        assert (await client.delete("/admin/faults", headers=read_headers)).status_code == 403
        ok = await client.get("/admin/faults", headers=admin_headers)
        assert ok.status_code == 200
        assert ok.json()["faults"] == []
        bad = await client.put(
            "/admin/faults", json={"faults": ["latency:dist=zipf"]},
            headers=admin_headers,
        )  # fmt: skip
        assert bad.status_code == 422
        assert "unknown latency dist 'zipf'" in bad.json()["detail"]
