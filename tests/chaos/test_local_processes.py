"""Local chaos on a service the test starts itself (not the testbed): ``uvicorn --workers 2``
of a tiny app, declared as the process group ``web`` by its supervisor's pid. Real
processes, real signals, the real ledger and the real ``harness recover`` CLI."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from harness.chaos.driver.processes import (
    freeze_process_pods,
    kill_process_pods,
    process_pods_running,
    resume_process_pods,
    service_status,
    verify_process_pods,
)
from harness.chaos.driver.testbed import FaultError
from harness.chaos.ledger import read_records
from harness.chaos.local_pods import LOCAL_PROCESSES_ENV, LocalProcesses, live_pods
from harness.target import ProcessGroup

PROJECT_ROOT = Path(__file__).resolve().parents[2]
APP = """
async def app(scope, receive, send):
    if scope["type"] != "http":
        return
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"ok"})
"""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _workers(master: psutil.Process) -> list[psutil.Process]:
    return [c for c in master.children() if "resource_tracker" not in " ".join(c.cmdline())]


@pytest.fixture
def web(tmp_path: Path) -> Iterator[tuple[psutil.Process, str]]:
    """A uvicorn supervisor with two workers (and multiprocessing's resource_tracker)."""
    (tmp_path / "tinyapp.py").write_text(textwrap.dedent(APP))
    port = _free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "--workers", "2", "--port", str(port),
         "--host", "127.0.0.1", "--app-dir", str(tmp_path), "tinyapp:app"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
    )  # fmt: skip
    try:
        master = psutil.Process(proc.pid)
        deadline = time.monotonic() + 60
        while len(_workers(master)) < 2 and time.monotonic() < deadline:
            time.sleep(0.2)
        assert len(_workers(master)) == 2, "uvicorn did not start its two workers"
        yield master, f"http://127.0.0.1:{port}"
    finally:
        os.killpg(proc.pid, signal.SIGCONT)
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)


@pytest.fixture
def declared(
    web: tuple[psutil.Process, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> ProcessGroup:
    master, url = web
    pid_file = tmp_path / "web.pid"
    pid_file.write_text(f"{master.pid}\n")
    group = ProcessGroup("web", parent_pid_file=str(pid_file), replicas=2)
    path = tmp_path / "local-processes.json"
    LocalProcesses((group,), {"web": url}).write(path)
    monkeypatch.setenv(LOCAL_PROCESSES_ENV, str(path))
    return group


def test_workers_are_pods_and_helpers_are_not(
    web: tuple[psutil.Process, str], declared: ProcessGroup
) -> None:
    master, _ = web
    helpers = [c.pid for c in master.children() if "resource_tracker" in " ".join(c.cmdline())]
    pods = [p.pid for p in live_pods(declared)]
    assert sorted(pods) == sorted(w.pid for w in _workers(master))
    assert helpers and not set(helpers) & set(pods)


def test_kill_a_worker_and_it_is_replaced(
    web: tuple[psutil.Process, str], declared: ProcessGroup
) -> None:
    master, _ = web
    before = {w.pid for w in _workers(master)}
    killed = kill_process_pods("web", qty=1)
    assert len(killed) == 1 and killed[0]["pid"] in before
    assert (
        not psutil.pid_exists(killed[0]["pid"])
        or psutil.Process(killed[0]["pid"]).status() == psutil.STATUS_ZOMBIE
    )
    assert process_pods_running("web", within_s=30)
    assert killed[0]["pid"] not in {p.pid for p in live_pods(declared)}
    assert service_status("web", "/", within_s=10) == 200
    lines = verify_process_pods(within_s=10)
    assert lines and "2/2 running" in lines[0]
    assert read_records() == []  # verified: the ledger entry is gone


def test_refuses_pids_outside_the_selection(
    web: tuple[psutil.Process, str], declared: ProcessGroup
) -> None:
    master, _ = web
    tracker = next(c for c in master.children() if "resource_tracker" in " ".join(c.cmdline()))
    for pid in (master.pid, tracker.pid, os.getpid()):
        with pytest.raises(FaultError, match="not pods of this group"):
            kill_process_pods("web", pids=[pid])
    with pytest.raises(FaultError, match="not declared"):
        kill_process_pods("db", qty=1)
    assert master.is_running() and tracker.is_running()
    assert len(_workers(master)) == 2
    assert read_records() == []  # nothing was recorded, nothing injected


def test_freeze_and_resume(web: tuple[psutil.Process, str], declared: ProcessGroup) -> None:
    frozen = freeze_process_pods("web", all=True)
    assert len(frozen) == 2
    assert all(psutil.Process(p["pid"]).status() == psutil.STATUS_STOPPED for p in frozen)
    resume_process_pods("web")
    assert not any(_stopped(p["pid"]) for p in frozen)
    assert read_records() == []


def test_recover_reverts_a_freeze_left_by_a_killed_run(
    web: tuple[psutil.Process, str], declared: ProcessGroup, private_state_dir: Path
) -> None:
    """A process freezes the workers and is SIGKILLed before any rollback: the ledger
    remembers, and ``harness recover`` (the real CLI) resumes them."""
    script = (
        "import os, signal\n"
        "from harness.chaos.driver.processes import freeze_process_pods\n"
        "freeze_process_pods('web', all=True)\n"
        "os.kill(os.getpid(), signal.SIGKILL)\n"
    )
    done = subprocess.run([sys.executable, "-c", script], timeout=60, env=dict(os.environ))
    assert done.returncode == -signal.SIGKILL
    pods = live_pods(declared)
    assert len(pods) == 2
    assert all(psutil.Process(p.pid).status() == psutil.STATUS_STOPPED for p in pods)
    assert len(read_records()) == 1
    recovered = subprocess.run(
        [str(Path(sys.executable).parent / "harness"), "recover"],
        capture_output=True, text=True, timeout=60, cwd=PROJECT_ROOT, env=dict(os.environ),
    )  # fmt: skip
    assert recovered.returncode == 0, recovered.stdout + recovered.stderr
    assert "reverted freeze" in recovered.stdout
    # uvicorn's supervisor may replace a worker that was frozen for long: none is stopped.
    assert not any(_stopped(p.pid) for p in [*pods, *live_pods(declared)])
    assert read_records() == []


def _stopped(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() == psutil.STATUS_STOPPED
    except psutil.NoSuchProcess:
        return False


def test_other_selectors_pid_file_and_command_with_user(
    web: tuple[psutil.Process, str], tmp_path: Path
) -> None:
    master, _ = web
    worker = _workers(master)[0]
    pid_file = tmp_path / "worker.pid"
    pid_file.write_text(f"{worker.pid}\n")
    assert [p.pid for p in live_pods(ProcessGroup("one", pid_file=str(pid_file)))] == [worker.pid]
    user = psutil.Process().username()
    by_command = ProcessGroup("cmd", command=r"multiprocessing\.spawn", user=user)
    assert {w.pid for w in _workers(master)} <= {p.pid for p in live_pods(by_command)}
    # The harness itself and its ancestors are never pods, whatever the pattern says.
    everything = ProcessGroup("all", command=".", user=user)
    assert os.getpid() not in {p.pid for p in live_pods(everything)}
    assert live_pods(ProcessGroup("none", command=".", user="no-such-user-here")) == []
