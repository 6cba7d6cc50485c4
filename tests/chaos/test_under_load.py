"""The whole chain: ``harness run`` of a stage with a load step beside a chaos step; the
chaos runner marks the phases, the load step judges its phase criteria against them.
In the slow set: the default run proves the same with suites/smoke.yaml's chaos-under-load
stage (tests/core/test_e2e.py::test_smoke_suite_passes_against_the_testbed)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.chaos.conftest import PROJECT_ROOT

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

SUITE = """\
name: chaos-under-load
description: "pod kill under a small load"
fail_fast: false
target:
  kind: local
  testbed: {{replicas: 2, ready_timeout: 60s}}
stages:
  - name: chaos-under-load
    steps:
      - name: load
        kind: load
        locustfile: {root}/loadtests/inference.py
        user_classes: [InferenceUser]
        users: 5
        spawn_rate: 5
        duration: 26s
        timeout: 90s
        criteria:
          - {{expr: "p95 < 500ms", phase: baseline}}
          - {{expr: "error_rate < 50%", phase: fault}}
          - {{expr: "error_rate < 10%", phase: recovery}}
          - "recovery_time < 20s"
      - {{name: pod-kill, kind: chaos, experiment: {root}/chaos/pod-kill.yaml, delay: 6s,
          timeout: 80s}}
"""


def test_pod_kill_under_load_is_judged_by_phase(tmp_path: Path) -> None:
    suite = tmp_path / "suites" / "under-load.yaml"
    suite.parent.mkdir()
    suite.write_text(SUITE.format(root=PROJECT_ROOT))
    report = tmp_path / "report"
    env = {**os.environ, "HARNESS_ROOT": str(PROJECT_ROOT)}
    done = subprocess.run(
        [sys.executable, "-m", "harness", "run", str(suite), "--report-dir", str(report)],
        cwd=PROJECT_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )
    verdict = json.loads((report / "verdict.json").read_text())
    steps = {s["name"]: s for s in verdict["steps"]}
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    chaos = steps["pod-kill"]
    assert chaos["status"] == "pass" and chaos["metrics"]["fault_duration_s"] > 5
    load = {c["name"]: c for c in steps["load"]["criteria"]}
    phases = {c["phase"] for c in load.values() if c["phase"]}
    assert phases == {"baseline", "fault", "recovery"}
    assert all(c["status"] == "pass" for c in load.values()), load
    assert load["recovery_time < 20s"]["observed"] is not None
    assert (report / "pod-kill" / "journal.json").exists()
