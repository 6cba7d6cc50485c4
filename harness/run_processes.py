"""What a run records about the processes it starts, so that every one of them can be
found again after the run died (SIGKILL included) — see :mod:`harness.orphans`.

Two records, both made before the harness can be killed without leaving a trace:

- **A mark in the environment.** Every child a run starts (``harness.process``) gets
  ``HARNESS_OWNER_RUN=<run id>@<state dir>``; the environment is inherited by everything
  below it, also what leaves the process group or the session (testbed services started
  with ``setsid``, CPU burners, gunicorn and Locust workers, ``chaos`` activities) and what
  is reparented to init after a double fork. The mark is in the child from its first
  instruction, so there is no window between spawn and record.
- **The process group, durably.** Right after the spawn, one JSON line (pid = pgid, create
  time, argv) is appended and fsynced to ``<state dir>/runs/<run id>.processes.jsonl``:
  group members that cleared their environment are still found through it.

Every child also gets ``TMPDIR=<state dir>/runs/<run id>/tmp`` (:mod:`harness.work_dirs`):
what the tools put in "the temp directory" stays in the run's own scratch space, which a
run that ends removes and ``harness recover`` removes for a run that was killed, never in
the machine's temp directory.

The run is live while it holds its lock (:mod:`harness.live_runs`); when its block ends
normally, whatever of its processes is still running is killed and the record and the
run's scratch space removed (:func:`owned_by`), so a run that ended leaves nothing for
recovery to find.
"""

from __future__ import annotations

import contextlib
import contextvars
import json
import os
import sys
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import psutil

from harness.paths import state_dir
from harness.work_dirs import remove_run_dir, run_tmp_dir
from wholefile import append_line, fsync_directory

OWNER_ENV = "HARNESS_OWNER_RUN"
RECORD_SUFFIX = ".processes.jsonl"

_current_run: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "harness_current_run", default=None
)


@dataclass(frozen=True)
class SpawnRecord:
    """A process group a run started: its leader (pid = pgid) and when it was created."""

    pgid: int
    create_time: float
    argv: tuple[str, ...]


def mark(run_id: str, directory: Path | None = None) -> str:
    """The environment value that marks the processes of ``run_id`` (in ``directory``,
    default the state dir: runs of another state dir are never taken for ours)."""
    return f"{run_id}@{(directory or state_dir()).resolve()}"


def run_of_mark(value: str, directory: Path | None = None) -> str | None:
    """The run id a mark names when it belongs to ``directory``'s runs, else None."""
    run_id, sep, where = value.partition("@")
    if not sep or not run_id or where != str((directory or state_dir()).resolve()):
        return None
    return run_id


def current_run() -> str | None:
    """The run this task is part of (set by :func:`owned_by`), if any."""
    return _current_run.get()


def record_path(run_id: str, directory: Path | None = None) -> Path:
    return (directory or state_dir()) / "runs" / f"{run_id.replace('/', '_')}{RECORD_SUFFIX}"


def child_env(env: Mapping[str, str] | None) -> dict[str, str] | None:
    """``env`` (default: ours) with the current run's mark and its ``TMPDIR``; unchanged
    outside a run."""
    run_id = current_run()
    if run_id is None:
        return dict(env) if env is not None else None
    base = os.environ if env is None else env
    return {**base, OWNER_ENV: mark(run_id), "TMPDIR": str(run_tmp_dir(run_id))}


def same_process_alive(pid: int, started: float) -> bool:
    """Whether ``pid`` is still the process that started at ``started`` (its create
    time, within a second: not a later process that reuses the pid) and not a zombie."""
    try:
        proc = psutil.Process(pid)
        return abs(proc.create_time() - started) < 1.0 and proc.status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


def record_spawn(pid: int, argv: Sequence[str]) -> None:
    """Append the group led by ``pid`` to the current run's record (fsynced); nothing
    outside a run. A child already gone is recorded with create time 0 (nothing to kill)."""
    run_id = current_run()
    if run_id is None:
        return
    try:
        create_time = psutil.Process(pid).create_time()
    except psutil.Error:
        create_time = 0.0
    line = json.dumps({"pgid": pid, "create_time": create_time, "argv": list(argv)}) + "\n"
    path = record_path(run_id)
    path.parent.mkdir(parents=True, exist_ok=True)
    append_line(path, line)


def read_records(path: Path) -> list[SpawnRecord]:
    """The groups in a record file; a torn last line (a kill mid-write) is skipped."""
    records: list[SpawnRecord] = []
    with contextlib.suppress(OSError):
        for line in path.read_text(errors="replace").splitlines():
            try:
                data = json.loads(line)
                argv = tuple(str(part) for part in data.get("argv", ()))
                records.append(SpawnRecord(int(data["pgid"]), float(data["create_time"]), argv))
            except (ValueError, KeyError, TypeError, AttributeError):
                continue
    return records


def remove_record(path: Path) -> None:
    with contextlib.suppress(FileNotFoundError):
        path.unlink()
        fsync_directory(path.parent)


@contextlib.contextmanager
def owned_by(run_id: str) -> Iterator[None]:
    """Mark and record every child started in the block as ``run_id``'s, with the run's
    ``TMPDIR``; on the way out kill what of them is still running (a bug elsewhere, said
    on stderr), then remove the record and the run's scratch space. Entered while the run
    holds its lock, left before it lets go of it."""
    from harness.orphans import reap_run  # orphans imports this module

    run_tmp_dir(run_id).mkdir(parents=True, exist_ok=True)
    token = _current_run.set(run_id)
    try:
        yield
    finally:
        _current_run.reset(token)
        for line in reap_run(run_id):
            print(f"harness: {line}", file=sys.stderr)
        remove_run_dir(run_id)
