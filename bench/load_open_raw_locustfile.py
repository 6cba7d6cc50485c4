"""Benchmark locustfile: open-model arrivals (one POST /predict each) plus a recorder
writing every raw response time Locust measured (send to answer, ms) to
HARNESS_BENCH_RAW_DIR/raw-<pid>.txt, for bench/load_open_accuracy.py."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from locust import events

from harness.load.arrival import ArrivalRateUser

_out: Any = None


class PredictArrivals(ArrivalRateUser):
    rate = 100.0

    def arrival(self) -> None:
        self.client.post("/predict", json={"features": [0.1, 0.2, 0.3, 0.4]}, name="/predict")


def _record(response_time: float, request_type: str, **_: Any) -> None:
    global _out
    if _out is None:
        raw_dir = os.environ.get("HARNESS_BENCH_RAW_DIR")
        if not raw_dir:
            return
        _out = open(Path(raw_dir) / f"raw-{os.getpid()}.txt", "a")  # noqa: SIM115
    _out.write(f"{request_type} {response_time!r}\n")


def _close(**_: Any) -> None:
    if _out is not None:
        _out.flush()


events.request.add_listener(_record)
events.test_stop.add_listener(_close)
events.quitting.add_listener(_close)
