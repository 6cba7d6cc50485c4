"""The fault ledger and ``recover_all`` with real processes and files."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from harness.chaos.ledger import (
    ProcessRef,
    new_record,
    read_records,
    remove_record,
    write_record,
)
from harness.chaos.recovery import process_ref, recover_all
from harness.paths import ledger_dir
from testbed.faults import build_fault_state, read_fault_state, write_fault_state


@pytest.fixture
def sleeper() -> Iterator[subprocess.Popen[bytes]]:
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        yield proc
    finally:
        os.kill(proc.pid, signal.SIGCONT) if proc.poll() is None else None
        proc.kill()
        proc.wait(5)


def wait_status(pid: int, wanted: str, timeout_s: float = 3.0) -> str:
    deadline = time.monotonic() + timeout_s
    status = psutil.Process(pid).status()
    while status != wanted and time.monotonic() < deadline:
        time.sleep(0.01)
        status = psutil.Process(pid).status()
    return status


def test_frozen_process_is_resumed(sleeper: subprocess.Popen[bytes]) -> None:
    record = new_record("freeze", "sleeper", processes=[process_ref(sleeper.pid)])
    write_record(record)
    os.kill(sleeper.pid, signal.SIGSTOP)
    assert wait_status(sleeper.pid, psutil.STATUS_STOPPED) == psutil.STATUS_STOPPED

    lines = recover_all()

    assert wait_status(sleeper.pid, psutil.STATUS_SLEEPING) != psutil.STATUS_STOPPED
    assert len(lines) == 1 and lines[0].startswith("reverted freeze sleeper")
    assert read_records() == []
    assert recover_all() == []  # idempotent


def test_stress_process_is_killed(sleeper: subprocess.Popen[bytes]) -> None:
    write_record(new_record("stress", "burner", processes=[process_ref(sleeper.pid)]))
    lines = recover_all()
    sleeper.wait(5)  # recovery reaped our child already (psutil.wait_procs): gone either way
    assert not psutil.pid_exists(sleeper.pid)
    assert lines[0].startswith("reverted stress")


def test_gone_process_is_not_an_error() -> None:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    ref = process_ref(proc.pid)
    proc.wait(5)
    write_record(new_record("freeze", "gone", processes=[ref]))
    write_record(new_record("stress", "gone", processes=[ref]))
    lines = recover_all()
    assert all(line.startswith("reverted") for line in lines), lines
    assert read_records() == []


def test_recycled_pid_is_never_touched(sleeper: subprocess.Popen[bytes]) -> None:
    # Same pid, other create time: a different process that must be left alone.
    impostor = ProcessRef(sleeper.pid, psutil.Process(sleeper.pid).create_time() - 100.0)
    write_record(new_record("stress", "recycled", processes=[impostor]))
    recover_all()
    assert sleeper.poll() is None


def test_ballast_is_deleted(tmp_path: Path) -> None:
    ballast = tmp_path / "ballast.bin"
    ballast.write_bytes(b"x" * 1024)
    write_record(new_record("ballast", str(ballast), file_path=str(ballast)))
    assert recover_all()[0].startswith("reverted ballast")
    assert not ballast.exists()
    write_record(new_record("ballast", str(ballast), file_path=str(ballast)))
    assert recover_all()[0].startswith("reverted ballast")  # already gone: still fine


def test_serving_switch_cleared_in_state_file_when_service_is_down(tmp_path: Path) -> None:
    state_path = tmp_path / "faults.json"
    write_fault_state(state_path, build_fault_state(["latency:dist=fixed,ms=150", "fragile"]))
    write_record(
        new_record(
            "serving-fault",
            "latency",
            url="http://127.0.0.1:9",  # nothing listens: the file fallback must do it
            fault_names=("latency",),
            fault_state_path=str(state_path),
            manifest_path=str(tmp_path / "no-manifest.json"),
        )
    )
    assert recover_all()[0].startswith("reverted serving-fault")
    names = [f.name for f in read_fault_state(state_path).faults]
    assert names == ["fragile"]  # only ours was removed


def test_record_is_durable_json_before_injection() -> None:
    record = new_record("freeze", "x", processes=[ProcessRef(1, 2.0)])
    path = write_record(record)
    data = json.loads(path.read_text())
    assert data["schema"] == "harness.fault/1" and data["processes"] == [
        {"pid": 1, "create_time": 2.0}
    ]
    assert path.parent == ledger_dir()
    assert remove_record(record.id) is True
    assert remove_record(record.id) is False


def test_unreadable_entry_is_reported_not_raised() -> None:
    ledger_dir().mkdir(parents=True, exist_ok=True)
    (ledger_dir() / "junk.json").write_text("{not json")
    lines = recover_all()
    assert lines and "unreadable" in lines[0]


def test_live_owner_gets_time_to_roll_back_first(sleeper: subprocess.Popen[bytes]) -> None:
    other = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(0.5)"])
    try:
        record = new_record("stress", "owned", processes=[process_ref(sleeper.pid)])
        record = type(record)(**{**record.__dict__, "owner_pid": other.pid})
        write_record(record)
        started = time.monotonic()
        recover_all(owner_grace_s=5.0)
        waited = time.monotonic() - started
        assert 0.3 < waited < 4.0  # waited for the owner to exit, not the whole grace
        sleeper.wait(5)
        assert not psutil.pid_exists(sleeper.pid)
    finally:
        other.wait(5)
