"""Overhead of the harness: requests/s of a harness-driven run (plugin recording every
request in HDR histograms, streaming intervals, live judging) against bare `locust`
with the same user class against the same target, alternated, several rounds.

    .venv/bin/python bench/load_overhead.py [--rounds 5] [--duration 10] [--users 10]

The target is bench/load_fast_server.py (a fixed answer, no parsing), so that Locust
is the bottleneck. Both figures come from Locust's own JSON (requests / (last request
- start)), measured the same way for both. Target: harness/bare >= 0.97 at the median
of the rounds; the spread of the per-round ratios and the load average are printed.

Fair on a shared machine: both arms' locust runs in a session of its own (the harness
starts its children so, and Linux's autogroup scheduler shares the CPU between
sessions: a bare locust in the benchmark's session would compete with a different
set of processes), so does the server; one warm-up pair is run and not counted; the
order alternates. Beside the throughput, each arm's CPU time per request (locust
master + workers, and for the harness arm the orchestrator too) is printed: it hardly
moves with other people's load, so it shows the harness's own cost when the
throughput ratio is noise.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from load_common import ROOT, context, free_port, median, save, table

LOCUSTFILE = "bench/load_static_locustfile.py"
TARGET_RATIO = 0.97
CPU_ENV = "HARNESS_BENCH_CPU_DIR"


def rps_of(locust_json: Path) -> tuple[int, float]:
    entries = json.loads(locust_json.read_text())
    failures = sum(e["num_failures"] for e in entries)
    if failures:
        raise SystemExit(f"{failures} requests failed: the benchmark target is broken")
    count = sum(e["num_requests"] for e in entries)
    span = max(e["last_request_timestamp"] for e in entries) - min(
        e["start_time"] for e in entries
    )
    return count, count / span


def run_cpu_s(cpu_dir: Path) -> tuple[float, float]:
    """CPU seconds the locust processes used between test start and stop (written by
    the locustfile): the master's, the workers' summed."""
    master = workers = 0.0
    for path in cpu_dir.glob("cpu-*.json"):
        data = json.loads(path.read_text())
        if data["role"] == "MasterRunner":
            master += float(data["cpu_s"])
        else:
            workers += float(data["cpu_s"])
    return master, workers


def bare(url: str, duration_s: int, users: int, cpu_dir: Path) -> tuple[int, float]:
    from harness.process import venv_bin

    with tempfile.TemporaryDirectory() as tmp:
        port = str(free_port())
        subprocess.run(
            [venv_bin("locust"), "-f", str(ROOT / LOCUSTFILE), "--headless", "-u", str(users),
             "-r", str(users), "-t", f"{duration_s}s", "-H", url, "--only-summary",
             "--json-file", f"{tmp}/bare", "--processes", "1", "--master-bind-host",
             "127.0.0.1", "--master-bind-port", port, "--master-host", "127.0.0.1",
             "--master-port", port],
            cwd=tmp, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=duration_s + 60,
            check=False, start_new_session=True,  # as harness.process starts it
            env={**os.environ, CPU_ENV: str(cpu_dir)},
        )
        return rps_of(Path(tmp) / "bare.json")


def harnessed(url: str, duration_s: int, users: int, cpu_dir: Path) -> tuple[int, float, float]:
    from harness.load.spec import LoadStep
    from harness.load.stage import STAGE

    spec = LoadStep.model_validate({
        "name": "overhead", "locustfile": LOCUSTFILE, "users": users, "spawn_rate": users,
        "duration": f"{duration_s}s", "processes": 1, "criteria": ["error_rate < 1%"],
        "env": {CPU_ENV: str(cpu_dir)},
    })
    with tempfile.TemporaryDirectory() as tmp:
        ctx = context(spec, url, Path(tmp))
        outcome = asyncio.run(STAGE.run(ctx))
        if outcome.status.value == "error":
            raise SystemExit(f"harness run failed: {outcome.summary}")
        count, rps = rps_of(ctx.artifact_dir / "locust.json")
    return count, rps, float(outcome.metrics["overall"]["rps"])


def one_arm(kind: str, url: str, args: argparse.Namespace) -> dict[str, Any]:
    """requests, rps, CPU µs per request (locust during the run; the orchestrator) of
    one run of one arm."""
    own_before = resource.getrusage(resource.RUSAGE_SELF)
    with tempfile.TemporaryDirectory() as cpu_tmp:
        cpu_dir = Path(cpu_tmp)
        if kind == "bare":
            count, rps = bare(url, args.duration, args.users, cpu_dir)
            row: dict[str, Any] = {}
        else:
            count, rps, hdr_rps = harnessed(url, args.duration, args.users, cpu_dir)
            row = {"hdr_rps": hdr_rps}
        master_cpu_s, workers_cpu_s = run_cpu_s(cpu_dir)
    own_after = resource.getrusage(resource.RUSAGE_SELF)
    own_s = (own_after.ru_utime + own_after.ru_stime) - (own_before.ru_utime + own_before.ru_stime)
    row.update({
        "requests": count, "rps": rps,
        "locust_us": (master_cpu_s + workers_cpu_s) / count * 1e6,
        "master_us": master_cpu_s / count * 1e6, "workers_us": workers_cpu_s / count * 1e6,
        "orchestrator_us": own_s / count * 1e6 if kind != "bare" else 0.0,
    })
    return row


def one_round(index: int, url: str, args: argparse.Namespace) -> dict[str, Any]:
    order = ["bare", "harness"] if index % 2 == 0 else ["harness", "bare"]
    arms = {kind: one_arm(kind, url, args) for kind in order}
    bare_arm, harness_arm = arms["bare"], arms["harness"]
    harness_us = harness_arm["locust_us"] + harness_arm["orchestrator_us"]
    return {
        "round": index + 1, "first": order[0],
        "bare_rps": bare_arm["rps"], "harness_rps": harness_arm["rps"],
        "harness_hdr_rps": harness_arm["hdr_rps"],
        "ratio": harness_arm["rps"] / bare_arm["rps"],
        "bare_cpu_us": bare_arm["locust_us"], "harness_cpu_us": harness_us,
        "harness_orchestrator_us": harness_arm["orchestrator_us"],
        "cpu_ratio": bare_arm["locust_us"] / harness_us,
        "arms": arms,
        "load_avg": os.getloadavg()[0],
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--duration", type=int, default=10)
    parser.add_argument("--users", type=int, default=10)
    parser.add_argument("--warmup", type=int, default=1, help="uncounted rounds first")
    args = parser.parse_args()
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, str(ROOT / "bench" / "load_fast_server.py"), "--port", str(port)],
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    rounds: list[dict[str, Any]] = []
    try:
        time.sleep(1.0)
        for index in range(args.warmup):
            row = one_round(index, url, args)
            print(f"warm-up {index + 1}: ratio {row['ratio']:.3f} (not counted), load avg "
                  f"{row['load_avg']:.2f}", flush=True)
        for index in range(args.rounds):
            row = one_round(index, url, args)
            rounds.append(row)
            print(f"round {index + 1} ({row['first']} first): bare {row['bare_rps']:.0f} rps, "
                  f"harness {row['harness_rps']:.0f} rps, ratio {row['ratio']:.3f}; CPU per "
                  f"request bare {row['bare_cpu_us']:.1f} us, harness {row['harness_cpu_us']:.1f}"
                  f" us (orchestrator {row['harness_orchestrator_us']:.1f}), ratio "
                  f"{row['cpu_ratio']:.3f}; load avg {row['load_avg']:.2f}", flush=True)
    finally:
        server.terminate()
        server.wait(10)
    report(rounds)


def report(rounds: list[dict[str, Any]]) -> None:
    columns = ["round", "first", "bare_rps", "harness_rps", "harness_hdr_rps", "ratio",
               "bare_cpu_us", "harness_cpu_us", "cpu_ratio", "load_avg"]
    print(table(columns, [[r[c] for c in columns] for r in rounds]))
    bare_median = median([r["bare_rps"] for r in rounds])
    harness_median = median([r["harness_rps"] for r in rounds])
    ratios = [r["ratio"] for r in rounds]
    cpu_ratios = [r["cpu_ratio"] for r in rounds]
    loads = [r["load_avg"] for r in rounds]
    ratio_median = statistics.median(ratios)
    print(f"medians: bare {bare_median:.0f} rps, harness {harness_median:.0f} rps, ratio of "
          f"medians {harness_median / bare_median:.3f}; per-round ratio median "
          f"{ratio_median:.3f}, spread {min(ratios):.3f} .. {max(ratios):.3f}; CPU-per-request "
          f"ratio median {statistics.median(cpu_ratios):.3f}, spread {min(cpu_ratios):.3f} .. "
          f"{max(cpu_ratios):.3f}; load avg {min(loads):.2f} .. {max(loads):.2f}")
    print(f"target >= {TARGET_RATIO}: {'met' if ratio_median >= TARGET_RATIO else 'NOT met'}")
    print("saved", save("load_overhead", {
        "rounds": rounds, "bare_median_rps": bare_median, "harness_median_rps": harness_median,
        "ratio_median": ratio_median, "cpu_ratio_median": statistics.median(cpu_ratios),
    }))


if __name__ == "__main__":
    main()
