"""Benchmark locustfile: as many GETs as one user can make (overhead benchmark).

With HARNESS_BENCH_CPU_DIR set, every locust process (master, workers) writes the CPU
seconds it used between test start and test stop to cpu-<pid>.json there: the cost of
the run itself, without the imports at start-up (the harness arm imports more)."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from locust import FastHttpUser, constant, events, task

_started: dict[str, float] = {}


class StaticUser(FastHttpUser):
    wait_time = constant(0)

    @task
    def static(self) -> None:
        self.client.get("/static", name="/static")


def _cpu_s() -> float:
    times = os.times()
    return times.user + times.system


@events.test_start.add_listener
def _test_start(**_: Any) -> None:
    _started.setdefault("cpu_s", _cpu_s())


@events.test_stop.add_listener
def _test_stop(environment: Any, **_: Any) -> None:
    out = os.environ.get("HARNESS_BENCH_CPU_DIR")
    if not out or "cpu_s" not in _started:
        return
    used = _cpu_s() - _started.pop("cpu_s")
    role = type(environment.runner).__name__
    path = Path(out) / f"cpu-{os.getpid()}.json"
    path.write_text(json.dumps({"role": role, "cpu_s": used}))
