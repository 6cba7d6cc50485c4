"""Benchmark locustfile: as many GETs as one user can make (overhead benchmark).

With HARNESS_BENCH_CPU_DIR set, every locust process (master, workers) writes the CPU
seconds it used between test start and test stop to cpu-<pid>.json there: the cost of
the run itself, without the imports at start-up (the harness arm imports more), with
its context switches (voluntary: it waited for the network; involuntary: it was
preempted).

With HARNESS_BENCH_CPUS_MASTER / HARNESS_BENCH_CPUS_WORKER set (CPU numbers, comma
separated), the master / each worker pins itself to those CPUs at init: the same in
both arms of the benchmark, whatever started locust.

With HARNESS_BENCH_QUIT_AFTER=N set, a local runner quits after N requests (a fixed
amount of work: bench/load_plugin_instructions.py counts its instructions)."""

from __future__ import annotations

import json
import os
import resource
from pathlib import Path
from typing import Any

import gevent
from locust import FastHttpUser, constant, events, task
from locust.runners import MasterRunner

_started: dict[str, float] = {}
_QUIT_AFTER = int(os.environ.get("HARNESS_BENCH_QUIT_AFTER", "0") or 0)
_done = [0]


class StaticUser(FastHttpUser):
    wait_time = constant(0)

    @task
    def static(self) -> None:
        self.client.get("/static", name="/static")
        if _QUIT_AFTER:
            _done[0] += 1
            if _done[0] == _QUIT_AFTER:
                gevent.spawn(self.environment.runner.quit)


def _usage() -> dict[str, float]:
    own = resource.getrusage(resource.RUSAGE_SELF)
    return {"cpu_s": own.ru_utime + own.ru_stime, "user_s": own.ru_utime,
            "system_s": own.ru_stime, "voluntary_switches": float(own.ru_nvcsw),
            "involuntary_switches": float(own.ru_nivcsw)}


@events.init.add_listener
def _pin(environment: Any, **_: Any) -> None:
    role = "MASTER" if isinstance(environment.runner, MasterRunner) else "WORKER"
    cpus = os.environ.get(f"HARNESS_BENCH_CPUS_{role}", "").strip()
    if cpus:
        os.sched_setaffinity(0, {int(c) for c in cpus.split(",")})


@events.test_start.add_listener
def _test_start(**_: Any) -> None:
    if not _started:
        _started.update(_usage())


@events.test_stop.add_listener
def _test_stop(environment: Any, **_: Any) -> None:
    out = os.environ.get("HARNESS_BENCH_CPU_DIR")
    if not out or not _started:
        return
    now = _usage()
    used = {key: now[key] - _started[key] for key in now}
    _started.clear()
    role = type(environment.runner).__name__
    path = Path(out) / f"cpu-{os.getpid()}.json"
    path.write_text(json.dumps({"role": role, **used}))
