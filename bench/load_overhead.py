"""Overhead of the harness: requests/s of a harness-driven run (plugin recording every
request in HDR histograms, streaming intervals, live judging) against bare `locust`
with the same user class against the same target, several rounds, alternated.

    .venv/bin/python bench/load_overhead.py [--rounds 6] [--duration 10] [--users 10]
                                            [--mode paired|alternate] [--no-pin]

The target is bench/load_fast_server.py (a fixed answer, no parsing), so that Locust
is the bottleneck. Target: harness/bare >= 0.97 at the median of the rounds; the
spread of the per-round ratios and the load average are printed. Beside the
throughput, each arm's CPU time per request: locust master + worker, and for the
harness arm this process's too (the orchestrator); ``worker`` is the worker alone,
where the plugin runs.

Why two modes. On this 2-core VM, with other people's processes on it, the CPU one
locust worker needs per request moved by up to ±30 % from one 6 s run to the next
(the same arm, pinned or not): it is the machine, not the harness, so arms run one
after the other measure the machine's drift as much as the harness.

- ``paired`` (default): in each round both arms run AT THE SAME TIME, each on a CPU
  of its own with everything it uses (its own instance of the same server, its locust
  master and worker; the harness arm's orchestrator, this process's main thread), so
  the harness's extra work (plugin, master merge, orchestrator) competes with the
  harness arm only. The throughput ratio is counted over the same wall-clock seconds
  (Locust's per-second counts, the seconds both arms ran fully), so both arms share
  whatever the machine did then; the CPUs swap every round (use an even number of
  rounds), so neither arm keeps the busier CPU. Each CPU's server is part of its
  arm's cost in the throughput ratio (about 20 µs of ~200 µs a request, which dilutes
  the ratio by a few thousandths); the CPU-per-request ratios leave it out.
- ``alternate``: the arms one after the other, order alternating, as before: the
  locust worker alone on the last CPU, the server, the locust master and this process
  on the others (``--no-pin``: the scheduler places them). Trustworthy on a quiet
  machine only.

Both: each arm's locust runs in a session of its own (the harness starts its children
so, and Linux's autogroup scheduler shares the CPU between sessions), so do the
servers; the locustfile pins its own processes at init (HARNESS_BENCH_CPUS_*), the
same in both arms, whoever started locust; warm-up rounds are not counted.
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
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from load_common import ROOT, context, free_port, median, save, table

LOCUSTFILE = "bench/load_static_locustfile.py"
TARGET_RATIO = 0.97
CPU_ENV = "HARNESS_BENCH_CPU_DIR"
EDGE_SECONDS = 1
"""Seconds dropped at each end of an arm's run before counting the common seconds."""

Run = tuple[int, float, dict[int, int]]


def pin_env(worker: set[int], master: set[int]) -> dict[str, str]:
    return {"HARNESS_BENCH_CPUS_WORKER": ",".join(map(str, sorted(worker))),
            "HARNESS_BENCH_CPUS_MASTER": ",".join(map(str, sorted(master)))}


def rps_of(locust_json: Path) -> Run:
    """Requests, requests/s over the run, requests per wall-clock second."""
    entries = json.loads(locust_json.read_text())
    failures = sum(e["num_failures"] for e in entries)
    if failures:
        raise SystemExit(f"{failures} requests failed: the benchmark target is broken")
    count = sum(e["num_requests"] for e in entries)
    span = max(e["last_request_timestamp"] for e in entries) - min(
        e["start_time"] for e in entries
    )
    per_second: dict[int, int] = {}
    for entry in entries:
        for second, n in entry["num_reqs_per_sec"].items():
            per_second[int(second)] = per_second.get(int(second), 0) + int(n)
    return count, count / span, per_second


def run_usage(cpu_dir: Path) -> dict[str, float]:
    """What the locust processes used between test start and stop (written by the
    locustfile): CPU seconds of the master and of the workers, the workers' context
    switches."""
    usage = {"master_s": 0.0, "workers_s": 0.0, "workers_system_s": 0.0, "switches": 0.0}
    for path in cpu_dir.glob("cpu-*.json"):
        data = json.loads(path.read_text())
        if data["role"] == "MasterRunner":
            usage["master_s"] += float(data["cpu_s"])
        else:
            usage["workers_s"] += float(data["cpu_s"])
            usage["workers_system_s"] += float(data.get("system_s", 0.0))
            usage["switches"] += float(data.get("voluntary_switches", 0.0)) + float(
                data.get("involuntary_switches", 0.0))
    return usage


def bare(url: str, args: argparse.Namespace, env: dict[str, str]) -> Run:
    from harness.process import venv_bin

    with tempfile.TemporaryDirectory() as tmp:
        port = str(free_port())
        users = str(args.users)
        subprocess.run(
            [venv_bin("locust"), "-f", str(ROOT / LOCUSTFILE), "--headless", "-u", users,
             "-r", users, "-t", f"{args.duration}s", "-H", url, "--only-summary",
             "--json-file", f"{tmp}/bare", "--processes", "1", "--master-bind-host",
             "127.0.0.1", "--master-bind-port", port, "--master-host", "127.0.0.1",
             "--master-port", port],
            cwd=tmp, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            timeout=args.duration + 60, check=False,
            start_new_session=True,  # as harness.process starts it
            env={**os.environ, **env},
        )
        return rps_of(Path(tmp) / "bare.json")


def harnessed(url: str, args: argparse.Namespace, env: dict[str, str]) -> Run:
    from harness.load.spec import LoadStep
    from harness.load.stage import STAGE

    spec = LoadStep.model_validate({
        "name": "overhead", "locustfile": LOCUSTFILE, "users": args.users,
        "spawn_rate": args.users, "duration": f"{args.duration}s", "processes": 1,
        "criteria": ["error_rate < 1%"], "env": env,
    })
    with tempfile.TemporaryDirectory() as tmp:
        ctx = context(spec, url, Path(tmp))
        outcome = asyncio.run(STAGE.run(ctx))
        if outcome.status.value == "error":
            raise SystemExit(f"harness run failed: {outcome.summary}")
        return rps_of(ctx.artifact_dir / "locust.json")


def one_arm(kind: str, url: str, args: argparse.Namespace, pins: dict[str, str]) -> dict[str, Any]:
    """requests, rps, per-second counts, CPU µs per request (locust during the run; for
    the harness, this process's CPU too: the orchestrator) of one run of one arm. The
    orchestrator's CPU is this thread's (the bare arm's waiting thread is not in it)."""
    own_before = time.thread_time()
    with tempfile.TemporaryDirectory() as cpu_tmp:
        run = bare if kind == "bare" else harnessed
        count, rps, per_second = run(url, args, {**pins, CPU_ENV: cpu_tmp})
        usage = run_usage(Path(cpu_tmp))
    own_s = time.thread_time() - own_before
    orchestrator_us = own_s / count * 1e6 if kind != "bare" else 0.0
    locust_us = (usage["master_s"] + usage["workers_s"]) / count * 1e6
    return {
        "requests": count, "rps": rps, "per_second": per_second,
        "cpu_us": locust_us + orchestrator_us,
        "locust_us": locust_us, "master_us": usage["master_s"] / count * 1e6,
        "worker_us": usage["workers_s"] / count * 1e6,
        "worker_system_us": usage["workers_system_s"] / count * 1e6,
        "worker_switches": usage["switches"] / count, "orchestrator_us": orchestrator_us,
    }


def common_seconds(arms: dict[str, dict[str, Any]]) -> list[int]:
    """The wall-clock seconds in which every arm ran fully (each arm's first and last
    EDGE_SECONDS dropped: ramp-up and the partial last second)."""
    spans = []
    for arm in arms.values():
        seconds = sorted(arm["per_second"])
        spans.append(set(seconds[EDGE_SECONDS:-EDGE_SECONDS]))
    return sorted(set.intersection(*spans))


class Servers:
    """One instance of the fast server per CPU (paired mode) or one on the given CPUs."""

    def __init__(self, cpu_sets: list[set[int]]) -> None:
        self.procs: list[subprocess.Popen[bytes]] = []
        self.urls: list[str] = []
        for cpus in cpu_sets:
            port = free_port()
            proc = subprocess.Popen(
                [sys.executable, str(ROOT / "bench" / "load_fast_server.py"), "--port",
                 str(port)],
                start_new_session=True,
            )
            os.sched_setaffinity(proc.pid, cpus)
            self.procs.append(proc)
            self.urls.append(f"http://127.0.0.1:{port}")
        time.sleep(1.0)

    def stop(self) -> None:
        for proc in self.procs:
            proc.terminate()
            proc.wait(10)


def paired_round(index: int, servers: Servers, args: argparse.Namespace) -> dict[str, Any]:
    """Both arms at once, each on its own CPU with its own server; CPUs swap each round."""
    cpus = sorted(os.sched_getaffinity(0) | set(args.cpus))[:2]
    harness_cpu, bare_cpu = (cpus[0], cpus[1]) if index % 2 == 0 else (cpus[1], cpus[0])
    arms: dict[str, dict[str, Any]] = {}
    failure: list[BaseException] = []

    def bare_arm() -> None:
        try:
            os.sched_setaffinity(0, {bare_cpu})  # this thread, so the locust it starts
            arms["bare"] = one_arm("bare", servers.urls[cpus.index(bare_cpu)], args,
                                   pin_env({bare_cpu}, {bare_cpu}))
        except BaseException as exc:  # re-raised in the main thread
            failure.append(exc)

    load_before = os.getloadavg()[0]
    thread = threading.Thread(target=bare_arm)
    os.sched_setaffinity(0, {harness_cpu})
    thread.start()
    try:
        arms["harness"] = one_arm("harness", servers.urls[cpus.index(harness_cpu)], args,
                                  pin_env({harness_cpu}, {harness_cpu}))
    finally:
        thread.join()
        os.sched_setaffinity(0, set(cpus))
    if failure:
        raise failure[0]
    seconds = common_seconds(arms)
    if not seconds:
        raise SystemExit("the two arms did not run at the same time: no common second")
    counts = {k: sum(a["per_second"].get(s, 0) for s in seconds) for k, a in arms.items()}
    row = round_row(index, arms, load_before)
    row.update({
        "first": f"harness on CPU {harness_cpu}", "common_s": len(seconds),
        "bare_rps": counts["bare"] / len(seconds), "harness_rps": counts["harness"] / len(seconds),
        "ratio": counts["harness"] / counts["bare"],
    })
    return row


def alternate_round(index: int, servers: Servers, args: argparse.Namespace) -> dict[str, Any]:
    order = ["bare", "harness"] if index % 2 == 0 else ["harness", "bare"]
    load_before = os.getloadavg()[0]
    pins = pin_env(*args.layout) if args.pin else {}
    arms = {kind: one_arm(kind, servers.urls[0], args, pins) for kind in order}
    row = round_row(index, arms, load_before)
    row["first"] = order[0]
    return row


def round_row(index: int, arms: dict[str, dict[str, Any]], load_before: float) -> dict[str, Any]:
    bare_arm, harness_arm = arms["bare"], arms["harness"]
    return {
        "round": index + 1,
        "bare_rps": bare_arm["rps"], "harness_rps": harness_arm["rps"],
        "ratio": harness_arm["rps"] / bare_arm["rps"],
        "bare_cpu_us": bare_arm["cpu_us"], "harness_cpu_us": harness_arm["cpu_us"],
        "cpu_ratio": bare_arm["cpu_us"] / harness_arm["cpu_us"],
        "bare_worker_us": bare_arm["worker_us"], "harness_worker_us": harness_arm["worker_us"],
        "worker_ratio": bare_arm["worker_us"] / harness_arm["worker_us"],
        "orchestrator_us": harness_arm["orchestrator_us"],
        "arms": {k: {n: v for n, v in a.items() if n != "per_second"} for k, a in arms.items()},
        "load_avg": (load_before + os.getloadavg()[0]) / 2,
    }


def describe(row: dict[str, Any]) -> str:
    return (f"bare {row['bare_rps']:.0f} rps, harness {row['harness_rps']:.0f} rps, ratio "
            f"{row['ratio']:.3f}; CPU per request bare {row['bare_cpu_us']:.1f} us, harness "
            f"{row['harness_cpu_us']:.1f} us (orchestrator {row['orchestrator_us']:.1f}), ratio "
            f"{row['cpu_ratio']:.3f}; worker alone {row['bare_worker_us']:.1f} / "
            f"{row['harness_worker_us']:.1f} us, ratio {row['worker_ratio']:.3f}; load avg "
            f"{row['load_avg']:.2f}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--duration", type=int, default=10)
    parser.add_argument("--users", type=int, default=10)
    parser.add_argument("--warmup", type=int, default=1, help="uncounted rounds first")
    parser.add_argument("--mode", choices=("paired", "alternate"), default="paired")
    parser.add_argument("--no-pin", dest="pin", action="store_false",
                        help="alternate mode: let the scheduler place the processes")
    args = parser.parse_args()
    cpus = sorted(os.sched_getaffinity(0))
    args.cpus = cpus
    if args.mode == "paired":
        if len(cpus) < 2:
            raise SystemExit("paired mode needs two CPUs: use --mode alternate")
        servers = Servers([{cpus[0]}, {cpus[1]}])
        play: Callable[[int, Servers, argparse.Namespace], dict[str, Any]] = paired_round
        print(f"paired: both arms at once, each on its own CPU of {cpus[:2]}, swapped each round")
    else:
        args.layout = ({cpus[-1]}, set(cpus[:-1]) or {cpus[-1]})
        if args.pin:
            os.sched_setaffinity(0, args.layout[1])  # the harness arm's orchestrator
        servers = Servers([args.layout[1] if args.pin else set(cpus)])
        play = alternate_round
        print(f"alternate: locust worker on {sorted(args.layout[0])}, server + master + "
              f"orchestrator on {sorted(args.layout[1])}" if args.pin else "alternate, unpinned")
    rounds: list[dict[str, Any]] = []
    try:
        for index in range(args.warmup):
            print(f"warm-up {index + 1} (not counted): {describe(play(index, servers, args))}",
                  flush=True)
        for index in range(args.rounds):
            row = play(index, servers, args)
            rounds.append(row)
            print(f"round {index + 1} ({row['first']}): {describe(row)}", flush=True)
    finally:
        servers.stop()
    report(rounds, args)


def spread(rounds: list[dict[str, Any]], key: str) -> str:
    values = [r[key] for r in rounds]
    return f"median {statistics.median(values):.3f}, spread {min(values):.3f} .. {max(values):.3f}"


def report(rounds: list[dict[str, Any]], args: argparse.Namespace) -> None:
    columns = ["round", "first", "bare_rps", "harness_rps", "ratio", "bare_cpu_us",
               "harness_cpu_us", "cpu_ratio", "bare_worker_us", "harness_worker_us",
               "worker_ratio", "load_avg"]
    print(table(columns, [[r[c] for c in columns] for r in rounds]))
    bare_median = median([r["bare_rps"] for r in rounds])
    harness_median = median([r["harness_rps"] for r in rounds])
    ratio_median = statistics.median(r["ratio"] for r in rounds)
    loads = [r["load_avg"] for r in rounds]
    how = "paired" if args.mode == "paired" else (
        f"alternate, {'pinned' if args.pin else 'unpinned'}")
    print(f"{args.rounds} rounds of {args.duration} s ({how}); medians: bare {bare_median:.0f} "
          f"rps, harness {harness_median:.0f} rps")
    print(f"throughput ratio (harness/bare) per round: {spread(rounds, 'ratio')}")
    print(f"CPU-per-request ratio (bare/harness, locust + orchestrator): "
          f"{spread(rounds, 'cpu_ratio')}")
    print(f"CPU-per-request ratio (bare/harness, the worker alone): "
          f"{spread(rounds, 'worker_ratio')}")
    print(f"load avg {min(loads):.2f} .. {max(loads):.2f}")
    print(f"target >= {TARGET_RATIO}: {'met' if ratio_median >= TARGET_RATIO else 'NOT met'}")
    print("saved", save("load_overhead", {
        "rounds": rounds, "mode": args.mode, "pinned": args.pin, "duration_s": args.duration,
        "bare_median_rps": bare_median, "harness_median_rps": harness_median,
        "ratio_median": ratio_median,
        "cpu_ratio_median": statistics.median(r["cpu_ratio"] for r in rounds),
        "worker_ratio_median": statistics.median(r["worker_ratio"] for r in rounds),
    }))


if __name__ == "__main__":
    main()
