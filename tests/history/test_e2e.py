"""End to end with real Locust against the real testbed: baseline criteria SKIPPED on the
first run of a new suite, judged (and passed) on a second healthy run, and FAILing on the
third with the testbed's latency fault, naming the baseline run and value; report.html
written for each run. The three runs test one testbed (an external target: the session's;
the latency switched through serving's admin API, the same switch as `--fault`, which
tests/openapi/test_cli.py drives through the CLI): a testbed start per run would only repeat
what the smoke e2e proves. Part of the default run: the healthy pair is judged on figures
that two short runs on a busy shared machine agree on (see the note at NORMAL)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest

from harness.target import Target
from tests.core.conftest import PROJECT_ROOT, write_suite
from tests.testbed_launch import target_of

pytestmark = pytest.mark.e2e

SUITE = """
name: {name}
target:
  kind: external
  external: {{registry_url: "{registry}", serving_url: "{serving}",
             orchestrator_url: "{orchestrator}"}}
stages:
  - name: inference
    steps:
      - name: inference-load
        kind: load
        locustfile: loadtests/inference.py
        user_classes: [InferenceUser]
        users: 6
        spawn_rate: 6
        duration: 3s
        processes: 1
        stop_timeout: 1s
        timeout: 1m
        env: {{HARNESS_THINK_TIME_S: "0"}}
        criteria:
          - p95 < 2s
          - requests >= 20
          - "{MEDIAN}"
          - {{expr: "{P95}", baseline: {{median_of_last: 3}}}}
"""
MEDIAN = "median < baseline * 1.10 + 20ms"
P95 = "p95 < baseline * 1.10 + 100ms"
P95_NAME = f"{P95} [baseline: median of the last 3 passing runs]"
# What two healthy runs of a few seconds agree on, on a shared 2-core machine: the platform
# answers in a fixed 200 ms (mode=total), the users do not think (~80 requests a run, where
# think time 1-3 s gave 10-12 and made p95 the single slowest request). In 10 runs of this
# test at load 2.7-7 the healthy runs' median stayed within 201-212 ms while their p95
# ranged 206-322 ms (CPU contention delays a tail of requests by tens of ms; one pair moved
# 232 -> 292 ms, +26 %), so the median is judged on 10 % plus 20 ms and p95 on 10 % plus a
# 100 ms noise floor against the median of the last passing runs. The slow build answers in
# 600 ms: past both (a baseline p95 would have to exceed 454 ms, a median 527 ms).
NORMAL = "latency:dist=fixed,ms=200,mode=total"
SLOW = "latency:dist=fixed,ms=600,mode=total"


@pytest.fixture
def testbed(shared_testbed: dict[str, Any]) -> Target:
    """The session's testbed (tests/conftest.py), as a target."""
    return target_of(shared_testbed, shared_testbed["manifest_path"])


def harness_run(suite: Path, report: Path, fault: str, env: dict[str, str],
                testbed: Target) -> int:
    admin = {"Authorization": f"Bearer {testbed.tokens.admin}"}
    put = httpx.put(f"{testbed.serving_url}/admin/faults", json={"faults": [fault]},
                    headers=admin, timeout=10)
    assert put.status_code == 200, put.text
    try:
        done = subprocess.run(
            [sys.executable, "-m", "harness", "run", str(suite), "--report-dir", str(report)],
            cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=240)
    finally:
        httpx.delete(f"{testbed.serving_url}/admin/faults", headers=admin, timeout=10)
    assert done.returncode in (0, 1), done.stdout[-3000:] + done.stderr[-3000:]
    return done.returncode


def criterion_row(report: Path, name: str) -> dict[str, object]:
    (step,) = json.loads((report / "verdict.json").read_text())["steps"]
    found: dict[str, object] = next(c for c in step["criteria"] if c["name"] == name)
    return found


def test_baseline_skipped_judged_then_failed_by_the_latency_fault(
    tmp_path: Path, testbed: Target
) -> None:
    suite = write_suite(tmp_path, SUITE.format(
        name=f"baseline-e2e-{os.getpid()}", MEDIAN=MEDIAN, P95=P95,
        registry=testbed.registry_url, serving=testbed.serving_url,
        orchestrator=testbed.orchestrator_url))
    env = dict(os.environ, HARNESS_ROOT=str(PROJECT_ROOT), PYTHONPATH=str(PROJECT_ROOT),
               HARNESS_STATE_DIR=str(tmp_path / "state"))
    env.pop("HARNESS_PLUGINS", None)
    env.pop("HARNESS_HISTORY_URL", None)
    reports = [tmp_path / f"run{i}" for i in range(3)]
    faults = (NORMAL, NORMAL, SLOW)
    codes = [harness_run(suite, r, fault, env, testbed)
             for r, fault in zip(reports, faults, strict=True)]
    runs = [json.loads((r / "verdict.json").read_text())["run_id"] for r in reports]
    for name in (MEDIAN, P95_NAME):
        first, second, third = (criterion_row(r, name) for r in reports)
        assert first["status"] == "skipped" and "no passing run of suite" in str(first["reason"])
        assert second["status"] == "pass", second
        assert third["status"] == "fail" and float(str(third["observed"])) >= 600, third
        baseline = third["baseline"]
        assert isinstance(baseline, dict) and baseline["value"] is not None
        assert f"baseline {float(baseline['value']):.4g} ms" in str(third["reason"])
    assert codes == [0, 0, 1]
    assert criterion_row(reports[2], MEDIAN)["baseline"]["run_id"] == runs[1]  # type: ignore[index]
    pooled = criterion_row(reports[2], P95_NAME)["baseline"]
    assert sorted(pooled["runs"]) == sorted(runs[:2])  # type: ignore[index]
    assert f"run {runs[1]}" in str(criterion_row(reports[2], MEDIAN)["reason"])
    for plain in ("p95 < 2s", "requests >= 20"):  # the slow build fails on its baselines only
        assert criterion_row(reports[2], plain)["status"] == "pass"
    for report in reports:
        assert (report / "report.html").stat().st_size > 1_000_000
    history = subprocess.run([sys.executable, "-m", "harness", "history"], cwd=PROJECT_ROOT,
                             env=dict(env, COLUMNS="200"), capture_output=True, text=True,
                             timeout=60)
    assert history.stdout.count("baseline-e2e") == 3, history.stdout
