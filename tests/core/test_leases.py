"""Testbed leases: a testbed whose harness run was killed is stopped by recovery;
one whose owner is alive is left alone."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import psutil
import pytest

from harness.targets.leases import leases_dir, reap_orphaned_testbeds, take_lease


@pytest.fixture(autouse=True)
def _state_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HARNESS_STATE_DIR", str(tmp_path / "state"))


def _service_in(testbed_dir: Path) -> subprocess.Popen[bytes]:
    """A stand-in for a testbed service: a process whose cwd is the testbed dir."""
    testbed_dir.mkdir(parents=True, exist_ok=True)
    return subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"], cwd=testbed_dir)


def test_a_lease_of_a_dead_owner_stops_its_testbed(tmp_path: Path) -> None:
    testbed_dir = (tmp_path / "run" / "testbed").resolve()
    service = _service_in(testbed_dir)
    try:
        owner = subprocess.Popen([sys.executable, "-c", "pass"])
        started = psutil.Process(owner.pid).create_time()
        owner.wait()
        lease = take_lease(testbed_dir)
        record = json.loads(lease.read_text())
        record.update(owner_pid=owner.pid, owner_started=started)
        lease.write_text(json.dumps(record))

        lines = reap_orphaned_testbeds(tmp_path)

        assert lines == [f"testbed {testbed_dir}: stopped (its harness run was killed)"]
        assert service.wait(timeout=10) is not None
        assert not list(leases_dir().glob("*.json"))
    finally:
        service.kill()
        service.wait()


def test_a_lease_of_a_live_owner_is_left_alone(tmp_path: Path) -> None:
    testbed_dir = (tmp_path / "run" / "testbed").resolve()
    service = _service_in(testbed_dir)
    try:
        take_lease(testbed_dir)  # owned by this (live) test process

        assert reap_orphaned_testbeds(tmp_path) == []
        assert service.poll() is None
        assert len(list(leases_dir().glob("*.json"))) == 1
    finally:
        service.kill()
        service.wait()
