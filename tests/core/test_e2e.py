"""End to end: ``harness run`` with the real tools against the real local testbed."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import junitparser
import psutil
import pytest

from harness.run_processes import OWNER_ENV, mark
from tests.core.conftest import PROJECT_ROOT, write_suite
from tests.core.test_engine import assert_gone
from tests.report.browser import open_report

pytestmark = pytest.mark.e2e


def harness(
    args: list[str], state: Path | None = None, tmp: Path | None = None
) -> subprocess.Popen[bytes]:
    """``harness ARGS`` with the state dir ``state`` and ``tmp`` as its TMPDIR (the
    machine's temp directory as the run sees it: nothing may be left there)."""
    env = dict(os.environ, HARNESS_ROOT=str(PROJECT_ROOT), PYTHONPATH=str(PROJECT_ROOT))
    env.pop("HARNESS_PLUGINS", None)
    if state is not None:
        env["HARNESS_STATE_DIR"] = str(state)
    if tmp is not None:
        tmp.mkdir(exist_ok=True)
        env["TMPDIR"] = str(tmp)
    return subprocess.Popen([sys.executable, "-m", "harness", *args], cwd=PROJECT_ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def live_testbed_dir(report: Path, state: Path) -> Path | None:
    """The run's testbed state dir (in the state dir, never in the report)."""
    try:
        run_id = json.loads((report / "in-progress.json").read_text())["run_id"]
    except (OSError, ValueError, KeyError):
        return None
    return state / "runs" / run_id / "testbed"


def processes_of(report: Path, harness_pid: int, state: Path) -> set[int]:
    """Everything this run started: harness descendants and the testbed's services."""
    pids: set[int] = set()
    try:
        pids |= {p.pid for p in psutil.Process(harness_pid).children(recursive=True)}
    except psutil.NoSuchProcess:
        pass
    testbed_dir = live_testbed_dir(report, state)
    for manifest in (report / "testbed" / "manifest.json",
                     testbed_dir / "manifest.json" if testbed_dir else None):
        try:
            data = json.loads(manifest.read_text()) if manifest else {}
            pids |= {int(s["pid"]) for s in data["services"].values()}
            pids |= {int(p["pid"]) for p in data.get("pods", [])}
        except (OSError, ValueError, KeyError):
            pass
    if testbed_dir is not None:
        marker = str(testbed_dir)
        for proc in psutil.process_iter(["cwd"]):
            if (proc.info.get("cwd") or "").startswith(marker):
                pids.add(proc.pid)
        pids |= marked_with(mark(testbed_dir.parent.name, state))
    # The report keeps the (redacted) manifest after tear-down: its pids are history, and
    # only those still running count.
    return {pid for pid in pids if _running(pid)}


def marked_with(value: str) -> set[int]:
    """Processes carrying a run's mark: also what left the harness's process tree."""
    return {p.pid for p in psutil.process_iter(["environ"])
            if (p.info.get("environ") or {}).get(OWNER_ENV) == value}


def locust_workers(harness_pid: int) -> int:
    """How many processes of a ``locust --processes`` run are below the harness."""
    try:
        children = psutil.Process(harness_pid).children(recursive=True)
        return sum("locust" in " ".join(c.cmdline()) for c in children)
    except psutil.Error:
        return 0


def _running(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def live_tokens(report: Path, state: Path) -> set[str]:
    testbed_dir = live_testbed_dir(report, state)
    try:
        data = json.loads((testbed_dir / "manifest.json").read_text()) if testbed_dir else {}
    except (OSError, ValueError):
        return set()
    return {str(t) for t in (data.get("tokens") or {}).values() if t}


def assert_no_secret_in(report: Path, tokens: set[str]) -> None:
    """No token, tokens file or live manifest anywhere under the report dir (finding 6)."""
    assert tokens, "the run's tokens were never seen"
    assert not list(report.rglob("tokens.json"))
    for path in (p for p in report.rglob("*") if p.is_file()):
        content = path.read_bytes()
        leaked = [t for t in tokens if t.encode() in content]
        assert not leaked, f"{path} holds a token"
    manifest = json.loads((report / "testbed" / "manifest.json").read_text())
    assert set(manifest["tokens"].values()) == {"<redacted>"}


def test_smoke_suite_passes_against_the_testbed(tmp_path: Path) -> None:
    report, state, machine_tmp = tmp_path / "report", tmp_path / "state", tmp_path / "tmp"
    proc = harness(["run", "suites/smoke.yaml", "--report-dir", str(report)], state, machine_tmp)
    seen: set[int] = set()
    tokens: set[str] = set()
    deadline = time.monotonic() + 300
    while proc.poll() is None and time.monotonic() < deadline:
        seen |= processes_of(report, proc.pid, state)
        tokens |= live_tokens(report, state)
        time.sleep(0.5)
    out, err = proc.communicate(timeout=10)
    assert proc.returncode == 0, out.decode()[-3000:] + err.decode()[-3000:]
    verdict = json.loads((report / "verdict.json").read_text())
    assert verdict["status"] == "pass"
    assert {s["name"] for s in verdict["steps"]} == {
        "registry-contract", "serving-contract", "inference-load", "load-during-pod-kill",
        "pod-kill"}
    assert all(s["criteria"] for s in verdict["steps"])
    # the pod kill under load, judged by phase (tests/chaos/test_under_load.py, in the slow
    # set, does the same on a suite of its own)
    steps = {s["name"]: s for s in verdict["steps"]}
    assert steps["pod-kill"]["metrics"]["fault_duration_s"] > 5
    under_kill = {c["name"]: c for c in steps["load-during-pod-kill"]["criteria"]}
    assert {c["phase"] for c in under_kill.values() if c["phase"]} == {
        "baseline", "fault", "recovery"}
    assert under_kill["recovery_time < 30s"]["observed"] is not None
    assert (report / "pod-kill" / "journal.json").exists()
    for step in verdict["steps"]:
        for artifact in step["artifacts"]:
            assert (report / artifact).exists(), artifact
    assert sum(1 for _ in junitparser.JUnitXml.fromfile(str(report / "junit.xml"))) == 5
    summary = (report / "summary.md").read_text()
    assert "PASS" in summary and "## Model answers" in summary
    inference = next(s for s in verdict["steps"] if s["name"] == "inference-load")
    right = {c["name"]: c for c in inference["criteria"]}
    assert right["wrong_answer_rate == 0"]["observed"] == 0.0
    assert right["version_skew == 0"]["observed"] == 0.0
    assert inference["metrics"]["overall"]["answers"]["checked"] > 0
    page = report / "report.html"
    rendered = open_report(page, tmp_path / "report.png", tmp_path / "chromium-profile")
    assert rendered.console_errors == [] and rendered.requests == [page.resolve().as_uri()]
    # two load steps (latency, throughput) and the chaos timeline at least; all drawn
    assert rendered.charts >= 5 and all(rendered.drawn), rendered.drawn
    assert seen, "no process observed"
    assert_gone(sorted(seen), within_s=5)
    assert_no_secret_in(report, tokens)
    assert (report / "testbed" / "logs" / "registry.log").exists()
    assert not (state / "runs" / verdict["run_id"]).exists()  # its state went with it
    assert list(machine_tmp.iterdir()) == []  # no tool left anything in the temp directory
    umask = os.umask(0o022)
    os.umask(umask)
    modes = {oct(p.stat().st_mode & 0o777) for p in (report / "verdict.json",
             report / "junit.xml", report / "summary.md", report / "events.jsonl",
             report / "testbed" / "manifest.json")}
    assert modes == {oct(0o666 & ~umask)}


def test_sigkill_leaves_no_secret_in_the_report_and_recover_cleans_up(tmp_path: Path) -> None:
    """SIGKILL as Locust forks its workers (the moment that leaked: the master dies by its
    parent-death SIGTERM before it has handlers, its forked workers live on); recover
    stops the testbed and every process of the run (its mark, its recorded groups)."""
    path = write_suite(tmp_path, """
name: killed-under-load
target: {kind: local, testbed: {replicas: 1}}
stages:
  - name: inference
    steps:
      - {name: inference-load, kind: load, locustfile: loadtests/inference.py,
         user_classes: [InferenceUser], users: 5, spawn_rate: 5, duration: 30s, timeout: 1m,
         criteria: ["requests >= 5"]}
""")  # Locust right after the testbed: no contract steps to wait through
    report, state, machine_tmp = tmp_path / "report", tmp_path / "state", tmp_path / "tmp"
    proc = harness(["run", str(path), "--report-dir", str(report)], state, machine_tmp)
    seen: set[int] = set()
    tokens: set[str] = set()
    deadline = time.monotonic() + 150
    try:
        while locust_workers(proc.pid) < 3:  # master + 2 workers
            assert proc.poll() is None and time.monotonic() < deadline, "locust never started"
            seen |= processes_of(report, proc.pid, state)
            tokens |= live_tokens(report, state)
            time.sleep(0.05)
        time.sleep(random.Random().uniform(0.0, 0.5))
        seen |= processes_of(report, proc.pid, state)
        tokens |= live_tokens(report, state)
    finally:
        proc.kill()
        proc.communicate(timeout=30)
    assert_no_secret_in(report, tokens)
    assert not (report / "verdict.json").exists()
    env = dict(os.environ, HARNESS_ROOT=str(PROJECT_ROOT), HARNESS_STATE_DIR=str(state))
    recovered = subprocess.run([sys.executable, "-m", "harness", "recover"], cwd=PROJECT_ROOT,
                               env=env, capture_output=True, text=True, timeout=120)
    assert recovered.returncode == 0, recovered.stderr
    print(recovered.stdout)  # shown on failure: what recover found
    assert "stopped (its harness run was killed)" in recovered.stdout
    assert_gone(sorted(seen), within_s=10)
    assert not list((state / "runs").glob("*/testbed"))  # tokens and live manifest deleted
    assert not list((state / "runs").glob("*.processes.jsonl"))  # nothing left to find
    run_id = json.loads((report / "in-progress.json").read_text())["run_id"]
    assert not marked_with(mark(run_id, state)), "a process of the killed run survived"
    assert not (state / "runs" / run_id).exists()  # its work dirs and its children's TMPDIR
    assert list(machine_tmp.iterdir()) == []  # nothing of the killed run in the temp directory


@pytest.mark.slow  # the same chain FAILs by a testbed fault in tests/prometheus/test_e2e.py
def test_a_slow_and_wrong_testbed_fails_the_verdict_on_each(tmp_path: Path) -> None:
    """Two defects at once, each named by its own criterion: slow answers (p95) and
    answers that are 200, well-formed and wrong (wrong_answer_rate; in the default run:
    tests/load/test_e2e.py)."""
    path = write_suite(tmp_path, """
name: latency-defect
target: {kind: local, testbed: {replicas: 1}}
stages:
  - name: inference
    steps:
      - {name: inference-load, kind: load, locustfile: loadtests/inference.py,
         user_classes: [InferenceUser], users: 5, spawn_rate: 5, duration: 6s, timeout: 1m,
         criteria: ["p95 < 100ms", "requests >= 5", "wrong_answer_rate == 0",
                    "crossover_count == 0", "error_rate < 1%"]}
""")
    report = tmp_path / "report"
    proc = harness(["run", str(path), "--report-dir", str(report),
                    "--fault", "latency:dist=fixed,ms=150", "--fault", "wrong-answers"])
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 1, out.decode()[-3000:] + err.decode()[-3000:]
    (step,) = json.loads((report / "verdict.json").read_text())["steps"]
    results = {c["name"]: c for c in step["criteria"]}
    assert results["p95 < 100ms"]["status"] == "fail" and results["p95 < 100ms"]["observed"] >= 150
    assert results["wrong_answer_rate == 0"]["status"] == "fail"
    assert results["wrong_answer_rate == 0"]["observed"] == 1.0
    assert {n for n, c in results.items() if c["status"] != "pass"} == {
        "p95 < 100ms", "wrong_answer_rate == 0"}
    assert "wrong_answer_rate == 0" in (report / "summary.md").read_text()


def test_sigint_at_a_random_moment_cleans_up(tmp_path: Path) -> None:
    moment_s = random.Random().uniform(1.0, 45.0)
    print(f"SIGINT after {moment_s:.1f} s")  # shown on failure, to reproduce
    report, state, machine_tmp = tmp_path / "report", tmp_path / "state", tmp_path / "tmp"
    proc = harness(["run", "suites/smoke.yaml", "--report-dir", str(report)], state, machine_tmp)
    seen: set[int] = set()
    start = time.monotonic()
    while proc.poll() is None and time.monotonic() - start < moment_s:
        seen |= processes_of(report, proc.pid, state)
        time.sleep(0.2)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, f"at {moment_s:.1f} s: " + err.decode()[-3000:]
    if (report / "events.jsonl").exists():  # the run had claimed its report directory
        verdict = json.loads((report / "verdict.json").read_text())
        assert verdict["status"] != "pass"
        assert (report / "junit.xml").exists() and (report / "summary.md").exists()
    else:  # interrupted while the suite was loaded and checked: nothing started or written
        assert err.decode().endswith("harness: interrupted\n"), err.decode()[-3000:]
        assert not (report / "verdict.json").exists()
    assert_gone(sorted(seen), within_s=5)
    assert not processes_of(report, proc.pid, state) - {proc.pid}
