"""Accuracy of the harness's percentiles against true values, Locust's beside them.

    .venv/bin/python bench/load_accuracy.py [--duration 15] [--users 8]

Two servers with known injected delays: lognormal with a 3 ms median (sub-10 ms),
and a long tail (2 ms, 2 % at 200 ms). "True" = exact percentiles (nearest rank) of
every raw response time recorded client-side in the same run (a listener in the
same Locust processes, bench/load_raw_locustfile.py). Second reference: the server's
own injected-delay distribution (which excludes the network and server overhead, so
the measured values sit slightly above it).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import tempfile
from pathlib import Path
from typing import Any

from load_common import Server, context, exact_percentile, save, table

QS = (50.0, 95.0, 99.0)
SERVERS = {
    "lognormal median 3 ms": "lognormal:median=3,sigma=0.6",
    "long tail 2 ms / 2 % 200 ms": "tail:base=2,p=0.02,tail=200",
}


def locust_percentile(buckets: dict[str, int], q: float) -> float:
    """Locust's reading of its own rounded buckets (as its reports do)."""
    items = sorted((float(k), v) for k, v in buckets.items())
    total = sum(v for _, v in items)
    need = q / 100.0 * total
    seen = 0
    for value, count in items:
        seen += count
        if seen >= need:
            return value
    return items[-1][0]


async def one(name: str, delay: str, duration_s: int, users: int) -> dict[str, Any]:
    from harness.load.spec import LoadStep
    from harness.load.stage import STAGE

    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        raw_dir = work / "raw"
        raw_dir.mkdir()
        record = work / "injected.txt"
        with Server("--delay", delay, "--record", str(record)) as server:
            spec = LoadStep.model_validate({
                "name": "accuracy", "locustfile": "bench/load_raw_locustfile.py",
                "users": users, "spawn_rate": users, "duration": f"{duration_s}s",
                "processes": 1, "criteria": ["p95 < 10s"],
                "env": {"HARNESS_THINK_TIME_S": "0", "HARNESS_BENCH_RAW_DIR": str(raw_dir)},
            })
            ctx = context(spec, server.url, work)
            outcome = await STAGE.run(ctx)
            if outcome.status.value == "error":
                raise SystemExit(f"run failed: {outcome.summary}")
        injected = [float(v) for v in record.read_text().split()] if record.exists() else []
        raw = [
            float(line.split()[1])
            for path in raw_dir.glob("raw-*.txt")
            for line in path.read_text().splitlines()
        ]
        locust = json.loads((ctx.artifact_dir / "locust.json").read_text())
    buckets: dict[str, int] = {}
    for entry in locust:
        for key, count in entry["response_times"].items():
            buckets[key] = buckets.get(key, 0) + count
    overall = outcome.metrics["overall"]
    rows = []
    for q in QS:
        true = exact_percentile(raw, q)
        harness = overall[f"p{q:g}_ms"]
        rows.append({
            "percentile": f"p{q:g}",
            "true_ms": true,
            "harness_ms": harness,
            "harness_error": harness / true - 1.0,
            "locust_ms": locust_percentile(buckets, q),
            "locust_error": locust_percentile(buckets, q) / true - 1.0,
            "injected_ms": exact_percentile(injected, q) if injected else None,
        })
    return {"server": name, "delay": delay, "status": outcome.status.value,
            "requests_harness": overall["requests"], "requests_raw": len(raw), "rows": rows}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--duration", type=int, default=15)
    parser.add_argument("--users", type=int, default=3)
    args = parser.parse_args()
    results = [asyncio.run(one(n, d, args.duration, args.users)) for n, d in SERVERS.items()]
    for result in results:
        print(f"\n{result['server']}: {result['requests_harness']} requests "
              f"(raw recorded: {result['requests_raw']})")
        print(table(
            ["pct", "true_ms", "harness_ms", "harness_err_%", "locust_ms", "locust_err_%",
             "injected_ms"],
            [[r["percentile"], r["true_ms"], r["harness_ms"], 100 * r["harness_error"],
              r["locust_ms"], 100 * r["locust_error"], r["injected_ms"]] for r in result["rows"]],
        ))
    worst = max(abs(r["harness_error"]) for res in results for r in res["rows"])
    print(f"\nworst harness error vs true: {100 * worst:.3f} % (target <= 1 %:"
          f" {'met' if worst <= 0.01 else 'NOT met'})")
    print("saved", save("load_accuracy", {"results": results, "worst_error": worst}))


if __name__ == "__main__":
    main()
