"""Benchmark locustfile: a closed-model predict user paced by constant_throughput
(HARNESS_BENCH_PER_USER_RPS per user), for comparison with the open model."""

from __future__ import annotations

import os

from locust import FastHttpUser, constant_throughput, task

PER_USER_RPS = float(os.environ.get("HARNESS_BENCH_PER_USER_RPS", "10"))


class ClosedPredict(FastHttpUser):
    wait_time = constant_throughput(PER_USER_RPS)

    @task
    def predict(self) -> None:
        self.client.post("/predict", json={"features": [0.5] * 8}, name="/predict")
