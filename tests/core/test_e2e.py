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

from tests.core.conftest import PROJECT_ROOT, write_suite
from tests.core.test_engine import assert_gone

pytestmark = pytest.mark.e2e


def harness(args: list[str]) -> subprocess.Popen[bytes]:
    env = dict(os.environ, HARNESS_ROOT=str(PROJECT_ROOT), PYTHONPATH=str(PROJECT_ROOT))
    env.pop("HARNESS_PLUGINS", None)
    return subprocess.Popen([sys.executable, "-m", "harness", *args], cwd=PROJECT_ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def processes_of(report: Path, harness_pid: int) -> set[int]:
    """Everything this run started: harness descendants and the testbed's services."""
    pids: set[int] = set()
    try:
        pids |= {p.pid for p in psutil.Process(harness_pid).children(recursive=True)}
    except psutil.NoSuchProcess:
        pass
    manifest = report / "testbed" / "manifest.json"
    try:
        data = json.loads(manifest.read_text())
        pids |= {int(s["pid"]) for s in data["services"].values()}
        pids |= {int(p["pid"]) for p in data.get("pods", [])}
    except (OSError, ValueError, KeyError):
        pass
    marker = str(report / "testbed")
    for proc in psutil.process_iter(["cwd"]):
        if (proc.info.get("cwd") or "").startswith(marker):
            pids.add(proc.pid)
    return pids


def test_smoke_suite_passes_against_the_testbed(tmp_path: Path) -> None:
    report = tmp_path / "report"
    proc = harness(["run", "suites/smoke.yaml", "--report-dir", str(report)])
    seen: set[int] = set()
    deadline = time.monotonic() + 300
    while proc.poll() is None and time.monotonic() < deadline:
        seen |= processes_of(report, proc.pid)
        time.sleep(0.5)
    out, err = proc.communicate(timeout=10)
    assert proc.returncode == 0, out.decode()[-3000:] + err.decode()[-3000:]
    verdict = json.loads((report / "verdict.json").read_text())
    assert verdict["status"] == "pass"
    assert {s["name"] for s in verdict["steps"]} == {
        "registry-contract", "serving-contract", "inference-load", "load-during-pod-kill",
        "pod-kill"}
    assert all(s["criteria"] for s in verdict["steps"])
    for step in verdict["steps"]:
        for artifact in step["artifacts"]:
            assert (report / artifact).exists(), artifact
    assert sum(1 for _ in junitparser.JUnitXml.fromfile(str(report / "junit.xml"))) == 5
    assert "PASS" in (report / "summary.md").read_text()
    assert seen, "no process observed"
    assert_gone(sorted(seen), within_s=5)


def test_a_slow_testbed_fails_the_verdict(tmp_path: Path) -> None:
    path = write_suite(tmp_path, """
name: latency-defect
target: {kind: local, testbed: {replicas: 1}}
stages:
  - name: inference
    steps:
      - {name: inference-load, kind: load, locustfile: loadtests/inference.py,
         user_classes: [InferenceUser], users: 5, spawn_rate: 5, duration: 6s, timeout: 1m,
         criteria: ["p95 < 100ms", "requests >= 5"]}
""")
    report = tmp_path / "report"
    proc = harness(["run", str(path), "--report-dir", str(report),
                    "--fault", "latency:dist=fixed,ms=150"])
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 1, out.decode()[-3000:] + err.decode()[-3000:]
    (step,) = json.loads((report / "verdict.json").read_text())["steps"]
    p95 = next(c for c in step["criteria"] if c["name"] == "p95 < 100ms")
    assert p95["status"] == "fail" and p95["observed"] >= 150


def test_sigint_at_a_random_moment_cleans_up(tmp_path: Path) -> None:
    moment_s = random.Random().uniform(1.0, 45.0)
    print(f"SIGINT after {moment_s:.1f} s")  # shown on failure, to reproduce
    report = tmp_path / "report"
    proc = harness(["run", "suites/smoke.yaml", "--report-dir", str(report)])
    seen: set[int] = set()
    start = time.monotonic()
    while proc.poll() is None and time.monotonic() - start < moment_s:
        seen |= processes_of(report, proc.pid)
        time.sleep(0.2)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, f"at {moment_s:.1f} s: " + err.decode()[-3000:]
    verdict = json.loads((report / "verdict.json").read_text())
    assert verdict["status"] != "pass"
    assert (report / "junit.xml").exists() and (report / "summary.md").exists()
    assert_gone(sorted(seen), within_s=5)
    assert not processes_of(report, proc.pid) - {proc.pid}
