"""Abort latency: from the interval that makes a criterion decisively breached to the
Locust processes gone.

    .venv/bin/python bench/load_abort_latency.py [--runs 5]

A stand-in (bench/load_server.py) answers half its requests with HTTP 500; a five-minute
load step with ``{expr: "error_rate < 1%", abort: true}`` must stop soon after the
breach is decisive. Start: the moment the master wrote the deciding interval line
(``written_at`` in intervals.jsonl); end: the moment the harness had reaped the whole
Locust process group (``locust_ended_at`` in the step's metrics). Target: median <= 2 s.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import tempfile
from pathlib import Path
from typing import Any

from load_common import Server, context, save, table

TARGET_S = 2.0


async def one() -> dict[str, Any]:
    from harness.load.spec import LoadStep
    from harness.load.stage import STAGE

    with tempfile.TemporaryDirectory() as tmp, Server("--error-rate", "0.5") as server:
        spec = LoadStep.model_validate({
            "name": "abort", "locustfile": "loadtests/inference.py",
            "user_classes": ["InferenceUser"], "users": 6, "spawn_rate": 6, "duration": "5m",
            "processes": 1, "stop_timeout": "1s", "env": {"HARNESS_THINK_TIME_S": "0"},
            "criteria": [{"expr": "error_rate < 1%", "abort": True}],
        })
        ctx = context(spec, server.url, Path(tmp))
        load_before = os.getloadavg()[0]
        outcome = await STAGE.run(ctx)
        aborted = outcome.metrics.get("aborted")
        if not aborted:
            raise SystemExit(f"the run was not aborted: {outcome.summary}")
        lines = [json.loads(t) for t in (ctx.artifact_dir / "intervals.jsonl").read_text()
                 .splitlines()]
    intervals = [x for x in lines if x["type"] == "interval" and not x.get("late")]
    first = min(x["second"] for x in intervals)
    deciding = next(x for x in intervals if x["second"] - first + 1 >= aborted["at_s"])
    latency_s = outcome.metrics["locust_ended_at"] - deciding["written_at"]
    return {"latency_s": latency_s, "decided_at_s": aborted["at_s"],
            "load_avg": (load_before + os.getloadavg()[0]) / 2}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    rows = []
    for index in range(args.runs):
        row = asyncio.run(one())
        rows.append(row)
        print(f"run {index + 1}: {row['latency_s']:.2f} s from the deciding interval to "
              f"Locust gone (decided at {row['decided_at_s']:.0f} s, load avg "
              f"{row['load_avg']:.2f})", flush=True)
    print(table(["run", "latency_s", "decided_at_s", "load_avg"],
                [[i + 1, r["latency_s"], r["decided_at_s"], r["load_avg"]]
                 for i, r in enumerate(rows)]))
    latencies = [r["latency_s"] for r in rows]
    median = statistics.median(latencies)
    print(f"median {median:.2f} s, spread {min(latencies):.2f} .. {max(latencies):.2f} s "
          f"(target <= {TARGET_S} s: {'met' if median <= TARGET_S else 'NOT met'})")
    print("saved", save("load_abort_latency", {"runs": rows, "median_s": median}))


if __name__ == "__main__":
    main()
