"""The harness's Locust plugin: exact response times, per second, merged across workers.

Runs INSIDE locust processes only. The load runner passes it to Locust beside the
user's locustfile (``locust -f user.py,.../harness/load/plugin.py``); it defines no
User class. With ``HARNESS_INTERVAL_PATH`` unset it does nothing.

- Every request (``events.request``) is recorded in an HDR histogram (µs, three
  significant digits) of its endpoint ("<request type> <name>") for the wall-clock
  second in which it completed. A request made by an open-model arrival is timed
  from its intended start (see ``harness.load.arrival``).
- Once a second each worker encodes its finished seconds and sends them to the
  master (``runner.send_message("harness_interval", ...)``); the master merges them
  and appends one JSON line per second to HARNESS_INTERVAL_PATH as soon as every
  worker has reported that second (or 1.5 s after it ended). A local (single
  process) runner writes directly.

Lines: {"type": "start", ...}, then {"type": "interval", "second": S,
"endpoints": {"POST /predict": {"type", "name", "count", "failures", "hist"}},
"scheduled", "sent", "unsent", "workers"} for each second, and {"type": "end"} at quit.
"""

from __future__ import annotations

import json
import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import gevent
from locust import events
from locust.env import Environment
from locust.runners import MasterRunner, WorkerRunner

# From a checkout, the harness package sits two levels up; a remote worker started with
# `locust -f - --worker` gets this file copied into its temp dir and needs the harness
# package installed (pip install) instead.
_HERE = Path(__file__).resolve()
if len(_HERE.parents) > 2 and (_HERE.parents[2] / "harness" / "load").is_dir():
    sys.path.append(str(_HERE.parents[2]))
from harness.load import arrival, histogram  # noqa: E402

PATH_ENV = "HARNESS_INTERVAL_PATH"
MESSAGE = "harness_interval"
WORKER_GRACE_S = 1.5
COUNTER_NAMES = ("scheduled", "sent", "unsent")


@dataclass
class _Endpoint:
    request_type: str
    name: str
    count: int = 0
    failures: int = 0
    latencies_ms: list[float] = field(default_factory=list)  # recorded in HDR at shipping


def _to_wire(
    second: int, endpoints: dict[str, _Endpoint], counters: dict[str, int]
) -> dict[str, Any]:
    wire = {}
    for key, e in endpoints.items():
        hist = histogram.new_histogram()
        histogram.record_many_ms(hist, e.latencies_ms)
        wire[key] = {
            "type": e.request_type,
            "name": e.name,
            "count": e.count,
            "failures": e.failures,
            "hist": histogram.encode(hist),
        }
    return {"second": second, "endpoints": wire, **counters}


class _Recorder:
    """Per process: histograms of the seconds not yet shipped."""

    def __init__(self) -> None:
        self.seconds: dict[int, dict[tuple[str, str], _Endpoint]] = {}
        self.first_second: int | None = None
        self.shipped_until = 0  # seconds < this have been shipped
        self.counters_shipped = dict.fromkeys(COUNTER_NAMES, 0)

    def record(self, request_type: str, name: str, response_time_ms: float, failed: bool) -> None:
        """Per request, so kept cheap (about 1 µs): the HDR work happens once a second."""
        due = arrival.intended_start()
        latency_ms = (time.perf_counter() - due) * 1000.0 if due is not None else response_time_ms
        second = int(time.time())
        if second < self.shipped_until:
            second = self.shipped_until
        bucket = self.seconds.get(second)
        if bucket is None:
            bucket = self.seconds[second] = {}
        key = (request_type, name)
        endpoint = bucket.get(key)
        if endpoint is None:
            endpoint = bucket[key] = _Endpoint(request_type, name)
        endpoint.count += 1
        if failed:
            endpoint.failures += 1
        endpoint.latencies_ms.append(latency_ms)

    def start(self) -> None:
        if self.first_second is None:
            self.first_second = int(time.time())
            self.shipped_until = self.first_second

    def take(self, until_second: int) -> list[dict[str, Any]]:
        """Wire dicts for every second < until_second not shipped yet (empty ones too)."""
        if self.first_second is None:
            return []
        out = []
        for second in range(self.shipped_until, until_second):
            endpoints = {f"{t} {n}": e for (t, n), e in self.seconds.pop(second, {}).items()}
            out.append(_to_wire(second, endpoints, self._counter_deltas()))
        self.shipped_until = max(self.shipped_until, until_second)
        return out

    def _counter_deltas(self) -> dict[str, int]:
        deltas = {}
        for name in COUNTER_NAMES:
            now = arrival.COUNTERS[name]
            deltas[name] = now - self.counters_shipped[name]
            self.counters_shipped[name] = now
        return deltas


class _Merger:
    """Master side: merges the workers' seconds, writes each second once."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.pending: dict[int, dict[str, Any]] = {}
        self.reports: dict[int, set[str]] = {}
        self.written_until = 0

    def write_line(self, data: dict[str, Any]) -> None:
        with self.path.open("a", encoding="utf-8") as out:
            out.write(json.dumps(data, separators=(",", ":")) + "\n")

    def add(self, node: str, data: dict[str, Any]) -> None:
        second = int(data["second"])
        if second < self.written_until:
            second = self.written_until  # a straggler: count it in the next second written
        merged = self.pending.setdefault(
            second, {"second": second, "endpoints": {}, **dict.fromkeys(COUNTER_NAMES, 0)}
        )
        self.reports.setdefault(second, set()).add(node)
        for name in COUNTER_NAMES:
            merged[name] += int(data.get(name, 0))
        for key, wire in data["endpoints"].items():
            have = merged["endpoints"].get(key)
            if have is None:
                merged["endpoints"][key] = dict(wire)
                continue
            total = histogram.decode(have["hist"])
            total.add(histogram.decode(wire["hist"]))
            have["hist"] = histogram.encode(total)
            have["count"] += wire["count"]
            have["failures"] += wire["failures"]

    def flush(self, workers: int, final: bool = False) -> None:
        now = time.time()
        for second in sorted(self.pending):
            complete = len(self.reports.get(second, ())) >= max(workers, 1)
            if not (final or complete or now >= second + 1 + WORKER_GRACE_S):
                break
            data = self.pending.pop(second)
            self.reports.pop(second, None)
            self.write_line({"type": "interval", "workers": workers, **data})
            self.written_until = second + 1


_recorder = _Recorder()
_merger: _Merger | None = None


def _on_request(
    request_type: str, name: str, response_time: float, exception: object = None, **_: Any
) -> None:
    _recorder.record(request_type, name, float(response_time or 0.0), exception is not None)


def _ship_forever(environment: Environment) -> None:
    while True:
        now = time.time()
        gevent.sleep(max(int(now) + 1.05 - now, 0.01))
        _ship(environment, int(time.time()))


def _ship(environment: Environment, until_second: int) -> None:
    runner = environment.runner
    for data in _recorder.take(until_second):
        if isinstance(runner, WorkerRunner):
            runner.send_message(MESSAGE, data)
        elif _merger is not None:
            _merger.add("local", data)
    if _merger is not None and not isinstance(runner, WorkerRunner):
        _merger.flush(_worker_count(environment))


def _worker_count(environment: Environment) -> int:
    runner = environment.runner
    if isinstance(runner, MasterRunner):
        return max(runner.worker_count, 1)
    return 1


def _merge_forever(environment: Environment) -> None:
    while True:
        gevent.sleep(0.1)
        if _merger is not None:
            _merger.flush(_worker_count(environment))


def _on_message(environment: Environment, msg: Any, **_: Any) -> None:
    if _merger is not None:
        _merger.add(str(msg.node_id), msg.data)


def _on_init(environment: Environment, **_: Any) -> None:
    """Masters and local runners write the stream only when HARNESS_INTERVAL_PATH is
    set; workers always record and ship (a remote worker does not get the harness's
    environment), and a master without a path ignores what they send."""
    global _merger
    path_text = os.environ.get(PATH_ENV, "").strip()
    runner = environment.runner
    if isinstance(runner, MasterRunner):
        runner.register_message(MESSAGE, _on_message)
        if path_text:
            _merger = _Merger(Path(path_text))
            gevent.spawn(_merge_forever, environment)
    elif isinstance(runner, WorkerRunner):
        events.test_stop.add_listener(  # type: ignore[no-untyped-call]
            lambda **_: _ship(environment, int(time.time()) + 1)
        )
    elif path_text:
        _merger = _Merger(Path(path_text))
    else:
        return  # plain single-process locust: nothing to do
    if not isinstance(runner, MasterRunner):
        events.request.add_listener(_on_request)  # type: ignore[no-untyped-call]
        _recorder.start()
        gevent.spawn(_ship_forever, environment)
    if _merger is not None:
        role = "master" if isinstance(runner, MasterRunner) else "local"
        _merger.write_line({"type": "start", "role": role, "pid": os.getpid(), "at": time.time()})


def _on_quitting(environment: Environment, **_: Any) -> None:
    if _merger is None:
        return
    if not isinstance(environment.runner, MasterRunner):
        _ship(environment, int(time.time()) + 1)
    _merger.flush(_worker_count(environment), final=True)
    _merger.write_line({"type": "end", "at": time.time()})


events.init.add_listener(_on_init)  # type: ignore[no-untyped-call]
events.quitting.add_listener(_on_quitting)  # type: ignore[no-untyped-call]
