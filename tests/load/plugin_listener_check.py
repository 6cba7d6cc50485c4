"""Run by tests/load/test_plugin_hot_path.py in a child python (Locust patches the
process it is imported in). Prints a JSON object: Locust's stats after the same
requests with Locust's own listener and with the plugin's in its place, and what the
plugin recorded."""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path
from typing import Any

os.environ.pop("HARNESS_INTERVAL_PATH", None)
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import locust  # noqa: F401  (patches the process as in a worker)
from locust.env import Environment
from locust.exception import CatchResponseError

from harness.load import plugin

NOW = time.time()
REQUESTS: list[dict[str, Any]] = [
    {"request_type": "POST", "name": "/predict", "response_time": 4.2, "response_length": 10,
     "response": None, "context": {}, "exception": None, "start_time": NOW, "url": "/predict"},
    {"request_type": "POST", "name": "/predict", "response_time": 7.9, "response_length": 0,
     "response": None, "context": {}, "exception": ConnectionResetError("reset"),
     "start_time": NOW, "url": "/predict"},
    {"request_type": "GET", "name": "/health", "response_time": 1.0, "response_length": 2,
     "response": None, "context": {}, "exception": CatchResponseError("bad body"),
     "start_time": NOW, "url": "/health"},
    {"request_type": "GET", "name": "/health", "response_time": 12, "response_length": 2,
     "context": {}, "exception": None},  # a locustfile's own event: fewer keywords
    {"request_type": "GET", "name": "/odd", "response_time": 3, "response_length": 0,
     "context": {}, "exception": None, "start_time": "not a time"},  # the plugin raises
]


def stats_of(environment: Environment) -> dict[str, Any]:
    stats = environment.stats
    return {
        "entries": sorted(
            [name, method, e.num_requests, e.num_failures, e.total_response_time,
             sorted(e.response_times.items()), e.total_content_length]
            for (name, method), e in stats.entries.items()
        ),
        "total": [stats.total.num_requests, stats.total.num_failures],
        "errors": sorted([e.method, e.name, str(e.error), e.occurrences]
                         for e in stats.errors.values()),
    }


def fired(install: Any) -> dict[str, Any]:
    environment = Environment()
    environment.create_local_runner()
    install(environment)
    handlers = environment.events.request._handlers
    for request in REQUESTS:
        environment.events.request.fire(**request)
    return {"handlers": len(handlers),
            "locusts_listener_kept": any(
                plugin._is_locusts_stats_listener(h, environment.runner) for h in handlers),
            "stats": stats_of(environment)}


def recorded() -> dict[str, Any]:
    out: dict[str, Any] = {}
    for bucket in plugin._recorder.seconds.values():
        for endpoint in bucket.values():
            key = f"{endpoint.request_type} {endpoint.name}"
            got = out.setdefault(key, {"latencies": [], "reasons": {}})
            got["latencies"] += list(endpoint.latencies_ms)
            for reason, n in endpoint.reasons.items():
                got["reasons"][reason] = got["reasons"].get(reason, 0) + n
    return out


def main() -> None:
    plugin._recorder.start()
    bare = fired(lambda environment: None)
    replaced = fired(plugin._install_listener)
    in_place = recorded()
    plugin._recorder.seconds.clear()

    def unknown_listener(environment: Environment) -> None:  # not Locust's own: beside it
        environment.events.request._handlers[0] = lambda **_: None

    beside = fired(lambda environment: (unknown_listener(environment),
                                        plugin._install_listener(environment)))
    print(json.dumps({"bare": bare, "replaced": replaced, "recorded": in_place,
                      "beside": beside, "recorded_beside": recorded()}, default=repr))


if __name__ == "__main__":
    main()
