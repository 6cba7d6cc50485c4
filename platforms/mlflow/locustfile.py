"""Load on MLflow's scoring server: ``POST /invocations`` in both input formats.

    locust -f platforms/mlflow/locustfile.py -H http://127.0.0.1:PORT

Every answer is checked: HTTP 200, ``{"predictions": [...]}`` with one prediction per row,
and each prediction the right class. The model (``train.py``) learnt
``x @ WEIGHTS > 0``; rows are drawn well away from that boundary, so a correct model
never misclassifies them and any wrong label is a wrong answer, not noise.
Headers configured for the service (``target.external.services.NAME.headers``) are sent.
"""

from __future__ import annotations

import random

from locust import FastHttpUser, constant_throughput, task

from harness.load.scenario_env import service_headers, service_url

WEIGHTS = (1.5, -2.0, 0.5, 1.0)
MARGIN = 2.0
ROWS = 4
SERVICE = "scoring"


def row() -> tuple[list[float], int]:
    """Features and their true class, at least MARGIN away from the decision boundary."""
    while True:
        features = [round(random.uniform(-3.0, 3.0), 3) for _ in WEIGHTS]
        score = sum(w * f for w, f in zip(WEIGHTS, features, strict=True))
        if abs(score) >= MARGIN:
            return features, int(score > 0)


def check(response, expected: list[int]) -> None:  # type: ignore[no-untyped-def]
    if response.status_code != 200:
        response.failure(f"HTTP {response.status_code}")
        return
    try:
        predictions = response.json()["predictions"]
        labels = [int(p) for p in predictions]
    except Exception:
        response.failure("answer is not {'predictions': [...]}")
        return
    if labels != expected:
        response.failure(f"wrong predictions: {labels} for expected {expected}")
    else:
        response.success()


class InvocationsUser(FastHttpUser):
    host = service_url(SERVICE)
    wait_time = constant_throughput(10)  # per user: bounded load, not a flood

    def on_start(self) -> None:
        self.headers = service_headers(SERVICE)

    @task
    def inputs(self) -> None:
        rows = [row() for _ in range(ROWS)]
        body = {"inputs": [features for features, _ in rows]}
        with self.client.post(
            "/invocations", json=body, headers=self.headers, name="inputs", catch_response=True
        ) as response:
            check(response, [label for _, label in rows])

    @task
    def dataframe_split(self) -> None:
        rows = [row() for _ in range(ROWS)]
        body = {
            "dataframe_split": {
                "columns": [f"f{i}" for i in range(len(WEIGHTS))],
                "data": [features for features, _ in rows],
            }
        }
        with self.client.post(
            "/invocations",
            json=body,
            headers=self.headers,
            name="dataframe_split",
            catch_response=True,
        ) as response:
            check(response, [label for _, label in rows])
