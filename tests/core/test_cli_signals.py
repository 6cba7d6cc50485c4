"""``harness run`` as a subprocess with the fake stage (HARNESS_PLUGINS): exit codes,
reports written, Ctrl-C (SIGINT) and SIGTERM mid-run, no child process left."""

from __future__ import annotations

import contextlib
import importlib.abc
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import junitparser
import psutil
import pytest

from tests.core.conftest import PROJECT_ROOT, write_suite
from tests.core.test_engine import assert_gone, pids_in


def harness_env(health_url: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        HARNESS_PLUGINS="tests.core.fake_stage:register",
        HARNESS_SERVING_URL=health_url,
        PYTHONPATH=str(PROJECT_ROOT),
        HARNESS_ROOT=str(PROJECT_ROOT),
        COLUMNS="120",
    )
    return env


def start(args: list[str], health_url: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "harness", *args],
        cwd=PROJECT_ROOT,
        env=harness_env(health_url),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


def suite(tmp_path: Path, steps: str) -> Path:
    return write_suite(tmp_path, f"""
name: cli-test
target: {{kind: external}}
stages:
  - name: only
    steps:
{steps}
""")


def wait_for(predicate: object, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():  # type: ignore[operator]
            return
        time.sleep(0.05)
    raise AssertionError("condition not reached in time")


def descendants(pid: int) -> list[int]:
    try:
        return [child.pid for child in psutil.Process(pid).children(recursive=True)]
    except psutil.NoSuchProcess:
        return []


def test_run_passes_and_writes_reports(tmp_path: Path, health_url: str) -> None:
    path = suite(tmp_path, """
      - {name: fine, kind: fake, metrics: {rps: 5, p95: 20}, criteria: ["rps > 1", "p95 < 50ms"]}
      - {name: slow, kind: fake, metrics: {p95: 80}, criteria: ["p95 < 50ms"]}
""")
    report = tmp_path / "report"
    proc = start(["run", str(path), "--report-dir", str(report)], health_url)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 1, err.decode()
    verdict = json.loads((report / "verdict.json").read_text())
    assert verdict["schema"] == "harness.verdict/1" and verdict["status"] == "fail"
    assert verdict["target"]["kind"] == "external"
    slow = next(s for s in verdict["steps"] if s["name"] == "slow")
    assert slow["criteria"][0] == {
        "name": "p95 < 50ms", "status": "fail", "observed": 80.0, "threshold": 50.0,
        "unit": "ms", "phase": None, "reason": "observed 80.0 vs p95 < 50ms"}
    assert slow["artifacts"] == ["slow/tool.stdout"]
    xml = junitparser.JUnitXml.fromfile(str(report / "junit.xml"))
    suites = {s.name: s for s in xml}
    assert suites["slow"].failures == 1 and suites["fine"].tests == 2
    assert "p95 < 50ms" in (report / "summary.md").read_text()
    assert b"FAIL" in out


def test_sigint_mid_run_exits_130_and_leaves_nothing(tmp_path: Path, health_url: str) -> None:
    pid_file = tmp_path / "pids"
    path = suite(tmp_path, f"""
      - {{name: hangs, kind: fake, mode: hang, timeout: 60s, pid_file: "{pid_file}",
          criteria: ["rps > 1"]}}
      - {{name: stubborn, kind: fake, mode: hang, ignore_term: true, timeout: 60s,
          pid_file: "{pid_file}", criteria: ["rps > 1"]}}
""")
    report = tmp_path / "report"
    proc = start(["run", str(path), "--report-dir", str(report)], health_url)
    try:
        wait_for(lambda: len(pids_in(pid_file)) == 4, 30)
        children = descendants(proc.pid)
        proc.send_signal(signal.SIGINT)
        time.sleep(0.2)
        proc.send_signal(signal.SIGINT)  # a second Ctrl-C must not skip the clean-up
        _, err = proc.communicate(timeout=30)
    finally:
        proc.kill()
    assert proc.returncode == 130, err.decode()
    verdict = json.loads((report / "verdict.json").read_text())
    assert verdict["status"] == "error" and verdict["reason"] == "interrupted by SIGINT"
    assert {s["name"]: (s["status"], s["summary"]) for s in verdict["steps"]} == {
        "hangs": ("error", "interrupted"), "stubborn": ("error", "interrupted")}
    events = [json.loads(line) for line in (report / "events.jsonl").read_text().splitlines()]
    assert [e["signal"] for e in events if e["event"] == "RunInterrupted"] == ["SIGINT"]
    assert (report / "junit.xml").exists() and (report / "summary.md").exists()
    assert_gone([*pids_in(pid_file), *children])


def test_sigterm_is_handled_like_ctrl_c(tmp_path: Path, health_url: str) -> None:
    pid_file = tmp_path / "pids"
    path = suite(tmp_path, f"""
      - {{name: hangs, kind: fake, mode: hang, timeout: 60s, pid_file: "{pid_file}",
          criteria: ["rps > 1"]}}
""")
    report = tmp_path / "report"
    proc = start(["run", str(path), "--report-dir", str(report)], health_url)
    try:
        wait_for(lambda: len(pids_in(pid_file)) == 2, 30)
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=30)
    finally:
        proc.kill()
    assert proc.returncode == 130
    assert json.loads((report / "verdict.json").read_text())["status"] == "error"
    assert_gone(pids_in(pid_file))


def test_invalid_suite_exits_2_before_anything_starts(tmp_path: Path, health_url: str) -> None:
    path = suite(tmp_path, """
      - {name: fine, kind: fake, metrcs: {rps: 5}, criteria: ["rps > 1"]}
""")
    report = tmp_path / "report"
    proc = start(["run", str(path), "--report-dir", str(report)], health_url)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 2
    assert f"{path}:8: stages[0].steps[0].metrcs: unknown key 'metrcs' (did you mean 'metrics'?)" \
        in err.decode()
    assert not report.exists()
    assert b"Traceback" not in err


def in_state(tmp_path: Path, health_url: str) -> dict[str, str]:
    return dict(harness_env(health_url), HARNESS_STATE_DIR=str(tmp_path / "state"))


def test_recover_stops_what_a_killed_run_left_however_it_escaped(
    tmp_path: Path, health_url: str
) -> None:
    """SIGKILL: the tool dies by its parent-death signal, but its own child, a plain fork,
    a daemon in its own session and an env-less group member outlive it; ``harness
    recover`` finds each one (the run's mark, its recorded group) and stops it."""
    pid_file = tmp_path / "pids"
    path = suite(tmp_path, f"""
      - {{name: hangs, kind: fake, mode: hang, escape: true, timeout: 60s,
          pid_file: "{pid_file}", criteria: ["rps > 1"]}}
""")
    env = in_state(tmp_path, health_url)
    proc = subprocess.Popen([sys.executable, "-m", "harness", "run", str(path), "--report-dir",
                             str(tmp_path / "report")], cwd=PROJECT_ROOT, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for(lambda: len(pids_in(pid_file)) == 5, 30)
    finally:
        proc.kill()
        proc.wait()
    tool, *escaped = pids_in(pid_file)
    try:
        assert_gone([tool])  # by the parent-death signal; nothing kills the rest:
        time.sleep(0.5)
        assert all(psutil.pid_exists(pid) for pid in escaped), "nothing escaped: vacuous"
        recovered = subprocess.run([sys.executable, "-m", "harness", "recover"],
                                   cwd=PROJECT_ROOT, env=env, capture_output=True, text=True,
                                   timeout=60)
        assert recovered.returncode == 0, recovered.stderr
        assert "4 stopped (its harness run was killed)" in recovered.stdout, recovered.stdout
        assert_gone(escaped)
    finally:
        kill_all(escaped)
    assert not list((tmp_path / "state" / "runs").glob("*.processes.jsonl"))
    again = subprocess.run([sys.executable, "-m", "harness", "recover"], cwd=PROJECT_ROOT,
                           env=env, capture_output=True, text=True, timeout=60)
    assert "nothing to recover" in again.stdout, again.stdout


def test_a_run_that_ends_stops_what_its_tools_left(tmp_path: Path, health_url: str) -> None:
    pid_file = tmp_path / "pids"
    path = suite(tmp_path, f"""
      - {{name: leaves, kind: fake, escape: true, pid_file: "{pid_file}",
          metrics: {{rps: 5}}, criteria: ["rps > 1"]}}
""")
    proc = subprocess.run([sys.executable, "-m", "harness", "run", str(path), "--report-dir",
                           str(tmp_path / "report")], cwd=PROJECT_ROOT,
                          env=in_state(tmp_path, health_url), capture_output=True, text=True,
                          timeout=60)
    try:
        assert proc.returncode == 0, proc.stderr
        assert_gone(pids_in(pid_file))
        # the group went with the tool; the daemon in its own session is found by its mark
        assert "1 stopped (left running at the end of the run)" in proc.stderr, proc.stderr
    finally:
        kill_all(pids_in(pid_file))


def kill_all(pids: list[int]) -> None:
    """A failing test leaves nothing behind either (only the fake tool's processes)."""
    for pid in pids:
        with contextlib.suppress(psutil.Error):
            proc = psutil.Process(pid)
            if "fake_tool.py" in " ".join(proc.cmdline()) or proc.name() == "sleep":
                proc.kill()


class _InterruptedImport(importlib.abc.MetaPathFinder):
    """A Ctrl-C that lands while ``harness.cli`` is being imported."""

    def find_spec(self, name: str, path: object, target: object = None) -> None:
        if name == "harness.cli":
            raise KeyboardInterrupt
        return None


def test_ctrl_c_while_the_cli_imports_is_an_interrupt_not_a_traceback(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from harness import launch

    monkeypatch.delitem(sys.modules, "harness.cli", raising=False)
    monkeypatch.setattr(sys, "meta_path", [_InterruptedImport(), *sys.meta_path])
    assert launch.main() == 130
    assert capsys.readouterr().err == "harness: interrupted\n"
