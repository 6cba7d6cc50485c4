"""Service processes of the testbed: started in their own session (so they outlive ``up``),
identified by (pid, create time) so a recycled pid is never mistaken for ours, and stopped
by process group: SIGTERM -> grace -> SIGKILL, then waited for until gone.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import psutil


@dataclass(frozen=True)
class ServiceProcess:
    pid: int
    create_time: float
    log_path: Path


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_service(
    argv: Sequence[str], *, log_path: Path, env: Mapping[str, str], cwd: Path
) -> ServiceProcess:
    """Start ``argv`` detached: new session, stdin closed, stdout+stderr appended to the log."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("ab") as log:
        proc = subprocess.Popen(
            list(argv),
            cwd=cwd,
            env=dict(env),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        create_time = psutil.Process(proc.pid).create_time()
    except psutil.NoSuchProcess:
        create_time = 0.0
    return ServiceProcess(pid=proc.pid, create_time=create_time, log_path=log_path)


def _process(pid: int, create_time: float | None) -> psutil.Process | None:
    """The live (non-zombie) process with this pid, if it is the one we started."""
    try:
        proc = psutil.Process(pid)
        if proc.status() == psutil.STATUS_ZOMBIE:
            return None
        if create_time and abs(proc.create_time() - create_time) > 0.5:
            return None
        return proc
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        return None


def is_running(pid: int, create_time: float | None = None) -> bool:
    return _process(pid, create_time) is not None


def group_members(pgid: int) -> list[psutil.Process]:
    """Live (non-zombie) processes of a process group."""
    members: list[psutil.Process] = []
    for proc in psutil.process_iter():
        with contextlib.suppress(psutil.NoSuchProcess, psutil.AccessDenied, ProcessLookupError):
            if os.getpgid(proc.pid) == pgid and proc.status() != psutil.STATUS_ZOMBIE:
                members.append(proc)
    return members


def _wait_gone(procs: Sequence[psutil.Process], timeout_s: float) -> list[psutil.Process]:
    deadline = time.monotonic() + timeout_s
    alive = list(procs)
    while alive and time.monotonic() < deadline:
        alive = [p for p in alive if _still_alive(p)]
        if alive:
            time.sleep(0.05)
    return alive


def _still_alive(proc: psutil.Process) -> bool:
    try:
        return proc.is_running() and proc.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def stop_service(
    pid: int, create_time: float | None, *, grace_s: float = 8.0, extra_pids: Sequence[int] = ()
) -> bool:
    """Stop a service started by ``start_service`` and its whole group; True if anything ran.

    ``extra_pids`` (e.g. serving workers) are killed too if they are still in the group.
    """
    leader = _process(pid, create_time)
    # A recycled pid that leads its own group is not ours: only our orphans are kept then.
    members = [p for p in group_members(pid) if leader is not None or p.pid != pid]
    if leader is None and not members:
        return False
    targets = {p.pid: p for p in members}
    if leader is not None:
        targets[leader.pid] = leader
    for extra in extra_pids:
        with contextlib.suppress(psutil.NoSuchProcess, ProcessLookupError, PermissionError):
            if os.getpgid(extra) == pid:
                targets.setdefault(extra, psutil.Process(extra))
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGTERM)
    alive = _wait_gone(list(targets.values()), grace_s)
    if alive or group_members(pid):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pid, signal.SIGKILL)
        for proc in alive:
            with contextlib.suppress(psutil.NoSuchProcess):
                proc.kill()
        _wait_gone([*alive, *group_members(pid)], 5.0)
    return True


def log_tail(path: Path, lines: int = 20) -> str:
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return f"(no log at {path})"
    return "\n".join(text.strip().splitlines()[-lines:]) or f"(log {path} is empty)"
