"""Open-model arrivals whose locustfile spends 40 ms checking each answer inside its
``catch_response`` block (tests/load/test_open_timing.py): that is the locustfile's
time, not the service's, and must not be in the request's latency."""

from __future__ import annotations

import gevent

from harness.load.arrival import ArrivalRateUser

CHECK_S = 0.04


class CheckedArrivals(ArrivalRateUser):
    rate = 40.0

    def arrival(self) -> None:
        with self.client.post(
            "/predict", json={"features": [0.1, 0.2]}, name="/predict", catch_response=True
        ) as response:
            gevent.sleep(CHECK_S)  # a slow check of the answer
            response.success()
