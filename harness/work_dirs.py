"""A run's scratch space: ``<state dir>/runs/<run id>/``, beside its lock and process
record, never in the machine's temp directory. In it: one directory per step (the
tools' cwd, :func:`step_work_dir`) and ``tmp/``, the ``TMPDIR`` of every child the run
starts (:func:`harness.run_processes.child_env`).

A run removes each step's directory as the step ends and the whole space as the run
ends (:func:`harness.run_processes.owned_by`). A run that was killed (SIGKILL included)
cannot: ``harness recover`` and the start of every run remove the space of every run
that is not live (:mod:`harness.live_runs`: its lock is free), after its processes are
stopped, and leave those of live runs alone. Runs are driven inside their lock
(``claim_report_dir``), so a live run's space is never taken for a leftover.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Collection
from pathlib import Path

from harness.live_runs import run_is_live, runs_dir

__all__ = ["reap_dead_work_dirs", "remove_run_dir", "run_dir", "run_tmp_dir", "step_work_dir"]


def run_dir(run_id: str) -> Path:
    """``<state dir>/runs/<run id>/`` (beside the run's lock and process record)."""
    return runs_dir() / run_id.replace("/", "_")


def run_tmp_dir(run_id: str) -> Path:
    """The ``TMPDIR`` of the run's children."""
    return run_dir(run_id) / "tmp"


def step_work_dir(run_id: str, step_name: str) -> Path:
    """A new, empty directory for one step of ``run_id``, inside :func:`run_dir`."""
    parent = run_dir(run_id)
    parent.mkdir(parents=True, exist_ok=True)
    return Path(tempfile.mkdtemp(prefix=f"{step_name}-", dir=parent))


def remove_run_dir(run_id: str) -> None:
    """The end of a run: its scratch space goes, whatever a step left in it."""
    shutil.rmtree(run_dir(run_id), ignore_errors=True)


def reap_dead_work_dirs(spared: Collection[Path] = ()) -> list[str]:
    """Remove the scratch space of every run that is not live, unless it holds one of
    ``spared`` (the testbeds of live leases); one line per run."""
    lines: list[str] = []
    try:
        candidates = sorted(p.resolve() for p in runs_dir().iterdir() if p.is_dir())
    except OSError:
        return lines
    kept = {path.resolve().parent for path in spared}
    for path in candidates:
        if run_is_live(path.name) or path in kept:
            continue
        shutil.rmtree(path, ignore_errors=True)
        if path.exists():
            lines.append(f"NOT removed work directory of run {path.name}: {path}")
        else:
            lines.append(f"work directory of run {path.name}: removed (its harness run died)")
    return lines
