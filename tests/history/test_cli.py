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
from tests.history.conftest import url_of_store


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


@pytest.fixture(params=[
    "sqlite", pytest.param("postgresql", marks=[pytest.mark.postgres, pytest.mark.slow])])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The CLI on SQLite in the default run; the same on PostgreSQL in the slow set (the
    store itself is tested on both in test_store.py and test_record.py)."""
    return url_of_store(request, tmp_path)


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
    assert "recording run" in verdict["reason"]


def _read(path: Path) -> str:
    try:
        return path.read_text()
    except OSError:
        return ""


def test_history_survives_a_sigkill_mid_run(tmp_path: Path, env: dict[str, str]) -> None:
    done = run(["run", str(suite(tmp_path, 20)), "--report-dir", str(tmp_path / "a")], env)
    assert done.returncode == 0, done.stderr
    report = tmp_path / "killed"
    machine_tmp = tmp_path / "machine-tmp"  # the killed run's idea of the temp directory
    machine_tmp.mkdir()
    proc = subprocess.Popen(
        [sys.executable, "-m", "harness", "run", str(suite(tmp_path, 20, sleep=30)),
         "--report-dir", str(report)],
        cwd=PROJECT_ROOT, env={**env, "TMPDIR": str(machine_tmp)},
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_for(lambda: "StepStarted" in _read(report / "events.jsonl"), 30)
    killed_id = json.loads(_read(report / "events.jsonl").splitlines()[0])["run_id"]
    scratch = Path(env["HARNESS_STATE_DIR"]) / "runs" / killed_id
    wait_for(lambda: any(scratch.glob("fake-load-*")), 10)  # the step's work dir is there
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(10)

    before = run(["history"], env)
    assert killed_id not in before.stdout  # still "running" until recovered
    recovered = run(["recover"], env)
    assert recovered.returncode == 0, recovered.stderr
    assert f"history: run {killed_id} recorded as interrupted" in recovered.stdout
    assert f"work directory of run {killed_id}: removed" in recovered.stdout
    assert not scratch.exists()  # the killed step's work dir went with recover
    assert list(machine_tmp.iterdir()) == []  # and nothing of the run was ever there
    after = run(["history"], env)
    assert killed_id in after.stdout and "ERROR (interrupted)" in after.stdout
    first_id = json.loads((tmp_path / "a" / "verdict.json").read_text())["run_id"]
    assert first_id in after.stdout and "PASS" in after.stdout
    assert "nothing to recover" in run(["recover"], env).stdout


@pytest.fixture
def sqlite_env(tmp_path: Path, health_url: str) -> dict[str, str]:
    """Baseline resolution is the same on any store: these run on SQLite only."""
    values = harness_env(health_url)
    values.update(HARNESS_HISTORY_URL=f"sqlite:///{tmp_path / 'history.sqlite'}",
                  HARNESS_STATE_DIR=str(tmp_path / "state"), COLUMNS="200")
    return values


def baseline_suite(tmp_path: Path, p95: float, criteria: str, name: str) -> Path:
    return write_suite(tmp_path, f"""
name: {name}
target: {{kind: external}}
stages:
  - name: only
    steps:
      - {{name: fake-load, kind: fake, metrics: {{rps: 50, p95: {p95}}}, criteria: {criteria}}}
""", name=f"{name}-{p95}.yaml")


def verdict_of(report: Path) -> dict[str, object]:
    data: dict[str, object] = json.loads((report / "verdict.json").read_text())
    return data


def criterion(report: Path, name: str) -> dict[str, object]:
    (step,) = verdict_of(report)["steps"]  # type: ignore[misc]
    found: dict[str, object] = next(c for c in step["criteria"] if c["name"] == name)
    return found


def test_baseline_skipped_first_then_judged_then_failing(
    tmp_path: Path, sqlite_env: dict[str, str]
) -> None:
    criteria = '["p95 < 100ms", "p95 < baseline * 1.10", "rps >= baseline * 0.95"]'
    reports = [tmp_path / f"r{i}" for i in range(3)]
    codes = []
    for report, p95 in zip(reports, (20.0, 21.0, 30.0), strict=True):
        path = baseline_suite(tmp_path, p95, criteria, "brand-new")
        done = run(["run", str(path), "--report-dir", str(report)], sqlite_env)
        codes.append(done.returncode)
        assert done.returncode in (0, 1), done.stdout + done.stderr
    assert codes == [0, 0, 1]
    first = criterion(reports[0], "p95 < baseline * 1.10")
    assert first["status"] == "skipped"
    assert first["reason"] == "no passing run of suite brand-new yet"
    assert verdict_of(reports[0])["status"] == "pass"  # on its other criteria

    run_1 = str(verdict_of(reports[0])["run_id"])
    second = criterion(reports[1], "p95 < baseline * 1.10")
    assert second["status"] == "pass" and second["observed"] == 21.0
    assert second["threshold"] == pytest.approx(22.0)
    assert second["baseline"] == {"value": 20.0, "run_id": run_1, "runs": [run_1]}

    run_2 = str(verdict_of(reports[1])["run_id"])
    third = criterion(reports[2], "p95 < baseline * 1.10")
    assert third["status"] == "fail" and third["observed"] == 30.0
    assert f"baseline 21 ms (last passing run: run {run_2}) -> threshold 23.1 ms" in str(
        third["reason"])
    assert criterion(reports[2], "rps >= baseline * 0.95")["status"] == "pass"
    summary = (reports[2] / "summary.md").read_text()
    assert "p95 < baseline * 1.10" in summary


def test_only_baseline_criteria_with_none_available_is_error(
    tmp_path: Path, sqlite_env: dict[str, str]
) -> None:
    path = baseline_suite(tmp_path, 20.0, '["p95 < baseline * 1.10"]', "only-baselines")
    done = run(["run", str(path), "--report-dir", str(tmp_path / "r")], sqlite_env)
    assert done.returncode == 2, done.stdout + done.stderr
    (step,) = verdict_of(tmp_path / "r")["steps"]  # type: ignore[misc]
    assert step["status"] == "error"
    assert "only baseline criteria, none available" in step["summary"]


def test_median_of_last_and_a_pinned_run(tmp_path: Path, sqlite_env: dict[str, str]) -> None:
    ids = []
    for index, p95 in enumerate((10.0, 30.0, 20.0)):
        path = baseline_suite(tmp_path, p95, '["p95 < 100ms"]', "medians")
        report = tmp_path / f"r{index}"
        assert run(["run", str(path), "--report-dir", str(report)], sqlite_env).returncode == 0
        ids.append(str(verdict_of(report)["run_id"]))
    criteria = (
        '["p95 < 100ms", {expr: "p95 < baseline * 1.10", baseline: {median_of_last: 3}},'
        f' {{expr: "p95 <= baseline + 1ms", baseline: "{ids[0]}"}}]'
    )
    path = baseline_suite(tmp_path, 21.0, criteria, "medians")
    done = run(["run", str(path), "--report-dir", str(tmp_path / "last")], sqlite_env)
    assert done.returncode == 1, done.stdout + done.stderr
    median = criterion(tmp_path / "last",
                       "p95 < baseline * 1.10 [baseline: median of the last 3 passing runs]")
    assert median["status"] == "pass" and median["threshold"] == pytest.approx(22.0)
    assert sorted(median["baseline"]["runs"]) == sorted(ids)  # type: ignore[index]
    pinned = criterion(tmp_path / "last", f"p95 <= baseline + 1ms [baseline: run {ids[0]}]")
    assert pinned["status"] == "fail" and pinned["threshold"] == pytest.approx(11.0)
