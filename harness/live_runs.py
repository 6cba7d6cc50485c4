"""Which harness runs are alive: each run holds an exclusive ``flock`` on
``<state dir>/runs/<run id>.lock`` from before recovery until its reports are written.

The kernel drops the lock when the run's process dies (SIGKILL included), so a lock that
can be taken is a run that ended; pid reuse cannot fool it. Recovery uses it to leave the
faults and testbeds of *live* runs alone (and to say so), and to put right only what
dead runs left.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
from collections.abc import Iterator
from pathlib import Path

from harness.paths import state_dir


def runs_dir() -> Path:
    return state_dir() / "runs"


def _lock_path(run_id: str) -> Path:
    return runs_dir() / f"{run_id.replace('/', '_')}.lock"


def run_of(tag: str) -> str:
    """The run id of a ledger tag (``<run id>/<step name>``) or of a run id."""
    return tag.split("/", 1)[0]


@contextlib.contextmanager
def holding_run(run_id: str) -> Iterator[None]:
    """Mark ``run_id`` live for the duration of the block."""
    path = _lock_path(run_id)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        yield
    finally:
        os.close(fd)
        with contextlib.suppress(FileNotFoundError):
            path.unlink()


def run_is_live(tag: str) -> bool:
    """True while the run of ``tag`` holds its lock (also from this very process)."""
    if not tag:
        return False
    try:
        fd = os.open(_lock_path(run_of(tag)), os.O_RDWR)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except OSError as exc:
        return exc.errno in (errno.EAGAIN, errno.EACCES)
    finally:
        os.close(fd)
    return False
