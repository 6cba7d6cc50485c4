"""Leases on local testbeds: a record, written before ``testbed up``, of which harness
process owns which testbed. A harness killed with SIGKILL cannot tear its testbed
down; the next ``harness recover`` (and the start of every run) finds the lease of
a dead owner and stops that testbed.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import psutil

from harness.paths import state_dir
from harness.run_processes import same_process_alive
from wholefile import write_atomically

DOWN_TIMEOUT_S = 60.0


def leases_dir() -> Path:
    return state_dir() / "testbeds"


class LeaseHeld(Exception):
    """Another live harness run holds a lease on the same testbed directory."""


def take_lease(testbed_dir: Path, run_id: str = "") -> Path:
    """Record that this process (run ``run_id``) owns the testbed in ``testbed_dir``
    (fsynced). Leases are keyed by run: a lease of another live run is never
    overwritten; one on the same directory raises LeaseHeld."""
    for other in _read_leases():
        if other.testbed_dir == testbed_dir and other.alive:
            raise LeaseHeld(f"testbed {testbed_dir} is held by live run {other.run_id or '?'}")
    me = psutil.Process()
    record = {
        "owner_pid": me.pid,
        "owner_started": me.create_time(),
        "testbed_dir": str(testbed_dir),
        "run_id": run_id,
    }
    key = run_id or hashlib.sha256(str(testbed_dir).encode()).hexdigest()[:16]
    path = leases_dir() / f"{key}.json"
    write_atomically(path, json.dumps(record), durable=True)
    return path


def release_lease(path: Path) -> None:
    with contextlib.suppress(FileNotFoundError):
        path.unlink()


@dataclass(frozen=True)
class _Lease:
    path: Path
    testbed_dir: Path
    run_id: str
    alive: bool


def _read_leases() -> list[_Lease]:
    leases: list[_Lease] = []
    for path in sorted(leases_dir().glob("*.json")):
        try:
            record = json.loads(path.read_text())
            alive = same_process_alive(int(record["owner_pid"]), float(record["owner_started"]))
            leases.append(
                _Lease(path, Path(record["testbed_dir"]), str(record.get("run_id", "")), alive)
            )
        except FileNotFoundError:
            continue
        except (OSError, ValueError, KeyError, TypeError):
            release_lease(path)  # unreadable: written half by a killed process
    return leases


def live_testbeds() -> list[str]:
    """One line per testbed whose harness run is still alive (left alone by recovery)."""
    return [
        f"left alone testbed {lease.testbed_dir}: run {lease.run_id or '?'} is still live"
        for lease in _read_leases()
        if lease.alive
    ]


def live_testbed_dirs() -> list[Path]:
    """The directories of testbeds whose harness run is still alive."""
    return [lease.testbed_dir for lease in _read_leases() if lease.alive]


def reap_orphaned_testbeds(base_dir: Path) -> list[str]:
    """Stop every leased testbed whose owner is dead; one line per testbed stopped."""
    lines: list[str] = []
    for lease in _read_leases():
        if lease.alive:
            continue
        stop_testbed(lease.testbed_dir, base_dir)
        remove_testbed_state(lease.testbed_dir)
        release_lease(lease.path)
        lines.append(f"testbed {lease.testbed_dir}: stopped (its harness run was killed)")
    return lines


def testbed_state_dir(run_id: str) -> Path:
    """Where a run's local testbed keeps its state (tokens, live manifest, database,
    logs): under the harness state dir, never in the report dir or the source tree."""
    return state_dir() / "runs" / run_id / "testbed"


def remove_testbed_state(testbed_dir: Path) -> None:
    """Delete a stopped testbed's state if it is a run's testbed dir in the harness state
    dir (:func:`testbed_state_dir`); anything elsewhere is not the harness's to delete.
    The run's directory goes too once nothing else is in it (the rest of it, the run's
    scratch space, is :mod:`harness.work_dirs`'s)."""
    run_dir = testbed_dir.resolve().parent
    if testbed_dir.name == "testbed" and run_dir.parent == (state_dir() / "runs").resolve():
        shutil.rmtree(testbed_dir, ignore_errors=True)
        with contextlib.suppress(OSError):
            run_dir.rmdir()


def stop_testbed(testbed_dir: Path, base_dir: Path) -> None:
    """``testbed down`` on its manifest, then kill any process still running in it."""
    manifest = testbed_dir / "manifest.json"
    if manifest.exists():
        with contextlib.suppress(OSError, subprocess.SubprocessError):
            subprocess.run(
                [sys.executable, "-m", "testbed", "down", "--manifest", str(manifest)],
                cwd=base_dir,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                timeout=DOWN_TIMEOUT_S,
                check=False,
            )
    reap_strays(testbed_dir)


def reap_strays(testbed_dir: Path) -> None:
    """Safety net: kill processes still running in, or naming, a testbed dir (the
    services run with it as their cwd), e.g. started by an ``up`` that was killed
    before it wrote the manifest."""
    marker = str(testbed_dir)
    me = os.getpid()
    strays: list[psutil.Process] = []
    for proc in psutil.process_iter(["pid", "cmdline", "cwd"]):
        cmdline = proc.info.get("cmdline") or []
        cwd = proc.info.get("cwd") or ""
        named = any(marker in part for part in cmdline)
        if proc.pid != me and (named or cwd == marker or cwd.startswith(marker + os.sep)):
            strays.append(proc)
    for proc in strays:
        with contextlib.suppress(psutil.Error):
            proc.terminate()
    _, alive = psutil.wait_procs(strays, timeout=5)
    for proc in alive:
        with contextlib.suppress(psutil.Error):
            proc.kill()
    psutil.wait_procs(alive, timeout=5)
