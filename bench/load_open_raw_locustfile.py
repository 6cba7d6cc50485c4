"""Benchmark locustfile: open-model arrivals (one POST /predict each) plus the raw
response-time recorder (bench/raw_recorder.py: send to answer, ms), for
bench/load_open_accuracy.py."""

from __future__ import annotations

import sys
from pathlib import Path

from harness.load.arrival import ArrivalRateUser

sys.path.insert(0, str(Path(__file__).resolve().parent))
from raw_recorder import record_raw_response_times


class PredictArrivals(ArrivalRateUser):
    rate = 100.0

    def arrival(self) -> None:
        self.client.post("/predict", json={"features": [0.1, 0.2, 0.3, 0.4]}, name="/predict")


record_raw_response_times()
