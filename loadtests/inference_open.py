"""Open-model inference: predictions arrive at a fixed rate whatever the latency.

    HARNESS_ARRIVAL_RATE=200 locust -f loadtests/inference_open.py -H URL -u 2 -t 30s
(the harness sets HARNESS_ARRIVAL_* from the step's arrival_rate). Latency is
measured from each arrival's intended start by the harness plugin.
"""

from __future__ import annotations

from inference import PAYLOADS, check_prediction

from harness.load.arrival import ArrivalRateUser
from harness.load.scenario_env import service_url


class PredictArrivals(ArrivalRateUser):
    host = service_url("serving")
    rate = 50.0

    def arrival(self) -> None:
        with self.client.post(
            "/predict", json={"features": PAYLOADS.row()}, name="/predict", catch_response=True
        ) as response:
            check_prediction(response)
