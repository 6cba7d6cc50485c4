"""Benchmark: SIGINT / SIGTERM / SIGKILL ``harness run`` at random moments, then
``harness recover``, and take a census of what is left. Target: 0 leaks.

Each trial runs a real ``harness run`` against the real local testbed (``suites/smoke.yaml``:
testbed up, two Pact verifications, Locust load, a pod kill under load; or a freeze-under-load
suite: every serving pod SIGSTOPped while Locust runs), sends one signal at a random moment,
waits for the run to end, runs ``harness recover``, and counts:

- processes: every process the run was seen to start (harness descendants, testbed services,
  pods, Locust, ``chaos run``, verifiers, and anything carrying the run's mark in its
  environment: what left the harness's tree by setsid or a double fork) still alive, or
  still SIGSTOPped;
- faults: ledger entries left; testbed leases left; testbed state dirs (tokens, live
  manifest) left in the state dir;
- report: a ``verdict.json`` that says ``pass`` (no interrupted run may pass), a token in
  any report file, a report dir still locked.

Run: ``.venv/bin/python bench/signal_trials.py [--trials 21] [--seed 1] [--max-moment 60]``;
``--after-locust --min-moment 0 --max-moment 1`` aims at the window that leaked (Locust's
master killed by its parent-death SIGTERM as it forks its workers: the workers lived on).
It prints one line per trial, the census totals and the load average beside each figure,
and saves JSON under ``bench/results/``.
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import json
import os
import random
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import psutil

PROJECT_ROOT = Path(__file__).resolve().parents[1]
SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGKILL)
FREEZE_SUITE = """
name: freeze-under-load
target: {kind: local, testbed: {replicas: 2}}
stages:
  - name: outage
    steps:
      - {name: load, kind: load, locustfile: loadtests/inference.py,
         user_classes: [InferenceUser], users: 10, spawn_rate: 10, duration: 30s,
         timeout: 2m, criteria: ["requests >= 1"]}
      - {name: freeze, kind: chaos, experiment: chaos/service-unavailable.yaml, delay: 5s,
         timeout: 2m}
"""


@dataclass
class Trial:
    index: int
    suite: str
    signal: str
    moment_s: float
    exit_code: int | None = None
    ended_s: float = 0.0
    seen_processes: int = 0
    processes_left: list[int] = field(default_factory=list)
    stopped_left: list[int] = field(default_factory=list)
    left_what: list[str] = field(default_factory=list)
    ended_before_signal: bool = False
    ledger_left: int = 0
    leases_left: int = 0
    testbed_state_left: int = 0
    verdict: str = "absent"
    token_in_report: bool = False
    report_locked: bool = False
    recover_lines: int = 0
    recover_said: list[str] = field(default_factory=list)
    load_avg_1m: float = 0.0
    run_id: str = ""
    after_locust: bool = False  # moment_s counts from Locust's workers forking
    locust_at_s: float | None = None

    @property
    def leaks(self) -> int:
        return (len(self.processes_left) + len(self.stopped_left) + self.ledger_left
                + self.leases_left + self.testbed_state_left
                + int(self.verdict == "pass" and not self.ended_before_signal)
                + int(self.token_in_report) + int(self.report_locked))


def harness_env(state: Path) -> dict[str, str]:
    env = dict(os.environ, HARNESS_ROOT=str(PROJECT_ROOT), HARNESS_STATE_DIR=str(state),
               PYTHONPATH=str(PROJECT_ROOT))
    env.pop("HARNESS_PLUGINS", None)
    return env


def run_id_of(report: Path) -> str | None:
    with contextlib.suppress(OSError, ValueError, KeyError):
        return str(json.loads((report / "in-progress.json").read_text())["run_id"])
    return None


def marked(run_id: str, state: Path) -> set[int]:
    """Processes whose environment carries the run's mark (``HARNESS_OWNER_RUN``)."""
    value = f"{run_id}@{state.resolve()}"
    return {p.pid for p in psutil.process_iter(["environ"])
            if (p.info.get("environ") or {}).get("HARNESS_OWNER_RUN") == value}


def census(report: Path, state: Path, harness_pid: int, tokens: set[str]) -> set[int]:
    """Processes of this run now (and the run's tokens, added to ``tokens``)."""
    pids: set[int] = set()
    with contextlib.suppress(psutil.Error):
        pids |= {p.pid for p in psutil.Process(harness_pid).children(recursive=True)}
    run_id = run_id_of(report)
    if run_id is None:
        return pids
    pids |= marked(run_id, state)
    testbed = state / "runs" / run_id / "testbed"
    with contextlib.suppress(OSError, ValueError, KeyError, TypeError):
        data = json.loads((testbed / "manifest.json").read_text())
        pids |= {int(s["pid"]) for s in data["services"].values()}
        pids |= {int(p["pid"]) for p in data.get("pods", [])}
        tokens |= {str(t) for t in data["tokens"].values() if t}
    for proc in psutil.process_iter(["cwd"]):
        if (proc.info.get("cwd") or "").startswith(str(testbed)):
            pids.add(proc.pid)
    return pids


def alive(pids: set[int]) -> tuple[list[int], list[int], list[str]]:
    """Running and stopped pids, and what each is (its command line, for the report)."""
    running: list[int] = []
    stopped: list[int] = []
    what: list[str] = []
    for pid in sorted(pids):
        with contextlib.suppress(psutil.Error):
            proc = psutil.Process(pid)
            status = proc.status()
            if status == psutil.STATUS_ZOMBIE:
                continue
            (stopped if status == psutil.STATUS_STOPPED else running).append(pid)
            what.append(f"{pid} {status}: {' '.join(proc.cmdline())[:160]}")
    return running, stopped, what


def _default_signals() -> None:
    """An ignored signal stays ignored across exec: a bench started in the background
    (``cmd &``, nohup) has SIGINT ignored, and its runs would never see the SIGINT it
    sends before they install handlers of their own (a run that "passed" a SIGINT)."""
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, signal.SIG_DFL)


def locust_processes(harness_pid: int) -> int:
    """Locust master + its forked workers below the harness."""
    with contextlib.suppress(psutil.Error):
        children = psutil.Process(harness_pid).children(recursive=True)
        return sum("locust" in " ".join(c.cmdline()) for c in children)
    return 0


def drive(trial: Trial, suite: Path, report: Path, state: Path) -> tuple[set[int], set[str]]:
    """Start the run, signal it at ``trial.moment_s``, wait for its end."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "harness", "run", str(suite), "--report-dir", str(report)],
        cwd=PROJECT_ROOT, env=harness_env(state),
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, preexec_fn=_default_signals,
    )
    seen: set[int] = set()
    tokens: set[str] = set()
    started = time.monotonic()
    if trial.after_locust:  # the window that leaked: the master dies as it forks
        while proc.poll() is None and locust_processes(proc.pid) < 3:
            if time.monotonic() - started > 180:
                break
            seen |= census(report, state, proc.pid, tokens)
            time.sleep(0.05)
        trial.locust_at_s = round(time.monotonic() - started, 1)
        started = time.monotonic()
    while proc.poll() is None and time.monotonic() - started < trial.moment_s:
        seen |= census(report, state, proc.pid, tokens)
        time.sleep(0.2)
    seen |= census(report, state, proc.pid, tokens)
    trial.run_id = run_id_of(report) or ""
    trial.ended_before_signal = proc.poll() is not None  # not a trial: say so
    with contextlib.suppress(ProcessLookupError):
        proc.send_signal(getattr(signal, trial.signal))
    try:
        trial.exit_code = proc.wait(timeout=180)
    except subprocess.TimeoutExpired:
        proc.kill()
        trial.exit_code = proc.wait()
    trial.ended_s = time.monotonic() - started
    return seen, tokens


def judge(trial: Trial, report: Path, state: Path, seen: set[int], tokens: set[str]) -> None:
    recovered = subprocess.run(
        [sys.executable, "-m", "harness", "recover"], cwd=PROJECT_ROOT, env=harness_env(state),
        capture_output=True, text=True, timeout=300,
    )
    trial.recover_said = [line for line in recovered.stdout.splitlines()
                          if not line.startswith("harness:")]
    trial.recover_lines = len(trial.recover_said)
    time.sleep(1.0)  # a SIGKILL is delivered asynchronously
    run_id = run_id_of(report) or trial.run_id
    if run_id:
        seen |= marked(run_id, state)  # also anything the census never saw before
    trial.seen_processes = len(seen)
    trial.processes_left, trial.stopped_left, trial.left_what = alive(seen)
    trial.ledger_left = len(list((state / "ledger").glob("*.json")))
    trial.leases_left = len(list((state / "testbeds").glob("*.json")))
    trial.testbed_state_left = len(list((state / "runs").glob("*/testbed")))
    with contextlib.suppress(OSError, ValueError):
        trial.verdict = str(json.loads((report / "verdict.json").read_text())["status"])
    files = [p for p in report.rglob("*") if p.is_file()] if report.exists() else []
    trial.token_in_report = any(t.encode() in p.read_bytes() for p in files for t in tokens)
    trial.report_locked = locked(report / ".harness-run.lock")


def locked(path: Path) -> bool:
    try:
        fd = os.open(path, os.O_RDWR)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return False
    except OSError:
        return True
    finally:
        os.close(fd)


def reap(pids: list[int]) -> None:
    """Leave the machine clean even if a trial leaked (the leak is already counted)."""
    for pid in pids:
        with contextlib.suppress(psutil.Error):
            proc = psutil.Process(pid)
            proc.resume()
            proc.kill()


def run_trial(trial: Trial, suite: Path, root: Path) -> Trial:
    report, state = root / f"report-{trial.index}", root / "state"
    seen, tokens = drive(trial, suite, report, state)
    judge(trial, report, state, seen, tokens)
    trial.load_avg_1m = os.getloadavg()[0]
    reap(trial.processes_left + trial.stopped_left)
    return trial


def plan(
    trials: int, seed: int, moments_s: tuple[float, float], root: Path, only: str | None,
    after_locust: bool = False,
) -> list[tuple[Trial, Path]]:
    rng = random.Random(seed)
    freeze = root / "freeze.yaml"
    freeze.write_text(FREEZE_SUITE)
    smoke = PROJECT_ROOT / "suites" / "smoke.yaml"
    chosen = [s for s in SIGNALS if only in (None, s.name)]
    signals = [chosen[i % len(chosen)] for i in range(trials)]
    rng.shuffle(signals)
    planned = []
    for index, sig in enumerate(signals):
        suite = smoke if index % 2 == 0 else freeze
        moment = round(rng.uniform(*moments_s), 1)
        planned.append((Trial(index, suite.stem, sig.name, moment, after_locust=after_locust),
                        suite))
    return planned


def report_totals(results: list[Trial]) -> dict[str, object]:
    loads = [t.load_avg_1m for t in results]
    totals: dict[str, object] = {
        "trials": len(results),
        "by_signal": {s.name: sum(t.signal == s.name for t in results) for s in SIGNALS},
        "processes_seen": sum(t.seen_processes for t in results),
        "processes_left": sum(len(t.processes_left) for t in results),
        "stopped_left": sum(len(t.stopped_left) for t in results),
        "ledger_left": sum(t.ledger_left for t in results),
        "leases_left": sum(t.leases_left for t in results),
        "testbed_state_left": sum(t.testbed_state_left for t in results),
        "pass_verdicts": sum(t.verdict == "pass" for t in results),
        "token_in_report": sum(t.token_in_report for t in results),
        "report_locked": sum(t.report_locked for t in results),
        "leaks": sum(t.leaks for t in results),
        "ended_before_signal": sum(t.ended_before_signal for t in results),
        "exit_codes": sorted({str(t.exit_code) for t in results}),
        "ended_after_signal_median_s": statistics.median(
            t.ended_s - t.moment_s for t in results),
        "load_avg_1m_median": statistics.median(loads),
        "load_avg_1m_range": [min(loads), max(loads)],
    }
    return totals


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=21)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--max-moment", type=float, default=60.0, help="latest signal, s")
    parser.add_argument("--min-moment", type=float, default=0.5, help="earliest signal, s")
    parser.add_argument("--only", choices=[s.name for s in SIGNALS], default=None)
    parser.add_argument("--after-locust", action="store_true",
                        help="moments count from Locust forking its workers (the leak window)")
    args = parser.parse_args()
    results: list[Trial] = []
    with tempfile.TemporaryDirectory(prefix="signal-trials-") as tmp:
        planned = plan(args.trials, args.seed, (args.min_moment, args.max_moment), Path(tmp),
                       args.only, args.after_locust)
        for trial, suite in planned:
            done = run_trial(trial, suite, Path(tmp))
            results.append(done)
            print(f"trial {done.index:2d} {done.suite:17s} {done.signal:7s} at {done.moment_s:5.1f}"
                  f" s: exit {done.exit_code}, verdict {done.verdict:6s}, seen "
                  f"{done.seen_processes:3d} processes, recover {done.recover_lines} line(s),"
                  f" leaks {done.leaks} (load {done.load_avg_1m:.1f})"
                  + (f" [locust forked at {done.locust_at_s} s]" if done.after_locust else "")
                  + (" ENDED BEFORE THE SIGNAL" if done.ended_before_signal else ""), flush=True)
            for line in done.left_what:
                print(f"    left: {line}", flush=True)
            for line in done.recover_said:
                if line.startswith("processes of run"):
                    print(f"    recover: {line}", flush=True)
    totals = report_totals(results)
    print(json.dumps(totals, indent=2))
    out = PROJECT_ROOT / "bench" / "results" / "signal_trials.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"totals": totals, "trials": [asdict(t) for t in results]},
                              indent=2))
    return 0 if totals["leaks"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
