"""Peak RSS of the orchestrator and of the Locust master: a 1-minute run against a
10-minute run at the same fixed rate (open model, 150 arrivals/s). Takes ~12 minutes.

    .venv/bin/python bench/load_memory.py [--short 60] [--long 600] [--rate 150]

Each run happens in a fresh orchestrator process (so ru_maxrss is that run's peak);
the Locust master's RSS is sampled every 0.5 s by this parent process.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import psutil
from load_common import ROOT, Server, context, save, table


def child(duration_s: int, rate: float, url: str) -> None:
    from harness.load.spec import LoadStep
    from harness.load.stage import STAGE

    spec = LoadStep.model_validate({
        "name": "memory", "locustfile": "loadtests/inference_open.py",
        "user_classes": ["PredictArrivals"], "users": 1, "spawn_rate": 1,
        "duration": f"{duration_s}s", "processes": 1, "arrival_rate": {"rate": rate},
        "criteria": ["error_rate < 1%"],
    })
    with tempfile.TemporaryDirectory() as work:
        outcome = asyncio.run(STAGE.run(context(spec, url, Path(work))))
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps({
        "status": outcome.status.value, "summary": outcome.summary,
        "requests": outcome.metrics.get("overall", {}).get("requests"),
        "orchestrator_peak_mib": peak_kib / 1024.0,
    }))


def measure(duration_s: int, rate: float, url: str) -> dict[str, object]:
    proc = subprocess.Popen(
        [sys.executable, __file__, "--child", str(duration_s), "--rate", str(rate), "--url", url],
        stdout=subprocess.PIPE, text=True, cwd=ROOT,
    )
    peaks = {"master": 0.0, "workers": 0.0}
    done = threading.Event()

    def sample() -> None:
        me = psutil.Process(proc.pid)
        while not done.is_set():
            try:
                for kid in me.children():
                    if "locust" in " ".join(kid.cmdline()):
                        peaks["master"] = max(peaks["master"], kid.memory_info().rss / 2**20)
                        for worker in kid.children():
                            rss = worker.memory_info().rss / 2**20
                            peaks["workers"] = max(peaks["workers"], rss)
            except psutil.Error:
                pass
            time.sleep(0.5)

    thread = threading.Thread(target=sample, daemon=True)
    thread.start()
    out, _ = proc.communicate(timeout=duration_s + 300)
    done.set()
    thread.join()
    result = json.loads(out.strip().splitlines()[-1])
    return {**result, "locust_master_peak_mib": peaks["master"],
            "locust_worker_peak_mib": peaks["workers"], "duration_s": duration_s}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--child", type=int)
    parser.add_argument("--url")
    parser.add_argument("--rate", type=float, default=150.0)
    parser.add_argument("--short", type=int, default=60)
    parser.add_argument("--long", type=int, default=600)
    args = parser.parse_args()
    if args.child:
        child(args.child, args.rate, args.url)
        return
    with Server("--delay", "fixed:ms=2") as server:
        runs = [measure(d, args.rate, server.url) for d in (args.short, args.long)]
    short, long = runs
    growth = {
        key: (float(long[key]) / float(short[key]) - 1.0)  # type: ignore[arg-type]
        for key in ("orchestrator_peak_mib", "locust_master_peak_mib")
    }
    rows = [[r["duration_s"], r["requests"], r["orchestrator_peak_mib"],
             r["locust_master_peak_mib"], r["locust_worker_peak_mib"], r["status"]] for r in runs]
    print(table(["run_s", "requests", "orch_peak_MiB", "master_peak_MiB", "worker_peak_MiB",
                 "status"], rows))
    print("growth long vs short: " + ", ".join(f"{k} {v * 100:+.1f} %" for k, v in growth.items()))
    print("target: <= +10 %:", "met" if all(v <= 0.10 for v in growth.values()) else "NOT met")
    print("saved", save("load_memory", {"runs": runs, "growth": growth, "rate": args.rate}))


if __name__ == "__main__":
    main()
