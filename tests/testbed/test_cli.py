"""``python -m testbed up | down | status`` as a user runs them: real processes, real ports."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import psutil
import pytest

from testbed.manifest import live_pods, load_manifest
from testbed.processes import free_port

REPO_ROOT = Path(__file__).resolve().parents[2]


def _testbed(*args: str, cwd: Path, timeout_s: float = 120.0) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "testbed", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout_s,
        env={**os.environ, "TESTBED_STATE_DIR": ""},
    )


def _processes_mentioning(text: str) -> list[psutil.Process]:
    """Live processes whose command line or environment mentions ``text`` (the serving
    workers carry the state dir only in their environment)."""
    found = []
    for proc in psutil.process_iter(["cmdline", "status"]):
        try:
            if proc.info["status"] == psutil.STATUS_ZOMBIE:
                continue
            cmdline = " ".join(proc.info["cmdline"] or ())
            environ = " ".join(proc.environ().values()) if text not in cmdline else ""
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
        if text in cmdline or text in environ:
            found.append(proc)
    return found


def _alive(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


@pytest.mark.parametrize(
    ("spec", "names"),
    [
        ("latency:dist=fixed,ms=oops", "ms='oops' is not a number"),
        ("chaos-monkey", "unknown fault name 'chaos-monkey'"),
        ("errors:rate=2", "rate=2 must lie in [0, 1]"),
    ],
)
def test_bad_fault_spec_exits_2_and_starts_nothing(tmp_path: Path, spec: str, names: str) -> None:
    state_dir = tmp_path / "state"
    result = _testbed(
        "up", "--state-dir", str(state_dir), "--fault", "fragile", "--fault", spec, cwd=tmp_path
    )
    assert result.returncode == 2, result
    assert names in result.stderr
    assert "Traceback" not in result.stderr
    assert not (state_dir / "manifest.json").exists()
    assert _processes_mentioning(str(state_dir)) == []


def test_status_and_down_without_a_testbed(tmp_path: Path) -> None:
    status = _testbed("status", "--manifest", str(tmp_path / "none.json"), cwd=tmp_path)
    assert status.returncode == 2 and "no testbed manifest" in status.stderr
    down = _testbed("down", "--manifest", str(tmp_path / "none.json"), cwd=tmp_path)
    assert down.returncode == 0 and "nothing running" in down.stdout


def test_a_broken_service_makes_up_fail_cleanly(tmp_path: Path) -> None:
    state_dir = tmp_path / "state"
    result = _testbed(
        "up", "--state-dir", str(state_dir), "--database-url", "nosuchdb://nowhere", cwd=tmp_path
    )
    assert result.returncode == 2, result
    assert "registry" in result.stderr and "log tail" in result.stderr
    assert not (state_dir / "manifest.json").exists()
    deadline = time.monotonic() + 5
    while _processes_mentioning(str(state_dir)) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert _processes_mentioning(str(state_dir)) == []


@pytest.mark.e2e
def test_up_status_down_lifecycle(tmp_path: Path) -> None:
    state_dir = tmp_path / "state"
    manifest_path = tmp_path / "tb" / "manifest.json"
    up = _testbed(
        "up",
        "--state-dir", str(state_dir),
        "--manifest", str(manifest_path),
        "--replicas", "3",
        "--fault", "latency:dist=fixed,ms=30",
        "--fault", "registry-wrong-status",
        "--fault", "db-down",  # the registry is then up but not ready: up must not wait for it
        "--fault", "fragile",
        "--rate-limit", "500",
        cwd=tmp_path,
    )  # fmt: skip
    assert up.returncode == 0, up.stderr
    try:
        manifest = load_manifest(manifest_path)
        services = manifest.services
        assert manifest.schema_id == "testbed.manifest/1"
        assert manifest.complete
        assert services.serving.replicas == 3
        assert len(manifest.pods) == 3
        assert {p.labels["app"] for p in manifest.pods} == {"model-serving"}
        assert [p.pid for p in live_pods(manifest)] == sorted(p.pid for p in manifest.pods)
        assert oct(Path(manifest.tokens_file).stat().st_mode & 0o777) == "0o600"
        assert json.loads(Path(manifest.tokens_file).read_text())["admin"] == manifest.tokens.admin
        assert manifest.faults == [
            "latency:dist=fixed,ms=30",
            "registry-wrong-status",
            "db-down",
            "fragile",
        ]
        # fragile: evicted after the first deploy, while every pod had loaded the model.
        assert not (state_dir / "serving" / "deployed" / "model.joblib").exists()
        assert all(p.ready for p in manifest.pods)
        # Each service is up and in its own session (outlives `up`), logs in the state dir.
        for entry in (services.registry, services.serving, services.orchestrator):
            assert httpx.get(f"{entry.url}/health", timeout=5).status_code == 200
            assert os.getsid(entry.pid) == entry.pid
            assert Path(entry.log).parent == state_dir / "logs"
        registry_cmdline = psutil.Process(services.registry.pid).cmdline()
        assert "--fault" in registry_cmdline and "registry-wrong-status" in registry_cmdline
        assert "db-down" in registry_cmdline
        assert httpx.get(f"{services.registry.url}/ready", timeout=5).status_code == 503
        admin = {"Authorization": f"Bearer {manifest.tokens.admin}"}
        faults = httpx.get(f"{services.serving.url}/admin/faults", headers=admin, timeout=5).json()
        assert faults["faults"] == ["latency:dist=fixed,ms=30", "fragile"]
        assert faults["rate_limit_rps"] == 500
        started = time.perf_counter()
        predicted = httpx.post(
            f"{services.serving.url}/predict", json={"features": [0.0] * 8}, timeout=5
        )
        assert predicted.status_code == 200 and time.perf_counter() - started >= 0.03

        status = _testbed("status", "--manifest", str(manifest_path), cwd=tmp_path)
        assert status.returncode == 0, status.stdout
        assert "model-serving-1" in status.stdout and "3/3" in status.stdout

        again = _testbed("up", "--state-dir", str(state_dir), "--manifest", str(manifest_path),
                         cwd=tmp_path)  # fmt: skip
        assert again.returncode == 2 and "already running" in again.stderr

        os.kill(services.orchestrator.pid, signal.SIGKILL)
        time.sleep(0.3)
        status = _testbed("status", "--manifest", str(manifest_path), cwd=tmp_path)
        assert status.returncode == 1
        assert "orchestrator  DOWN" in status.stdout
    finally:
        pids = [
            services.registry.pid,
            services.serving.pid,
            services.orchestrator.pid,
            *(p.pid for p in live_pods(manifest)),
        ]
        down = _testbed("down", "--manifest", str(manifest_path), cwd=tmp_path)
    assert down.returncode == 0, down.stderr
    assert "stopped" in down.stdout
    assert [pid for pid in pids if _alive(pid)] == []
    assert not manifest_path.exists()
    assert _processes_mentioning(str(state_dir)) == []
    again = _testbed("down", "--manifest", str(manifest_path), cwd=tmp_path)
    assert again.returncode == 0 and "nothing running" in again.stdout


@pytest.mark.e2e
def test_down_cleans_up_after_an_up_that_was_killed(tmp_path: Path) -> None:
    state_dir = tmp_path / "state"
    manifest_path = state_dir / "manifest.json"
    up = subprocess.Popen(
        [sys.executable, "-m", "testbed", "up", "--state-dir", str(state_dir)],
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        while not manifest_path.exists():  # written once every service was started
            assert up.poll() is None, "up ended before writing its manifest"
            assert time.monotonic() < deadline
            time.sleep(0.05)
    finally:
        up.kill()
        up.wait()
    assert _processes_mentioning(str(state_dir)) != []  # the services outlive `up`
    down = _testbed("down", "--manifest", str(manifest_path), cwd=tmp_path)
    assert down.returncode == 0, down.stderr
    assert _processes_mentioning(str(state_dir)) == []


@pytest.mark.e2e
def test_up_picks_new_ports_when_one_was_taken(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import socket

    import testbed.cli

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        taken_port = taken.getsockname()[1]
        picks: list[int] = []

        def pick_port() -> int:  # the first pick (the registry's) is a port in use
            picks.append(taken_port if not picks else free_port())
            return picks[-1]

        monkeypatch.setattr(testbed.cli, "free_port", pick_port)
        options = testbed.cli.TestbedOptions(
            state_dir=tmp_path / "state", manifest_path=tmp_path / "state" / "manifest.json"
        )
        manifest = asyncio.run(asyncio.wait_for(testbed.cli.start_testbed(options), 120))
    try:
        assert len(picks) == 6  # two attempts of three ports
        assert manifest.services.registry.url != f"http://127.0.0.1:{taken_port}"
        log = Path(manifest.services.registry.log).read_text()
        assert "address already in use" in log
    finally:
        stopped = testbed.cli.stop_testbed(options.manifest_path)
    assert stopped == ["orchestrator", "serving", "registry"]
