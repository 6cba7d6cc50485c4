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
    delete_stressor,
    freeze_process_pods,
    kill_process_pods,
    process_pods_running,
    resume_process_pods,
    service_status,
    stress_cpu_beside,
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


def test_cpu_stress_beside_the_pods_is_bounded_and_reverted(
    web: tuple[psutil.Process, str], declared: ProcessGroup
) -> None:
    master, _ = web
    cpus = set(_workers(master)[0].cpu_affinity() or [])
    pids = stress_cpu_beside("web", workers=1, load=50, duration="20s")
    (burner,) = [psutil.Process(pid) for pid in pids]
    assert burner.is_running() and set(burner.cpu_affinity() or []) <= cpus
    (record,) = [r for _, r in read_records()]
    assert record.kind == "stress" and "web" in record.target
    delete_stressor("web")
    assert not burner.is_running() or burner.status() == psutil.STATUS_ZOMBIE
    assert read_records() == []
    with pytest.raises(FaultError, match="duration"):
        stress_cpu_beside("web", duration="10m")


EXPERIMENT = """
version: 1.0.0
title: kill a web worker
steady-state-hypothesis:
  title: web answers
  probes:
    - type: probe
      name: web-ok
      tolerance: 200
      provider: {type: python, module: harness.chaos.driver.processes, func: service_status,
                 arguments: {service: web, path: /, within_s: 10}}
method:
  - type: action
    name: kill-one-web-worker
    provider: {type: python, module: harness.chaos.driver.processes, func: kill_process_pods,
               arguments: {group: GROUP, qty: 1}}
"""


@pytest.mark.parametrize(
    ("group", "dry_run", "expected"),
    [("web", True, "dry run"), ("db", False, "process group 'db' is not declared")],
)
def test_chaos_step_on_declared_processes_through_the_cli(
    web: tuple[psutil.Process, str], tmp_path: Path, group: str, dry_run: bool, expected: str
) -> None:
    """A suite's chaos step on the test's own uvicorn: a dry run injects nothing, an
    undeclared group is refused before anything is injected."""
    master, url = web
    before = {w.pid for w in _workers(master)}
    (tmp_path / "suites").mkdir()
    (tmp_path / "kill.yaml").write_text(EXPERIMENT.replace("GROUP", group))
    suite = tmp_path / "suites" / "s.yaml"
    suite.write_text(
        "name: s\ntarget:\n  kind: external\n  external:\n    services:\n"
        f"      web: {{url: '{url}', health: /}}\n"
        f"  local_processes:\n    web: {{parent_pid: {master.pid}, replicas: 2}}\n"
        "stages:\n  - name: c\n    steps:\n"
        "      - {name: kill, kind: chaos, experiment: kill.yaml, timeout: 60s}\n"
    )
    argv = [str(Path(sys.executable).parent / "harness"), "run", str(suite)]
    argv += ["--report-dir", str(tmp_path / "report"), *(["--dry-run"] if dry_run else [])]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=120, cwd=tmp_path)
    verdict = (tmp_path / "report" / "verdict.json").read_text()
    assert expected in verdict, done.stdout[-2000:]
    assert {w.pid for w in _workers(master)} == before  # nothing was killed
    assert read_records() == []
