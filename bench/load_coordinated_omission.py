"""Coordinated omission: a server that stalls 1 s out of every 10 s, at a fixed
offered rate (100 requests/s for 30 s).

    .venv/bin/python bench/load_coordinated_omission.py [--rate 100] [--duration 30]

- open model (harness, ArrivalRateUser): latency timed from each arrival's intended start;
- true p99 from the schedule: arrivals every 1/rate s; one due inside a stall waits for
  the stall's end, plus the service time (the open run's median, outside stalls);
- closed model (10 users x constant_throughput): the harness's HDR figure and Locust's own,
  both timed from the actual send, so the stall mostly disappears.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import tempfile
from pathlib import Path
from typing import Any

from load_common import Server, context, exact_percentile, save, table

STALL_EVERY_S = 10.0
STALL_S = 1.0


def schedule_truth(rate: float, duration_s: float, service_ms: float) -> list[float]:
    latencies = []
    count = int(rate * duration_s)
    for i in range(count):
        t = i / rate
        phase = t % STALL_EVERY_S
        wait_s = STALL_S - phase if phase < STALL_S else 0.0
        latencies.append(wait_s * 1000.0 + service_ms)
    return latencies


async def run(spec_data: dict[str, Any], url: str) -> tuple[Any, list[dict[str, Any]]]:
    from harness.load.spec import LoadStep
    from harness.load.stage import STAGE

    with tempfile.TemporaryDirectory() as tmp:
        ctx = context(LoadStep.model_validate(spec_data), url, Path(tmp))
        outcome = await STAGE.run(ctx)
        if outcome.status.value == "error":
            raise SystemExit(f"run failed: {outcome.summary}")
        locust = json.loads((ctx.artifact_dir / "locust.json").read_text())
    return outcome, locust


def locust_p99(locust: list[dict[str, Any]]) -> float:
    buckets: dict[float, int] = {}
    for entry in locust:
        for key, count in entry["response_times"].items():
            buckets[float(key)] = buckets.get(float(key), 0) + count
    total = sum(buckets.values())
    seen = 0
    for value in sorted(buckets):
        seen += buckets[value]
        if seen >= 0.99 * total:
            return value
    return 0.0


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rate", type=float, default=100.0)
    parser.add_argument("--duration", type=int, default=30)
    args = parser.parse_args()
    stall = ["--stall-every", str(STALL_EVERY_S), "--stall", str(STALL_S)]
    with Server(*stall) as server:
        open_outcome, _ = asyncio.run(run({
            "name": "open", "locustfile": "loadtests/inference_open.py",
            "user_classes": ["PredictArrivals"], "users": 1, "spawn_rate": 1,
            "duration": f"{args.duration}s", "processes": 1, "stop_timeout": "3s",
            "arrival_rate": {"rate": args.rate, "max_in_flight": 1000},
            "criteria": ["p99 < 1s"],
        }, server.url))
    users = 10
    with Server(*stall) as server:
        closed_outcome, closed_locust = asyncio.run(run({
            "name": "closed", "locustfile": "bench/load_closed_locustfile.py",
            "users": users, "spawn_rate": users, "duration": f"{args.duration}s",
            "processes": 1, "stop_timeout": "3s", "criteria": ["p99 < 1s"],
            "env": {"HARNESS_BENCH_PER_USER_RPS": f"{args.rate / users:g}"},
        }, server.url))
    open_overall = open_outcome.metrics["overall"]
    service_ms = open_overall["p50_ms"]
    truth = schedule_truth(args.rate, args.duration, service_ms)
    true_p99 = exact_percentile(truth, 99.0)
    closed_overall = closed_outcome.metrics["overall"]
    rows = [
        ["true (schedule)", len(truth), exact_percentile(truth, 95.0), true_p99, ""],
        ["open model (harness)", open_overall["requests"], open_overall["p95_ms"],
         open_overall["p99_ms"], f"{100 * (open_overall['p99_ms'] / true_p99 - 1):+.1f} %"],
        ["closed (harness HDR)", closed_overall["requests"], closed_overall["p95_ms"],
         closed_overall["p99_ms"], f"{100 * (closed_overall['p99_ms'] / true_p99 - 1):+.1f} %"],
        ["closed (Locust's own)", sum(e["num_requests"] for e in closed_locust), "",
         locust_p99(closed_locust), f"{100 * (locust_p99(closed_locust) / true_p99 - 1):+.1f} %"],
    ]
    print(table(["measure", "requests", "p95_ms", "p99_ms", "p99_vs_true"], rows))
    error = abs(open_overall["p99_ms"] / true_p99 - 1)
    print(f"open-model p99 vs true: {100 * error:.1f} % (target <= 10 %:"
          f" {'met' if error <= 0.10 else 'NOT met'}); unsent: "
          f"{open_outcome.metrics['open_model']['unsent']}")
    print("saved", save("load_coordinated_omission", {
        "rate": args.rate, "duration_s": args.duration, "rows": rows, "true_p99_ms": true_p99,
        "open_error": error,
    }))


if __name__ == "__main__":
    main()
