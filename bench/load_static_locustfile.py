"""Benchmark locustfile: as many GETs as one user can make (overhead benchmark)."""

from __future__ import annotations

from locust import FastHttpUser, constant, task


class StaticUser(FastHttpUser):
    wait_time = constant(0)

    @task
    def static(self) -> None:
        self.client.get("/static", name="/static")
