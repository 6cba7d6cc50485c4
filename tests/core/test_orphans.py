"""What recovery takes for the processes of a dead run (marked with it, or in a group it
recorded), and what it never touches: unmarked processes, other state dirs' runs, live
runs, a recorded pgid whose leader's pid was reused. Real processes, no mocks."""

from __future__ import annotations

import asyncio
import contextlib
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

from harness.live_runs import holding_run
from harness.orphans import live_processes, reap_dead_runs
from harness.process import spawned
from harness.run_processes import OWNER_ENV, child_env, mark, owned_by, record_path
from tests.core.test_engine import assert_gone, running

SLEEPER = [sys.executable, "-c", "import time; time.sleep(60)"]
STUBBORN = [sys.executable, "-c",
            "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); time.sleep(60)"]


@pytest.fixture
def state(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("HARNESS_STATE_DIR", str(tmp_path / "state"))
    (tmp_path / "state" / "runs").mkdir(parents=True)
    return tmp_path / "state"


@pytest.fixture
def started() -> Iterator[list[subprocess.Popen[bytes]]]:
    procs: list[subprocess.Popen[bytes]] = []
    yield procs
    for proc in procs:
        with contextlib.suppress(ProcessLookupError):
            proc.kill()
        proc.wait()


def start(procs: list[subprocess.Popen[bytes]], argv: list[str], marked: str | None = None,
          *, env: dict[str, str] | None = None) -> int:
    environment = dict(os.environ) if env is None else env
    if marked is not None:
        environment[OWNER_ENV] = marked
    procs.append(subprocess.Popen(argv, env=environment, start_new_session=True))
    return procs[-1].pid


def record(run_id: str, pgid: int, create_time: float) -> None:
    """A group record as ``harness.process.spawned`` appends it (the file is the interface)."""
    line = {"pgid": pgid, "create_time": create_time, "argv": ["test"]}
    with record_path(run_id).open("a") as handle:
        handle.write(json.dumps(line) + "\n")


def test_a_dead_runs_processes_are_stopped_and_nothing_else(
    state: Path, tmp_path: Path, started: list[subprocess.Popen[bytes]]
) -> None:
    dead, live = "20261201T000000Z-dead", "20261201T000000Z-live"
    marked = start(started, SLEEPER, mark(dead))
    stubborn = start(started, STUBBORN, mark(dead))  # SIGTERM ignored: SIGKILL after the grace
    frozen = start(started, SLEEPER, mark(dead))
    os.kill(frozen, signal.SIGSTOP)
    leader = start(started, ["sleep", "60"], env={})  # env-less: found by its recorded group
    record(dead, leader, psutil.Process(leader).create_time())
    reused = start(started, SLEEPER)  # a recorded pgid whose leader's pid was reused
    record(dead, reused, psutil.Process(reused).create_time() - 100.0)
    unmarked = start(started, SLEEPER)
    elsewhere = start(started, SLEEPER, mark(dead, tmp_path / "other-state"))
    of_live = start(started, SLEEPER, mark(live))
    time.sleep(0.3)  # the interpreters are up (SIGTERM not yet ignored would pass vacuously)
    with holding_run(live):
        lines = reap_dead_runs(grace_s=1.0)
        assert lines == [f"processes of run {dead}: 4 stopped (its harness run was killed)"]
        assert_gone([marked, stubborn, frozen, leader])
        assert all(running(pid) for pid in (reused, unmarked, elsewhere, of_live))
        assert not record_path(dead).exists()
        assert reap_dead_runs(grace_s=1.0) == []  # idempotent
        assert live_processes() == [f"left alone 1 process(es) of run {live}: it is still live"]
    # the live run ended (its lock is free): what it left is now a dead run's
    assert reap_dead_runs(grace_s=1.0) == [
        f"processes of run {live}: 1 stopped (its harness run was killed)"]
    assert_gone([of_live])


def test_spawned_marks_and_records_its_child_inside_a_run(state: Path, tmp_path: Path) -> None:
    run_id = "20261201T000000Z-mine"

    async def spawn_and_look() -> tuple[int, dict[str, str], list[dict[str, object]]]:
        async with spawned(["sleep", "60"], cwd=tmp_path, stdout_path=tmp_path / "out",
                           stderr_path=tmp_path / "err") as proc:
            lines = record_path(run_id).read_text().splitlines()
            return proc.pid, psutil.Process(proc.pid).environ(), [json.loads(x) for x in lines]

    with owned_by(run_id):
        pid, environ, records = asyncio.run(spawn_and_look())
    assert environ[OWNER_ENV] == mark(run_id)
    assert [(r["pgid"], r["argv"]) for r in records] == [(pid, ["sleep", "60"])]
    assert not record_path(run_id).exists()  # the run ended: nothing left to recover
    assert not running(pid)
    assert child_env({"A": "1"}) == {"A": "1"}  # outside a run: no mark
