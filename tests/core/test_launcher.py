"""``target.external.launcher``: the suite's own script starts the platform (here: a
``python -m http.server`` in its own session) and stops it on every path, and a harness
killed with SIGKILL leaves a lease that ``harness recover`` uses to stop it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import psutil
import pytest

HARNESS = str(Path(sys.executable).parent / "harness")

LAUNCHER = """
import json, os, signal, socket, subprocess, sys, time, urllib.request
from pathlib import Path

command, directory = sys.argv[1], Path(sys.argv[2])
if command == "up":
    if os.environ.get("FAIL_UP"):
        sys.exit("cannot start: FAIL_UP is set")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen([sys.executable, "-m", "http.server", str(port), "--bind",
                             "127.0.0.1", "--directory", str(directory)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    (directory / "server.pid").write_text(str(proc.pid))
    for _ in range(100):
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=1)
            break
        except OSError:
            time.sleep(0.1)
    manifest = {"services": {"web": {"url": f"http://127.0.0.1:{port}"}}}
    (directory / "manifest.json").write_text(json.dumps(manifest))
else:
    (directory / "down-ran").write_text("yes")
    pid_file = directory / "server.pid"
    if pid_file.exists():
        try:
            os.killpg(int(pid_file.read_text()), signal.SIGKILL)
        except ProcessLookupError:
            pass
"""

LOCUSTFILE = """
from locust import FastHttpUser, constant_throughput, task
from harness.load.scenario_env import service_url

class WebUser(FastHttpUser):
    host = service_url("web")
    wait_time = constant_throughput(5)

    @task
    def index(self):
        self.client.get("/")
"""


def _project(tmp_path: Path, duration: str) -> Path:
    (tmp_path / "suites").mkdir()
    (tmp_path / "launch.py").write_text(LAUNCHER)
    (tmp_path / "web_load.py").write_text(LOCUSTFILE)
    suite = tmp_path / "suites" / "web.yaml"
    suite.write_text(
        textwrap.dedent(
            f"""
            name: launched
            target:
              kind: external
              external:
                launcher:
                  up: [{sys.executable}, launch.py, up, "{{dir}}"]
                  down: [{sys.executable}, launch.py, down, "{{dir}}"]
                  timeout: 60s
                services:
                  web: {{health: /}}
            stages:
              - name: load
                steps:
                  - name: web-load
                    kind: load
                    locustfile: web_load.py
                    service: web
                    users: 2
                    processes: 1
                    duration: {duration}
                    timeout: 2m
                    criteria: ["requests >= 5", "error_rate < 1%"]
            """
        )
    )
    return suite


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    return {**os.environ, "HARNESS_STATE_DIR": str(tmp_path / "state"), **extra}


def _platform_dir(tmp_path: Path) -> Path:
    (found,) = (tmp_path / "state" / "platforms").iterdir()
    return found


def _server_alive(directory: Path) -> bool:
    try:
        proc = psutil.Process(int((directory / "server.pid").read_text()))
        return proc.is_running() and proc.status() != psutil.STATUS_ZOMBIE
    except (psutil.Error, OSError, ValueError):
        return False


@pytest.mark.e2e
def test_launched_platform_is_tested_and_stopped(tmp_path: Path) -> None:
    suite = _project(tmp_path, "3s")
    done = subprocess.run(
        [HARNESS, "run", str(suite), "--report-dir", str(tmp_path / "report")],
        capture_output=True, text=True, timeout=300, cwd=tmp_path, env=_env(tmp_path),
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    directory = _platform_dir(tmp_path)
    assert (directory / "down-ran").exists() and not _server_alive(directory)
    assert list((tmp_path / "state" / "platform-leases").glob("*.json")) == []


def test_a_failing_launcher_is_an_error_and_down_still_runs(tmp_path: Path) -> None:
    suite = _project(tmp_path, "3s")
    done = subprocess.run(
        [HARNESS, "run", str(suite), "--report-dir", str(tmp_path / "report")],
        capture_output=True, text=True, timeout=120, cwd=tmp_path,
        env=_env(tmp_path, FAIL_UP="1"),
    )  # fmt: skip
    assert done.returncode == 2
    assert "launcher up exited with code 1: cannot start: FAIL_UP is set" in done.stdout
    assert (_platform_dir(tmp_path) / "down-ran").exists()


@pytest.mark.e2e
def test_recover_stops_a_platform_left_by_a_killed_run(tmp_path: Path) -> None:
    suite = _project(tmp_path, "60s")
    run = subprocess.Popen(
        [HARNESS, "run", str(suite), "--report-dir", str(tmp_path / "report")],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=tmp_path,
        env=_env(tmp_path), start_new_session=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            dirs = list((tmp_path / "state" / "platforms").glob("*"))
            if dirs and (dirs[0] / "manifest.json").exists() and _server_alive(dirs[0]):
                break
            time.sleep(0.2)
        directory = _platform_dir(tmp_path)
        assert _server_alive(directory)
    finally:
        run.send_signal(signal.SIGKILL)
        run.wait(timeout=30)
    assert _server_alive(directory) and not (directory / "down-ran").exists()
    recovered = subprocess.run(
        [HARNESS, "recover"], capture_output=True, text=True, timeout=120, cwd=tmp_path,
        env=_env(tmp_path),
    )  # fmt: skip
    assert recovered.returncode == 0, recovered.stdout + recovered.stderr
    assert f"platform {directory}: stopped" in recovered.stdout
    assert (directory / "down-ran").exists() and not _server_alive(directory)
