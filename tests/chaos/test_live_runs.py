"""Faults and testbeds of a *live* run are not leftovers: recovery (``harness recover`` and
the start of every other run) leaves them alone at once, says so, and reverts them only
once that run is dead (finding 9 and the lease part of finding 1 of issue 11)."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from harness.chaos.ledger import new_record, read_records, write_record
from harness.chaos.recovery import live_faults, recover_all
from harness.live_runs import holding_run, run_is_live
from harness.targets.leases import LeaseHeld, leases_dir, live_testbeds, take_lease
from tests.core.conftest import PROJECT_ROOT

HOLDER = textwrap.dedent("""
    import sys, time
    from harness.live_runs import holding_run
    with holding_run(sys.argv[1]):
        print("held", flush=True)
        time.sleep(60)
""")


@pytest.fixture
def live_run(private_state_dir: Path) -> Iterator[subprocess.Popen[str]]:
    """Another harness run, alive: a process holding the run lock of run ``R1``."""
    proc = subprocess.Popen(
        [sys.executable, "-c", HOLDER, "R1"], cwd=PROJECT_ROOT, text=True,
        stdout=subprocess.PIPE, env={**os.environ, "HARNESS_STATE_DIR": str(private_state_dir)},
    )
    assert proc.stdout is not None and proc.stdout.readline().strip() == "held"
    try:
        yield proc
    finally:
        proc.kill()
        proc.wait(5)


def ballast_of(run_tag: str, path: Path, owner_pid: int) -> None:
    path.write_bytes(b"x" * 1024)
    record = new_record("ballast", str(path), file_path=str(path))
    write_record(type(record)(**{**record.__dict__, "run_id": run_tag, "owner_pid": owner_pid}))


def test_a_live_runs_fault_is_left_alone_at_once_and_said_to_be_live(
    tmp_path: Path, live_run: subprocess.Popen[str]
) -> None:
    ballast = tmp_path / "ballast.bin"
    ballast_of("R1/disk-fill", ballast, owner_pid=live_run.pid)  # its chaos run: alive
    assert run_is_live("R1/disk-fill")

    started = time.monotonic()
    lines = recover_all(owner_grace_s=10.0)
    took_s = time.monotonic() - started

    assert lines == []  # nothing reported as "left by an earlier run"
    assert took_s < 2.0  # no waiting on the other run's chaos process
    assert ballast.exists() and len(read_records()) == 1
    assert live_faults() == [f"left alone ballast {ballast}: run R1 is still live"]

    live_run.kill()
    live_run.wait(5)
    assert not run_is_live("R1/disk-fill")
    (line,) = recover_all(owner_grace_s=0.0)
    assert line.startswith("reverted ballast") and not ballast.exists()


def test_harness_recover_lists_a_live_runs_fault_as_live(
    tmp_path: Path, live_run: subprocess.Popen[str], private_state_dir: Path
) -> None:
    ballast = tmp_path / "ballast.bin"
    ballast_of("R1/disk-fill", ballast, owner_pid=live_run.pid)
    out = subprocess.run(
        [sys.executable, "-m", "harness", "recover"], cwd=PROJECT_ROOT, text=True,
        capture_output=True, timeout=60,
        env={**os.environ, "HARNESS_STATE_DIR": str(private_state_dir)},
    )
    assert out.returncode == 0, out.stderr
    assert "harness: nothing to recover" in out.stdout
    assert f"left alone ballast {ballast}: run R1 is still live" in out.stdout
    assert "reverted" not in out.stdout and ballast.exists()


def test_a_run_lock_is_seen_from_its_own_process_and_released(private_state_dir: Path) -> None:
    with holding_run("R2"):
        assert run_is_live("R2") and run_is_live("R2/step")
    assert not run_is_live("R2") and not run_is_live("")


def test_leases_are_keyed_by_run_and_never_taken_over(tmp_path: Path) -> None:
    testbed = (tmp_path / "runs" / "R3" / "testbed").resolve()
    first = take_lease(testbed, "R3")
    other = take_lease((tmp_path / "runs" / "R4" / "testbed").resolve(), "R4")
    assert first != other and {p.name for p in leases_dir().glob("*.json")} == {
        "R3.json", "R4.json"}
    with pytest.raises(LeaseHeld, match="held by live run R3"):
        take_lease(testbed, "R5")  # this test process owns R3's lease, and is alive
    assert sorted(live_testbeds()) == sorted(
        f"left alone testbed {d}: run {r} is still live"
        for d, r in ((testbed, "R3"), (tmp_path / "runs" / "R4" / "testbed", "R4")))
