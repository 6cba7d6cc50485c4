"""Overhead of the harness: requests/s of a harness-driven run (plugin recording every
request in HDR histograms, streaming intervals, live judging) against bare `locust`
with the same user class against the same target, alternated, several rounds.

    .venv/bin/python bench/load_overhead.py [--rounds 5] [--duration 10] [--users 10]

The target is bench/load_fast_server.py (a fixed answer, no parsing), so that Locust
is the bottleneck. Both figures come from Locust's own JSON (requests / (last request
- start)), measured the same way for both. Target: harness/bare >= 0.97 at the median
of the rounds; the spread of the per-round ratios and the load average are printed.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
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


def bare(url: str, duration_s: int, users: int) -> tuple[int, float]:
    from harness.process import venv_bin

    with tempfile.TemporaryDirectory() as tmp:
        port = str(free_port())
        subprocess.run(
            [venv_bin("locust"), "-f", str(ROOT / LOCUSTFILE), "--headless", "-u", str(users),
             "-r", str(users), "-t", f"{duration_s}s", "-H", url, "--only-summary",
             "--json-file", f"{tmp}/bare", "--processes", "1", "--master-bind-port", port,
             "--master-port", port],
            cwd=tmp, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=duration_s + 60,
            check=False,
        )
        return rps_of(Path(tmp) / "bare.json")


def harnessed(url: str, duration_s: int, users: int) -> tuple[int, float, float]:
    from harness.load.spec import LoadStep
    from harness.load.stage import STAGE

    spec = LoadStep.model_validate({
        "name": "overhead", "locustfile": LOCUSTFILE, "users": users, "spawn_rate": users,
        "duration": f"{duration_s}s", "processes": 1, "criteria": ["error_rate < 1%"],
    })
    with tempfile.TemporaryDirectory() as tmp:
        ctx = context(spec, url, Path(tmp))
        outcome = asyncio.run(STAGE.run(ctx))
        if outcome.status.value == "error":
            raise SystemExit(f"harness run failed: {outcome.summary}")
        count, rps = rps_of(ctx.artifact_dir / "locust.json")
    return count, rps, float(outcome.metrics["overall"]["rps"])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--duration", type=int, default=10)
    parser.add_argument("--users", type=int, default=10)
    args = parser.parse_args()
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, str(ROOT / "bench" / "load_fast_server.py"), "--port", str(port)]
    )
    url = f"http://127.0.0.1:{port}"
    rounds: list[dict[str, Any]] = []
    try:
        time.sleep(1.0)
        for index in range(args.rounds):
            order = ["bare", "harness"] if index % 2 == 0 else ["harness", "bare"]
            row: dict[str, Any] = {"round": index + 1}
            for kind in order:
                if kind == "bare":
                    row["bare_requests"], row["bare_rps"] = bare(url, args.duration, args.users)
                else:
                    row["harness_requests"], row["harness_rps"], row["harness_hdr_rps"] = (
                        harnessed(url, args.duration, args.users)
                    )
            row["ratio"] = row["harness_rps"] / row["bare_rps"]
            row["load_avg"] = os.getloadavg()[0]
            rounds.append(row)
            print(f"round {index + 1}: bare {row['bare_rps']:.0f} rps, harness "
                  f"{row['harness_rps']:.0f} rps, ratio {row['ratio']:.3f}, "
                  f"load avg {row['load_avg']:.2f}", flush=True)
    finally:
        server.terminate()
        server.wait(10)
    print(table(
        ["round", "bare_rps", "harness_rps", "harness_hdr_rps", "ratio", "load_avg"],
        [[r["round"], r["bare_rps"], r["harness_rps"], r["harness_hdr_rps"], r["ratio"],
          r["load_avg"]] for r in rounds],
    ))
    bare_median = median([r["bare_rps"] for r in rounds])
    harness_median = median([r["harness_rps"] for r in rounds])
    ratio = harness_median / bare_median
    ratios = [r["ratio"] for r in rounds]
    ratio_median = statistics.median(ratios)
    print(f"medians: bare {bare_median:.0f} rps, harness {harness_median:.0f} rps, ratio of "
          f"medians {ratio:.3f}; per-round ratio median {ratio_median:.3f}, spread "
          f"{min(ratios):.3f} .. {max(ratios):.3f}; load avg {os.getloadavg()}")
    print(f"target >= {TARGET_RATIO}: {'met' if ratio_median >= TARGET_RATIO else 'NOT met'}")
    print("saved", save("load_overhead", {"rounds": rounds, "bare_median_rps": bare_median,
                                          "harness_median_rps": harness_median, "ratio": ratio,
                                          "ratio_median": ratio_median}))


if __name__ == "__main__":
    main()
