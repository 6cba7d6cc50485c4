"""Users for the counting tests: a closed-model user and an open-model arrival,
each one GET per request against tests/load/counting_server.py."""

from __future__ import annotations

from locust import FastHttpUser, constant, task

from harness.load.arrival import ArrivalRateUser


class CountedUser(FastHttpUser):
    wait_time = constant(0.02)

    @task
    def get(self) -> None:
        self.client.get("/counted")


class CountedArrivals(ArrivalRateUser):
    rate = 100.0

    def arrival(self) -> None:
        self.client.get("/counted")
