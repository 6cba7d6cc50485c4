"""A report directory belongs to one run at a time.

``claim_report_dir`` is entered before anything of the run starts:

1. It refuses a directory that is not empty and was never a harness report directory
   (``--report-dir .`` in a source tree, a home directory): nothing in it is touched.
2. It takes an exclusive ``flock`` on ``REPORT_DIR/.harness-run.lock``, held for the whole
   run. A second run into the same directory is refused at once (``ReportDirBusy``,
   exit 2) and touches nothing of the first. The kernel drops the lock when the owner
   dies, also on SIGKILL.
3. It moves what an earlier run left (its ``verdict.json``, ``junit.xml``, events, step
   artifacts) aside into ``REPORT_DIR/.previous/`` (one earlier run is kept), so a run
   killed before its verdict leaves no ``verdict.json`` at all, never an old PASS.
4. It writes ``REPORT_DIR/in-progress.json`` (run id, pid, start time), removed by
   :meth:`ReportDirClaim.finish` once every report is written. A report directory with
   ``in-progress.json`` and no ``verdict.json`` is a run that is live or was killed.
5. It marks the run live (:mod:`harness.live_runs`) for recovery in other runs, and
   marks and records every child the run starts (:mod:`harness.run_processes`); what of
   them still runs when the run ends is stopped before the run lets go of its lock.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import os
import shutil
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from harness.live_runs import holding_run
from harness.run_processes import owned_by
from wholefile import write_atomically

LOCK_NAME = ".harness-run.lock"
PREVIOUS_NAME = ".previous"
IN_PROGRESS_NAME = "in-progress.json"


class ReportDirError(Exception):
    """The report directory cannot be used by this run (the message says why)."""


class ReportDirBusy(ReportDirError):
    """Another live run holds the report directory."""


@dataclass(frozen=True)
class ReportDirClaim:
    """The claim a run holds on its report directory while it runs."""

    path: Path
    run_id: str

    def finish(self) -> None:
        """Every report is written: the directory no longer holds a run in progress."""
        with contextlib.suppress(FileNotFoundError):
            (self.path / IN_PROGRESS_NAME).unlink()


@contextlib.contextmanager
def claim_report_dir(path: Path, run_id: str) -> Iterator[ReportDirClaim]:
    """Own ``path`` exclusively for this run (see the module docstring)."""
    path = path.resolve()
    _refuse_foreign(path)
    try:
        path.mkdir(parents=True, exist_ok=True)
        lock_file = (path / LOCK_NAME).open("a+", encoding="utf-8")
    except OSError as exc:
        raise ReportDirError(f"cannot write {path}: {exc.strerror or exc}") from None
    try:
        _lock(lock_file, path)
        _record_owner(lock_file, run_id)
        _move_earlier_run_aside(path)
        write_atomically(path / IN_PROGRESS_NAME, _owner_json(run_id))
        with holding_run(run_id), owned_by(run_id):
            yield ReportDirClaim(path, run_id)
    finally:
        lock_file.close()  # releases the flock


def report_dir_owner(path: Path) -> str:
    """Who holds ``path`` (the lock file's record), for messages; "" if unknown."""
    try:
        record = json.loads((path / LOCK_NAME).read_text(encoding="utf-8") or "{}")
        return f"run {record['run_id']} (pid {record['pid']})"
    except (OSError, ValueError, KeyError, TypeError):
        return ""


def _refuse_foreign(path: Path) -> None:
    if not path.is_dir():
        if path.exists():
            raise ReportDirError(f"report dir {path}: exists and is not a directory")
        return
    if (path / LOCK_NAME).exists():
        return
    try:
        entries = sorted(entry.name for entry in path.iterdir())
    except OSError as exc:
        raise ReportDirError(f"report dir {path}: cannot be read: {exc.strerror}") from None
    if entries:
        shown = ", ".join(entries[:5]) + (", ..." if len(entries) > 5 else "")
        raise ReportDirError(
            f"report dir {path}: not empty and not a harness report directory ({shown});"
            " give a new or empty directory"
        )


def _lock(lock_file: IO[str], path: Path) -> None:
    try:
        fcntl.flock(lock_file.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as exc:
        if exc.errno not in (errno.EAGAIN, errno.EACCES):
            raise ReportDirError(f"report dir {path}: cannot lock {LOCK_NAME}: {exc}") from None
        owner = report_dir_owner(path) or "another run"
        raise ReportDirBusy(
            f"report dir {path}: in use by {owner}; give each run its own --report-dir"
        ) from None


def _owner_json(run_id: str) -> str:
    return json.dumps({"run_id": run_id, "pid": os.getpid(), "started_at": time.time()}) + "\n"


def _record_owner(lock_file: IO[str], run_id: str) -> None:
    lock_file.seek(0)
    lock_file.truncate()
    lock_file.write(_owner_json(run_id))
    lock_file.flush()


def _move_earlier_run_aside(path: Path) -> None:
    """Everything but the lock goes to ``.previous/`` (replacing an older one)."""
    leftovers = [e for e in path.iterdir() if e.name not in (LOCK_NAME, PREVIOUS_NAME)]
    if not leftovers:
        return
    previous = path / PREVIOUS_NAME
    shutil.rmtree(previous, ignore_errors=True)
    previous.mkdir()
    for entry in leftovers:
        entry.rename(previous / entry.name)
