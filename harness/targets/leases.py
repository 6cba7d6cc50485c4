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
import subprocess
import sys
from pathlib import Path

import psutil

from harness.paths import state_dir
from wholefile import write_atomically

DOWN_TIMEOUT_S = 60.0


def leases_dir() -> Path:
    return state_dir() / "testbeds"


def take_lease(testbed_dir: Path) -> Path:
    """Record that this process owns the testbed in ``testbed_dir`` (fsynced)."""
    me = psutil.Process()
    record = {
        "owner_pid": me.pid,
        "owner_started": me.create_time(),
        "testbed_dir": str(testbed_dir),
    }
    path = leases_dir() / f"{hashlib.sha256(str(testbed_dir).encode()).hexdigest()[:16]}.json"
    write_atomically(path, json.dumps(record), durable=True)
    return path


def release_lease(path: Path) -> None:
    with contextlib.suppress(FileNotFoundError):
        path.unlink()


def reap_orphaned_testbeds(base_dir: Path) -> list[str]:
    """Stop every leased testbed whose owner is dead; one line per testbed stopped."""
    lines: list[str] = []
    for path in sorted(leases_dir().glob("*.json")):
        try:
            record = json.loads(path.read_text())
            testbed_dir = Path(record["testbed_dir"])
            owner_alive = _alive(int(record["owner_pid"]), float(record["owner_started"]))
        except (OSError, ValueError, KeyError, TypeError):
            release_lease(path)  # unreadable: written half by a killed process
            continue
        if owner_alive:
            continue
        stop_testbed(testbed_dir, base_dir)
        release_lease(path)
        lines.append(f"testbed {testbed_dir}: stopped (its harness run was killed)")
    return lines


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


def _alive(pid: int, started: float) -> bool:
    try:
        proc = psutil.Process(pid)
        return abs(proc.create_time() - started) < 1.0 and proc.status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False
