"""Pipelines run concurrently: each user submits one to the orchestrator, polls it
until it is done, and repeats (run with -u 50 for 50 concurrent pipelines).

    locust -f loadtests/pipeline_execution.py -H http://127.0.0.1:8002 -u 50
Besides the HTTP requests, every finished pipeline is reported as a custom request
entry "PIPELINE run": its response time is the pipeline's duration (submit to
done) and it fails unless the pipeline succeeded. The harness turns these into
``completion_rate`` and ``pipeline_p50/p95/p99`` (seconds).
HARNESS_PIPELINE_POLL_S (default 0.5) and HARNESS_PIPELINE_TIMEOUT_S (default 120).
"""

from __future__ import annotations

import os
import time
import uuid

from locust import FastHttpUser, constant, task

from harness.load.scenario_env import service_url

POLL_S = float(os.environ.get("HARNESS_PIPELINE_POLL_S", "0.5"))
TIMEOUT_S = float(os.environ.get("HARNESS_PIPELINE_TIMEOUT_S", "120"))


class PipelineUser(FastHttpUser):
    host = service_url("orchestrator")
    wait_time = constant(0)

    @task
    def run_pipeline(self) -> None:
        started = time.perf_counter()
        body = {"version": f"load-{uuid.uuid4().hex[:12]}", "samples": 200}
        with self.client.post(
            "/pipelines", json=body, name="/pipelines", catch_response=True
        ) as response:
            try:
                run_id = str(response.json()["run_id"])
                ok = response.status_code == 202
            except Exception:
                run_id, ok = "", False
            if not ok:
                response.failure(f"submit: HTTP {response.status_code} without run_id")
                self._report(started, "not accepted")
                return
        outcome = self._poll(run_id, started)
        self._report(started, None if outcome == "succeeded" else outcome)

    def _poll(self, run_id: str, started: float) -> str:
        while time.perf_counter() - started < TIMEOUT_S:
            time.sleep(POLL_S)
            with self.client.get(
                f"/pipelines/{run_id}", name="/pipelines/[run_id]", catch_response=True
            ) as response:
                try:
                    status = str(response.json()["status"])
                except Exception:
                    response.failure(f"poll: HTTP {response.status_code} without status")
                    continue
                response.success()
            if status in ("succeeded", "failed"):
                return status
        return f"not done within {TIMEOUT_S:g} s"

    def _report(self, started: float, failure: str | None) -> None:
        self.environment.events.request.fire(
            request_type="PIPELINE",
            name="run",
            response_time=(time.perf_counter() - started) * 1000.0,
            response_length=0,
            exception=RuntimeError(f"pipeline {failure}") if failure else None,
            context={},
        )
