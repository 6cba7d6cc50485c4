"""Processes a run left running, found and stopped: by ``harness recover`` and the start
of every run for runs that died (their lock is free), and by a run itself as it ends.

A process belongs to run R (of this state dir) when

- its environment carries R's mark (:mod:`harness.run_processes`): whatever it became
  since — its own session, a double-forked daemon, an orphan reparented to init; or
- it is in a process group R recorded, created no earlier than the group's leader, and
  the pid of that leader is now free or still the recorded leader (same create time).
  A pgid number is not reused while any member of the group lives, so a group found
  that way is R's (this catches members that cleared their environment).

Never touched: this process and its ancestors, processes of live runs, processes of
other state dirs, and anything unmarked outside the recorded groups.

Stopping: SIGCONT (a frozen process cannot act on SIGTERM) and SIGTERM to each, a
grace, then SIGKILL to whatever is still there, re-scanning between rounds so that a
supervisor's last-moment replacement worker is caught too; verified gone.
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

import psutil

from harness.live_runs import run_is_live
from harness.paths import state_dir
from harness.run_processes import (
    OWNER_ENV,
    RECORD_SUFFIX,
    SpawnRecord,
    read_records,
    record_path,
    remove_record,
    run_of_mark,
)

GRACE_S = 5.0
END_OF_RUN_GRACE_S = 2.0
KILL_ROUNDS = 3
KILL_WAIT_S = 3.0


@dataclass(frozen=True)
class _Seen:
    """One live process at scan time: its mark's run (if of this state dir) and group."""

    proc: psutil.Process
    marked_run: str | None
    pgid: int
    create_time: float


def _scan(directory: Path) -> list[_Seen]:
    spared = {os.getpid(), *(p.pid for p in _ancestors())}
    seen: list[_Seen] = []
    for proc in psutil.process_iter(["environ", "create_time", "status"]):
        info = proc.info
        if proc.pid in spared or info.get("status") in (psutil.STATUS_ZOMBIE, None):
            continue
        with contextlib.suppress(ProcessLookupError, PermissionError):
            value = (info.get("environ") or {}).get(OWNER_ENV, "")
            marked = run_of_mark(value, directory) if value else None
            seen.append(_Seen(proc, marked, os.getpgid(proc.pid), info.get("create_time") or 0))
    return seen


def _ancestors() -> list[psutil.Process]:
    try:
        return psutil.Process().parents()
    except psutil.Error:
        return []


def _leader_ok(record: SpawnRecord, by_pid: dict[int, _Seen]) -> bool:
    """The recorded leader's pid is free now, or still held by the recorded leader."""
    leader = by_pid.get(record.pgid)
    return leader is None or abs(leader.create_time - record.create_time) < 0.05


def _belongs(seen: _Seen, records: Iterable[SpawnRecord], by_pid: dict[int, _Seen]) -> bool:
    return any(
        r.create_time > 0 and seen.pgid == r.pgid and seen.create_time >= r.create_time - 0.05
        and _leader_ok(r, by_pid)
        for r in records
    )  # fmt: skip


def find_processes(
    run_ids: set[str], records: dict[str, list[SpawnRecord]], directory: Path | None = None
) -> dict[str, list[psutil.Process]]:
    """The live processes of each run in ``run_ids`` (marked, or in its recorded groups)."""
    seen = _scan(directory or state_dir())
    by_pid = {s.proc.pid: s for s in seen}
    found: dict[str, list[psutil.Process]] = {run_id: [] for run_id in run_ids}
    for item in seen:
        if item.marked_run is not None:
            if item.marked_run in run_ids:
                found[item.marked_run].append(item.proc)
            continue  # marked by another run (live, or not asked about): not this one's
        owner = next((r for r in run_ids if _belongs(item, records.get(r, ()), by_pid)), None)
        if owner is not None:
            found[owner].append(item.proc)
    return found


def _running(proc: psutil.Process) -> bool:
    try:
        return proc.is_running() and proc.status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


def _wait_gone(procs: list[psutil.Process], timeout_s: float) -> list[psutil.Process]:
    deadline = time.monotonic() + timeout_s
    alive = [p for p in procs if _running(p)]
    while alive and time.monotonic() < deadline:
        time.sleep(0.05)
        alive = [p for p in alive if _running(p)]
    return alive


def _signal(procs: Iterable[psutil.Process], *signals: signal.Signals) -> None:
    for proc in procs:
        for sig in signals:
            with contextlib.suppress(psutil.Error):
                proc.send_signal(sig)  # psutil checks it is still the same process


def stop_processes(
    find: Callable[[], list[psutil.Process]], grace_s: float
) -> tuple[set[int], list[psutil.Process]]:
    """SIGCONT + SIGTERM what ``find`` returns, wait ``grace_s``, then SIGKILL what a fresh
    ``find`` returns, up to :data:`KILL_ROUNDS` times. ``(pids stopped, still alive)``."""
    found = find()
    stopped = {p.pid for p in found}
    if not found:
        return stopped, []
    _signal(found, signal.SIGCONT, signal.SIGTERM)
    _wait_gone(found, grace_s)
    for _ in range(KILL_ROUNDS):
        left = find()
        if not left:
            return stopped, []
        stopped |= {p.pid for p in left}
        _signal(left, signal.SIGKILL, signal.SIGCONT)
        _wait_gone(left, KILL_WAIT_S)
    left = find()
    return stopped | {p.pid for p in left}, left


def _stop_runs(
    run_ids: set[str], records: dict[str, list[SpawnRecord]], directory: Path, grace_s: float
) -> dict[str, tuple[int, list[int]]]:
    """Stop the processes of all ``run_ids`` together (one grace for all):
    per run that had any, ``(processes stopped, pids still alive)``."""
    owner: dict[int, str] = {}

    def find() -> list[psutil.Process]:
        found = find_processes(run_ids, records, directory)
        owner.update({p.pid: run_id for run_id, procs in found.items() for p in procs})
        return [p for procs in found.values() for p in procs]

    stopped, left = stop_processes(find, grace_s)
    result: dict[str, tuple[int, list[int]]] = {}
    for run_id in sorted({owner[pid] for pid in stopped}):
        alive = [p.pid for p in left if owner.get(p.pid) == run_id]
        result[run_id] = (sum(owner[pid] == run_id for pid in stopped), alive)
    return result


def _say(run_id: str, stopped: int, left: list[int], why: str) -> str:
    if left:
        pids = ", ".join(str(pid) for pid in left)
        return f"NOT reverted processes of run {run_id}: still alive: {pids}"
    return f"processes of run {run_id}: {stopped} stopped ({why})"


def reap_run(run_id: str, grace_s: float = END_OF_RUN_GRACE_S) -> list[str]:
    """At the end of a run: stop what of its processes still runs, drop its record."""
    directory = state_dir()
    path = record_path(run_id, directory)
    result = _stop_runs({run_id}, {run_id: read_records(path)}, directory, grace_s)
    stopped, left = result.get(run_id, (0, []))
    if not left:
        remove_record(path)
    return [_say(run_id, stopped, left, "left running at the end of the run")] if stopped else []


def _dead_runs(directory: Path) -> dict[str, Path]:
    """Runs of this state dir that left a record or a marked process, and are not live."""
    runs = {
        p.name[: -len(RECORD_SUFFIX)]: p for p in (directory / "runs").glob(f"*{RECORD_SUFFIX}")
    }
    for item in _scan(directory):
        if item.marked_run is not None:
            runs.setdefault(item.marked_run, record_path(item.marked_run, directory))
    return {run_id: path for run_id, path in runs.items() if not run_is_live(run_id)}


def reap_dead_runs(grace_s: float = GRACE_S) -> list[str]:
    """Stop every process of every dead run (see the module docstring); one line per run
    that had any left (or whose processes could not all be stopped)."""
    directory = state_dir()
    dead = _dead_runs(directory)
    records = {run_id: read_records(path) for run_id, path in dead.items()}
    result = _stop_runs(set(dead), records, directory, grace_s)
    for run_id, path in dead.items():
        if not result.get(run_id, (0, []))[1]:
            remove_record(path)
    return [
        _say(run_id, stopped, left, "its harness run was killed")
        for run_id, (stopped, left) in result.items()
    ]


def live_processes() -> list[str]:
    """One line per live run of this state dir with marked processes (left alone)."""
    counts: dict[str, int] = {}
    for item in _scan(state_dir()):
        if item.marked_run is not None:
            counts[item.marked_run] = counts.get(item.marked_run, 0) + 1
    return [
        f"left alone {count} process(es) of run {run_id}: it is still live"
        for run_id, count in sorted(counts.items())
        if run_is_live(run_id)
    ]
