"""Load on MLflow's scoring server: ``POST /invocations`` in both input formats.

    locust -f platforms/mlflow/locustfile.py -H http://127.0.0.1:PORT

Every answer is checked: HTTP 200 and ``{"predictions": [...]}`` (else a failure), and
each prediction the right class (else a wrong answer: ``wrong_answer_rate``, through
``harness.load.ml``). The model (``train.py``) learnt ``x @ WEIGHTS > 0``; rows are drawn
well away from that boundary, so a correct model never misclassifies them and any wrong
label is a wrong answer, not noise. Batches are sized like production traffic (mostly
single rows, some of 4 and 16: ``BATCH_SIZES``). Headers configured for the service
(``target.external.services.NAME.headers``) are sent.
"""

from __future__ import annotations

import random

from locust import FastHttpUser, constant_throughput, task

from harness.load import ml
from harness.load.payloads import BatchSizes
from harness.load.scenario_env import service_headers, service_url

WEIGHTS = (1.5, -2.0, 0.5, 1.0)
MARGIN = 2.0
BATCH_SIZES = BatchSizes.parse({1: 0.6, 4: 0.3, 16: 0.1}, "BATCH_SIZES")
SERVICE = "scoring"


def batch_size() -> int:
    return random.choices(BATCH_SIZES.sizes, BATCH_SIZES.weights)[0]


def row() -> tuple[list[float], int]:
    """Features and their true class, at least MARGIN away from the decision boundary."""
    while True:
        features = [round(random.uniform(-3.0, 3.0), 3) for _ in WEIGHTS]
        score = sum(w * f for w, f in zip(WEIGHTS, features, strict=True))
        if abs(score) >= MARGIN:
            return features, int(score > 0)


def check(response, draw: ml.Draw) -> None:  # type: ignore[no-untyped-def]
    if response.status_code != 200:
        response.failure(f"HTTP {response.status_code}")
        return
    try:
        body = response.json()
        labels = [int(p) for p in body["predictions"]]
    except Exception:
        response.failure("answer is not {'predictions': [...]}")
        return
    ml.check(response, draw, {"predictions": labels})  # wrong labels: wrong_answer_rate
    response.success()


class InvocationsUser(FastHttpUser):
    host = service_url(SERVICE)
    wait_time = constant_throughput(10)  # per user: bounded load, not a flood

    def on_start(self) -> None:
        self.headers = service_headers(SERVICE)

    @task
    def inputs(self) -> None:
        rows = [row() for _ in range(batch_size())]
        draw = ml.expect(
            {"inputs": [features for features, _ in rows]},
            {"predictions": [label for _, label in rows]},
        )
        with self.client.post(
            "/invocations", json=draw.body, headers=self.headers, name="inputs",
            catch_response=True,
        ) as response:
            check(response, draw)

    @task
    def dataframe_split(self) -> None:
        rows = [row() for _ in range(batch_size())]
        body = {
            "dataframe_split": {
                "columns": [f"f{i}" for i in range(len(WEIGHTS))],
                "data": [features for features, _ in rows],
            }
        }
        draw = ml.expect(body, {"predictions": [label for _, label in rows]})
        with self.client.post(
            "/invocations",
            json=body,
            headers=self.headers,
            name="dataframe_split",
            catch_response=True,
        ) as response:
            check(response, draw)
