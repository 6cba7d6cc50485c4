"""Overhead of the harness: requests/s of a harness-driven run (plugin recording every
request in HDR histograms, in-flight counting, streaming intervals, live judging)
against bare `locust` with the same user class against the same target, in the same
run, several rounds, alternated.

    .venv/bin/python bench/load_overhead.py [--rounds 6] [--duration 10] [--users 10]
        [--mode paired|alternate] [--swap-s 0.25] [--calibrate] [--no-pin]

The target is bench/load_fast_server.py (a fixed answer, no parsing), so that Locust
is the bottleneck. Target: harness/bare >= 0.97 at the median of the rounds; the
spread of the per-round ratios and the load average are printed. Beside the
throughput, each arm's CPU time per request: locust master + worker, and for the
harness arm this process's main thread too (the orchestrator); ``worker`` is the
worker alone, where the plugin runs.

Why paired. On this 2-core VM shared with other people's processes, the CPU one
locust worker needs per request moved by up to ±30 % from one run to the next, and
between the two CPUs at the same moment (one was 2x slower than the other for
seconds): it is the machine, not the harness. Arms run one after the other
(``--mode alternate``, the old way: the locust worker alone on the last CPU, the
server, the master and this process on the others, or ``--no-pin``) measure that
drift as much as the harness: spreads of 0.6 .. 1.9 at load 2-4.

``paired`` (default): in each round both arms run AT THE SAME TIME, each with its own
instance of the same server. Each arm's threads are kept together on one CPU (its
server, its locust master and worker; for the harness, this process's main thread:
the orchestrator), so the harness's extra work competes with the harness arm only;
every ``--swap-s`` the two arms trade CPUs (a few system calls), so both see both
CPUs equally within every second. The bare arm starts when the harness has started
its locust, and the throughput ratio is counted over the wall-clock seconds both arms
ran fully (Locust's per-second counts, EDGE_SECONDS dropped at each end): the same
seconds, the same phase of both runs. Each arm's server is part of that arm's CPU,
so it dilutes the throughput ratio a little (about 10 % of the CPU of a request);
the CPU-per-request ratios leave it out. ``--calibrate`` runs bare in both arms (an
A/A run): its spread is the noise floor of the comparison at that moment.

Both modes: each arm's locust runs in a session of its own (the harness starts its
children so, and Linux's autogroup scheduler shares the CPU between sessions), so do
the servers; warm-up rounds are not counted.

Measured here (2026-12-01, 2 cores):
- ``--calibrate`` (A/A): ``--rounds 8``, load 1.7-2.1: throughput ratio median 0.995
  (0.959 .. 1.019), CPU per request 1.007 (0.975 .. 1.029); ``--rounds 6``, load
  1.5-1.6: 0.994 (0.985 .. 1.044), 1.004 (0.984 .. 1.040). Earlier the same day, at
  load 2.5-4.3, the throughput figure read about 2 % low for the harness's slot; it
  did not here. Read a run beside an A/A run of the same hour.
- The plugin as it is now (its listener in the place of Locust's own stats listener,
  doing that one's work too; FastHttpSession's wrapper in C, harness/load/_inflight.c),
  2026-12-01 22:22-22:26 UTC: ``--rounds 10 --duration 10``, load 0.7-1.6: throughput
  ratio median 0.985 (0.967 .. 1.024), CPU per request 0.982 (0.967 .. 1.012), the
  worker alone 0.988 (0.972 .. 1.017); ``--rounds 5 --duration 10``, load 1.6-1.7:
  0.985 (0.973 .. 0.989), 0.985 (0.983 .. 0.985), 0.990 (0.988 .. 0.991). At
  21:47 UTC: 0.986 (0.955 .. 1.020). A/A beside it (``--calibrate --rounds 6``, load
  1.7-1.8): 0.997 (0.980 .. 1.018). With the C wrapper turned off
  (HARNESS_PLUGIN_PURE=1: the Python twin, as on a machine without a C compiler):
  0.965 (0.921 .. 1.020), short of 0.97; with neither change (the plugin of 57c6660,
  measured earlier that day) 0.954 (0.919 .. 0.974) at load 1.6-1.7, and with the
  listener change alone 0.969 (0.935 .. 0.980). bench/load_plugin_instructions.py
  counts why: the listener beside Locust's cost 6,000 instructions a request and the
  Python wrapper 4,400, of bare Locust's 532,000; in Locust's place the listener adds
  650 (one listener call instead of two), and the C wrapper 1,400.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
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
EDGE_SECONDS = 2
"""Seconds dropped at each end of an arm's run before counting the common seconds: the
partial first second and the users' ramp (-r users: one second), the partial last one."""

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


def bare(
    url: str, args: argparse.Namespace, env: dict[str, str], started: list[int] | None = None
) -> Run:
    """Bare locust; its pid is appended to ``started`` as soon as it runs."""
    from harness.process import venv_bin

    with tempfile.TemporaryDirectory() as tmp:
        port = str(free_port())
        users = str(args.users)
        locust = subprocess.Popen(
            [venv_bin("locust"), "-f", str(ROOT / LOCUSTFILE), "--headless", "-u", users,
             "-r", users, "-t", f"{args.duration}s", "-H", url, "--only-summary",
             "--json-file", f"{tmp}/bare", "--processes", "1", "--master-bind-host",
             "127.0.0.1", "--master-bind-port", port, "--master-host", "127.0.0.1",
             "--master-port", port],
            cwd=tmp, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            start_new_session=True,  # as harness.process starts it
            env={**os.environ, **env},
        )
        if started is not None:
            started.append(locust.pid)
        try:
            locust.wait(args.duration + 60)
        finally:
            if locust.poll() is None:
                locust.kill()
                locust.wait()
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


def one_arm(
    kind: str, url: str, args: argparse.Namespace, pins: dict[str, str],
    started: list[int] | None = None,
) -> dict[str, Any]:
    """requests, rps, per-second counts, CPU µs per request (locust during the run; for
    the harness, this process's CPU too: the orchestrator) of one run of one arm. The
    orchestrator's CPU is this thread's (the bare arm's waiting thread is not in it)."""
    own_before = time.thread_time()
    with tempfile.TemporaryDirectory() as cpu_tmp:
        env = {**pins, CPU_ENV: cpu_tmp}
        if kind == "bare":
            count, rps, per_second = bare(url, args, env, started)
        else:
            count, rps, per_second = harnessed(url, args, env)
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

    @property
    def pids(self) -> list[int]:
        return [proc.pid for proc in self.procs]

    def stop(self) -> None:
        for proc in self.procs:
            proc.terminate()
            proc.wait(10)


def _children(pid: int) -> list[int]:
    """The child processes of ``pid`` (from /proc: cheap, unlike a scan of every
    process, which the swapper would do on one of the arms' CPUs)."""
    found: list[int] = []
    try:
        for tid in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{tid}/children") as text:
                found += [int(child) for child in text.read().split()]
    except OSError:
        pass
    return found


def _tids(pids: list[int]) -> list[int]:
    """Every thread of these processes and of all their descendants."""
    tids: list[int] = []
    todo = list(pids)
    while todo:
        pid = todo.pop()
        try:
            tids += [int(t) for t in os.listdir(f"/proc/{pid}/task")]
        except OSError:
            continue
        todo += _children(pid)
    return tids


class Swapper(threading.Thread):
    """Keeps each arm's threads together on one CPU; every ``period_s`` the two arms
    trade CPUs (0: they keep the CPUs of the round, checked every second since
    locust's processes come and go). Its own work is a few system calls a swap."""

    def __init__(self, cpus: list[int], arms: dict[str, Callable[[], list[int]]],
                 period_s: float, flipped: bool) -> None:
        super().__init__(daemon=True)
        self.cpus, self.arms, self.period_s, self.flipped = cpus, arms, period_s, flipped
        self.done = threading.Event()
        self.swaps = 0

    def placement(self) -> dict[str, int]:
        first, second = (self.cpus[1], self.cpus[0]) if self.flipped else tuple(self.cpus)
        return {"harness": first, "bare": second}

    def run(self) -> None:
        while not self.done.wait(self.period_s or 1.0):
            if self.period_s:
                self.flipped = not self.flipped
                self.swaps += 1
            self.place()

    def place(self) -> None:
        """Both arms' threads found first, then moved in turn, one of each arm after
        the other (which arm first alternates): neither arm waits on the other's
        look-up with both on one CPU."""
        moves = [[(tid, cpu) for tid in self.arms[arm]()] for arm, cpu in self.placement().items()]
        if self.swaps % 2:
            moves.reverse()  # neither arm is always the one moved first
        for pair in itertools.zip_longest(*moves):
            for move in pair:
                if move is None:
                    continue
                try:
                    os.sched_setaffinity(move[0], {move[1]})
                except OSError:
                    pass  # gone


def _await_harness_locust(servers: Servers, timeout_s: float = 60.0) -> None:
    """Wait until the harness arm has started its locust (the first child of this
    process that is no server), so that both arms' runs start together: the common
    seconds are then the same seconds of both runs, not the harness's first ones
    against bare's last ones."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if any(pid not in servers.pids for pid in _children(os.getpid())):
            return
        time.sleep(0.01)
    raise SystemExit("the harness arm started no locust within a minute")


def paired_round(index: int, servers: Servers, args: argparse.Namespace) -> dict[str, Any]:
    """Both arms at once, each with its own server, each arm's threads kept together
    on one CPU; the arms trade CPUs every ``--swap-s`` (and between rounds)."""
    arms: dict[str, dict[str, Any]] = {}
    failure: list[BaseException] = []
    bare_master: list[int] = []
    mine, theirs = (0, 1) if index % 2 == 0 else (1, 0)  # server instances trade too
    helpers: list[int] = []  # this process's threads that are not the orchestrator's

    def bare_arm() -> None:
        helpers.append(threading.get_native_id())
        try:
            _await_harness_locust(servers)
            arms["bare"] = one_arm("bare", servers.urls[theirs], args, {}, bare_master)
        except BaseException as exc:  # re-raised in the main thread
            failure.append(exc)

    def harness_tids() -> list[int]:
        own = [int(t) for t in os.listdir("/proc/self/task") if int(t) not in helpers]
        locusts = [pid for pid in _children(os.getpid())
                   if pid not in bare_master and pid not in servers.pids]
        return own + _tids([servers.pids[mine], *locusts])

    swapper = Swapper(args.cpus[:2], {"harness": harness_tids,
                                      "bare": lambda: _tids([servers.pids[theirs], *bare_master])},
                      args.swap_s, flipped=index % 2 == 1)
    first = swapper.placement()["harness"]
    load_before = os.getloadavg()[0]
    thread = threading.Thread(target=bare_arm)
    swapper.place()
    swapper.start()
    helpers.append(swapper.native_id or 0)
    thread.start()
    try:
        # --calibrate: bare in the harness's place too (an A/A run: the noise floor)
        arms["harness"] = one_arm("bare" if args.calibrate else "harness", servers.urls[mine],
                                  args, {})
    finally:
        thread.join()
        swapper.done.set()
        swapper.join()
        os.sched_setaffinity(0, set(args.cpus))
    if failure:
        raise failure[0]
    seconds = common_seconds(arms)
    if not seconds:
        raise SystemExit("the two arms did not run at the same time: no common second")
    counts = {k: sum(a["per_second"].get(s, 0) for s in seconds) for k, a in arms.items()}
    row = round_row(index, arms, load_before)
    row.update({
        "first": f"harness first on CPU {first}", "common_s": len(seconds),
        "swaps": swapper.swaps,
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
    parser.add_argument("--calibrate", action="store_true",
                        help="paired mode: bare against bare (A/A), to see the noise floor")
    parser.add_argument("--swap-s", type=float, default=0.25,
                        help="paired mode: the arms trade CPUs this often (0: once a round)")
    parser.add_argument("--no-pin", dest="pin", action="store_false",
                        help="alternate mode: let the scheduler place the processes")
    args = parser.parse_args()
    cpus = sorted(os.sched_getaffinity(0))
    args.cpus = cpus
    if args.mode == "paired":
        if len(cpus) < 2:
            raise SystemExit("paired mode needs two CPUs: use --mode alternate")
        servers = Servers([set(cpus), set(cpus)])
        play: Callable[[int, Servers, argparse.Namespace], dict[str, Any]] = paired_round
        print(f"paired: both arms at once, each arm's threads together on one CPU of "
              f"{cpus[:2]}, trading CPUs every {args.swap_s:g} s and between rounds")
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
    if args.mode == "paired":
        how = "paired, A/A: bare in both arms" if args.calibrate else "paired"
    else:
        how = f"alternate, {'pinned' if args.pin else 'unpinned'}"
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
