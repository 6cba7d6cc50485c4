"""The platform's user: predictions (3 of 4 requests) and model-info lookups.

    locust -f loadtests/inference.py -H http://127.0.0.1:8000
Think time 1-3 s (HARNESS_THINK_TIME_S="0" for none). A 200 whose body is not a
valid answer is a failure.

Right answers: a share of the predictions (HARNESS_GOLDEN_SHARE, default 0.2) sends an
input of the testbed model's golden set (written beside the model when it is trained,
found through TESTBED_MANIFEST, or HARNESS_GOLDEN_SET) and checks the answer; every
request carries an ``id`` the answer must echo (cross-over). See harness.load.ml.

Payloads like production: the other predictions send feature rows drawn from
``loadtests/data/churn-features.csv`` (HARNESS_PAYLOAD_FILE: another CSV or Parquet file
with columns f0..f7). See harness.load.payloads.
"""

from __future__ import annotations

import os
from pathlib import Path

from locust import FastHttpUser, between, task

from harness.load import ml
from harness.load.payloads import Payloads
from harness.load.scenario_env import service_url, think_time_s

FEATURES = 8
COLUMNS = [f"f{i}" for i in range(FEATURES)]
DATA_FILE = Path(__file__).parent / "data" / "churn-features.csv"


def payloads() -> Payloads:
    """The data file; a remote worker (locust -f - --worker) gets this file without its
    data directory: then per-feature distributions close to the training data."""
    named = os.environ.get("HARNESS_PAYLOAD_FILE", "").strip()
    if named or DATA_FILE.exists():
        return Payloads.from_file(named or DATA_FILE, columns=COLUMNS)
    return Payloads.from_distributions({c: {"normal": [0.0, 1.5], "round": 4} for c in COLUMNS})


PAYLOADS = payloads()


INPUTS = ml.Inputs(
    lambda: {"features": PAYLOADS.row()}, ml.golden_set_from_env(), golden_share=0.2, echo="id"
)


class InferenceUser(FastHttpUser):
    host = service_url("serving")
    wait_time = between(*think_time_s((1.0, 3.0)))

    @task(3)
    def predict(self) -> None:
        draw = INPUTS.draw()
        with self.client.post(
            "/predict", json=draw.body, name="/predict", catch_response=True
        ) as response:
            check_prediction(response, draw)

    @task(1)
    def model_info(self) -> None:
        with self.client.get("/model-info", name="/model-info", catch_response=True) as response:
            if not response.status_code:
                return  # no answer at all: the transport error (reset, timeout) is the reason
            try:
                body = response.json()
                ok = response.status_code == 200 and {"name", "version"} <= set(body)
            except Exception:
                ok = False
            if ok:
                response.success()
            else:
                response.failure(f"bad /model-info answer: {response.status_code}")


def check_prediction(  # type: ignore[no-untyped-def]
    response, draw: ml.Draw | None = None
) -> None:
    if not response.status_code:
        return  # no answer at all: the transport error (reset, timeout) is the reason
    if response.status_code != 200:
        response.failure(f"HTTP {response.status_code}")
        return
    try:
        body = response.json()
        ok = {"prediction", "probability", "model_version"} <= set(body)
        probability = float(body["probability"])
        ok = ok and 0.0 <= probability <= 1.0
    except Exception:
        ok = False
    if ok:
        if draw is not None:  # right answer, its own request's, its model version
            ml.check(response, draw, body)
        else:
            ml.report(response, ml.version_of(body))
        response.success()
    else:
        response.failure("200 with a body that is not a prediction")
