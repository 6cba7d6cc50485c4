"""The game day's model-rollout stage end to end (real testbed, Locust, `chaos run`), with a
short load: it PASSes on a healthy testbed and each rollout fault FAILs it with the criterion
that names it. The healthy run is the default run's end-to-end proof of the rollout stage
(~45 s); the three rollout faults are ``slow`` (select with -m slow): each is a second
end-to-end run of the same stage, and what makes each one FAIL is proven in the default run
below the CLI: the testbed's fault (tests/testbed/test_rollout.py) and the criterion's
figures from such answers (tests/chaos/test_answers.py)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

PROJECT_ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.e2e


def rollout_suite(tmp_path: Path) -> Path:
    """The game day's model-rollout stage as it is, with a shorter load and delay."""
    gameday = yaml.safe_load((PROJECT_ROOT / "suites" / "gameday.yaml").read_text())
    (stage,) = [s for s in gameday["stages"] if s["name"] == "model-rollout"]
    load, chaos = stage["steps"]
    load.update(duration="30s", locustfile=str(PROJECT_ROOT / load["locustfile"]))
    chaos.update(delay="4s", experiment=str(PROJECT_ROOT / chaos["experiment"]))
    suite = {"name": "gameday-rollout", "target": gameday["target"], "stages": [stage]}
    path = tmp_path / "suites" / "rollout.yaml"
    path.parent.mkdir()
    path.write_text(yaml.safe_dump(suite, sort_keys=False))
    return path


def run_rollout(tmp_path: Path, *faults: str) -> tuple[int, dict[str, Any], Path]:
    report = tmp_path / "report"
    env = dict(os.environ, HARNESS_ROOT=str(PROJECT_ROOT), PYTHONPATH=str(PROJECT_ROOT),
               HARNESS_STATE_DIR=str(tmp_path / "state"))  # fmt: skip
    env.pop("HARNESS_PLUGINS", None)
    argv = [sys.executable, "-m", "harness", "run", str(rollout_suite(tmp_path)),
            "--report-dir", str(report)]  # fmt: skip
    for fault in faults:
        argv += ["--fault", fault]
    proc = subprocess.run(argv, cwd=PROJECT_ROOT, env=env, capture_output=True, timeout=240)
    assert (report / "verdict.json").exists(), proc.stdout[-3000:] + proc.stderr[-3000:]
    return proc.returncode, json.loads((report / "verdict.json").read_text()), report


def rows(verdict: dict[str, Any], step: str) -> dict[str, dict[str, Any]]:
    (found,) = [s for s in verdict["steps"] if s["name"] == step]
    return {c["name"]: c for c in found["criteria"]}


def failed(verdict: dict[str, Any]) -> set[str]:
    return {c["name"] for s in verdict["steps"] for c in s["criteria"] if c["status"] != "pass"}


def test_a_rollout_under_load_passes_on_a_healthy_testbed(tmp_path: Path) -> None:
    code, verdict, report = run_rollout(tmp_path)
    assert code == 0, failed(verdict)
    chaos = rows(verdict, "model-rollout")
    assert chaos["old_version_replicas == 0"]["observed"] == 0
    assert 0 <= chaos["rollout_time < 15s"]["observed"] < 15
    (step,) = [s for s in verdict["steps"] if s["name"] == "model-rollout"]
    watched = step["metrics"]["answers"]
    assert watched["versions_seen"] == ["1.0.0", "2.0.0"] and watched["answers"] > 300
    assert {s["cause"] for s in watched["pod_starts"]} == {"rollout"}
    assert len(watched["pod_starts"]) == 2  # both replicas replaced
    summary = (report / "summary.md").read_text()
    assert "## Rollouts and pod starts" in summary and "rollout_time" in summary
    html = (report / "report.html").read_text()
    assert "rollout_time" in html and "cold_start_s" in html


@pytest.mark.slow
def test_a_replica_kept_on_the_old_version_fails_the_rollout(tmp_path: Path) -> None:
    code, verdict, _ = run_rollout(tmp_path, "old-version-kept")
    assert code == 1, failed(verdict)
    chaos = rows(verdict, "model-rollout")
    assert chaos["old_version_replicas == 0"]["status"] == "fail"
    assert chaos["old_version_replicas == 0"]["observed"] == 1
    assert chaos["skew_outside_rollout == 0"]["status"] == "fail"
    # The rollback still left serving on one version (the stragglers replaced by force).
    assert chaos["fault ledger clean after rollbacks"]["status"] == "pass"


@pytest.mark.slow
def test_a_replica_serving_before_its_model_is_loaded_fails_the_rollout(tmp_path: Path) -> None:
    code, verdict, _ = run_rollout(tmp_path, "serve-before-ready:seconds=3")
    assert code == 1, failed(verdict)
    chaos = rows(verdict, "model-rollout")
    assert chaos["not_ready_answers == 0"]["status"] == "fail"
    assert rows(verdict, "load-model-rollout")["error_rate == 0"]["status"] == "fail"
    assert chaos["old_version_replicas == 0"]["status"] == "pass"


@pytest.mark.slow
def test_a_slow_cold_start_fails_the_rollout(tmp_path: Path) -> None:
    code, verdict, _ = run_rollout(tmp_path, "slow-cold-start:seconds=6")
    assert code == 1, failed(verdict)
    cold = rows(verdict, "model-rollout")["cold_start_s < 5s"]
    assert cold["status"] == "fail" and cold["observed"] >= 6.0
    assert rows(verdict, "model-rollout")["not_ready_answers == 0"]["status"] == "pass"
