"""``harness run`` / ``history`` / ``compare`` / ``recover`` as subprocesses with the fake
stage, on SQLite and PostgreSQL: runs listed, deltas printed, a store that cannot be
written is exit 2 without hanging, a SIGKILLed run is recorded by the next recover."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.core.conftest import PROJECT_ROOT, write_suite
from tests.core.test_cli_signals import harness_env, wait_for


def suite(tmp_path: Path, p95: float, sleep: float = 0.0, name: str = "hist-test") -> Path:
    return write_suite(tmp_path, f"""
name: {name}
target: {{kind: external}}
stages:
  - name: only
    steps:
      - {{name: fake-load, kind: fake, sleep: {sleep}, metrics: {{rps: 50, p95: {p95}}},
         criteria: ["p95 < 100ms"]}}
""", name=f"suite-{p95}-{sleep}.yaml")


def run(
    args: list[str], env: dict[str, str], timeout_s: float = 60
) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "harness", *args], cwd=PROJECT_ROOT, env=env,
                          capture_output=True, text=True, timeout=timeout_s)


@pytest.fixture
def env(store_url: str, tmp_path: Path, health_url: str) -> dict[str, str]:
    values = harness_env(health_url)
    values.update(HARNESS_HISTORY_URL=store_url, HARNESS_STATE_DIR=str(tmp_path / "state"),
                  COLUMNS="200")
    return values


def test_two_runs_are_listed_and_compared(tmp_path: Path, env: dict[str, str]) -> None:
    first = run(["run", str(suite(tmp_path, 20)), "--report-dir", str(tmp_path / "a")], env)
    assert first.returncode == 0, first.stderr
    second = run(["run", str(suite(tmp_path, 90)), "--report-dir", str(tmp_path / "b")], env)
    assert second.returncode == 0, second.stderr
    ids = [json.loads((tmp_path / d / "verdict.json").read_text())["run_id"] for d in "ab"]
    assert (tmp_path / "b" / "report.html").exists()

    listed = run(["history", "--suite", "hist-test"], env)
    assert listed.returncode == 0, listed.stderr
    assert ids[0] in listed.stdout and ids[1] in listed.stdout
    assert listed.stdout.index(ids[1]) < listed.stdout.index(ids[0])  # newest first
    assert run(["history", "--limit", "1"], env).stdout.count("hist-test") == 1
    assert "no runs of suite 'other'" in run(["history", "--suite", "other"], env).stdout

    compared = run(["compare"], env)  # latest vs the last passing run before it
    assert compared.returncode == 0, compared.stderr
    line = next(li for li in compared.stdout.splitlines() if " p95 " in li)
    assert "20" in line and "90" in line and "+70" in line and "REGRESSION" in line
    assert "1 regression(s)" in compared.stdout
    markdown = run(["compare", ids[0], ids[1], "--format", "markdown"], env)
    assert markdown.returncode == 0, markdown.stderr
    assert f"`{ids[0]}` (pass) → `{ids[1]}` (pass)" in markdown.stdout
    assert "| fake-load | all | whole run | p95 | 20 ms | 90 ms | +70 ms (+350.0 %) |" \
        " **regression** |" in markdown.stdout
    missing = run(["compare", "nope"], env)
    assert missing.returncode == 2 and "no run 'nope'" in missing.stderr


def test_a_store_that_cannot_be_written_is_exit_2(tmp_path: Path, health_url: str) -> None:
    env = harness_env(health_url)
    env.update(HARNESS_STATE_DIR=str(tmp_path / "state"),
               HARNESS_HISTORY_URL="postgresql://postgres:pw@127.0.0.1:9/history")
    started = time.monotonic()
    result = run(["run", str(suite(tmp_path, 20)), "--report-dir", str(tmp_path / "r")], env)
    assert result.returncode == 2
    assert "history store postgresql+psycopg://postgres:***@127.0.0.1:9/history" in result.stderr
    assert "the run was not started" in result.stderr and "Traceback" not in result.stderr
    assert time.monotonic() - started < 30
    assert run(["history"], env).returncode == 2


def test_a_store_lost_during_the_run_makes_it_error(tmp_path: Path, health_url: str) -> None:
    db = tmp_path / "history.sqlite"
    env = harness_env(health_url)
    env.update(HARNESS_STATE_DIR=str(tmp_path / "state"), HARNESS_HISTORY_URL=f"sqlite:///{db}")
    report = tmp_path / "r"
    proc = subprocess.Popen(
        [sys.executable, "-m", "harness", "run", str(suite(tmp_path, 20, sleep=3)),
         "--report-dir", str(report)],
        cwd=PROJECT_ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    wait_for(lambda: "StepStarted" in _read(report / "events.jsonl"), 30)
    import sqlite3

    with sqlite3.connect(db) as connection:
        connection.execute("DROP TABLE criteria")
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 2, out + err
    verdict = json.loads((report / "verdict.json").read_text())
    assert verdict["status"] == "error" and "history store sqlite:///" in verdict["reason"]
    assert "recording run" in err


def _read(path: Path) -> str:
    try:
        return path.read_text()
    except OSError:
        return ""


def test_history_survives_a_sigkill_mid_run(tmp_path: Path, env: dict[str, str]) -> None:
    done = run(["run", str(suite(tmp_path, 20)), "--report-dir", str(tmp_path / "a")], env)
    assert done.returncode == 0, done.stderr
    report = tmp_path / "killed"
    proc = subprocess.Popen(
        [sys.executable, "-m", "harness", "run", str(suite(tmp_path, 20, sleep=30)),
         "--report-dir", str(report)],
        cwd=PROJECT_ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_for(lambda: "StepStarted" in _read(report / "events.jsonl"), 30)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(10)
    killed_id = json.loads(_read(report / "events.jsonl").splitlines()[0])["run_id"]

    before = run(["history"], env)
    assert killed_id not in before.stdout  # still "running" until recovered
    recovered = run(["recover"], env)
    assert recovered.returncode == 0, recovered.stderr
    assert f"history: run {killed_id} recorded as interrupted" in recovered.stdout
    after = run(["history"], env)
    assert killed_id in after.stdout and "ERROR (interrupted)" in after.stdout
    first_id = json.loads((tmp_path / "a" / "verdict.json").read_text())["run_id"]
    assert first_id in after.stdout and "PASS" in after.stdout
    assert "nothing to recover" in run(["recover"], env).stdout
