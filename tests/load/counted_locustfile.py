"""Users for the counting and closing tests: closed-model users and an open-model arrival,
each one GET per request against tests/load/counting_server.py."""

from __future__ import annotations

from locust import FastHttpUser, HttpUser, constant, task

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


class CountedCheckedUser(HttpUser):
    """Closed model on requests' HttpSession, each answer checked in a catch_response
    block: the request is in flight until the block ends and Locust reports it."""

    wait_time = constant(0)

    @task
    def get(self) -> None:
        with self.client.get("/counted", catch_response=True) as response:
            if response.status_code != 200:
                response.failure(f"HTTP {response.status_code}")
