"""Everything a killed run can leave behind, put right: what each stage left (chaos:
the faults in its ledger) first, since reverting a fault switch needs its testbed
still running, then testbeds whose harness run died, and platforms their launcher
started, then every process such a run still has running (:mod:`harness.orphans`:
marked with the run, or in a process group it recorded), then its scratch space (its
steps' work directories and its children's ``TMPDIR``, :mod:`harness.work_dirs`), then
the history store's record of such runs (as interrupted). Called by
``harness recover`` and at the start of every run."""

from __future__ import annotations

from collections.abc import Callable

from harness.orphans import live_processes, reap_dead_runs
from harness.paths import project_root
from harness.stages import all_stages
from harness.targets.launcher import reap_orphaned_platforms
from harness.targets.leases import live_testbed_dirs, live_testbeds, reap_orphaned_testbeds
from harness.work_dirs import reap_dead_work_dirs


def recover_everything() -> list[str]:
    """One line per thing reverted or stopped; empty when nothing was left. What live
    runs hold is not a leftover and is left alone (see :func:`live_holdings`)."""
    from harness.history.recorder import recover_history  # SQLAlchemy: imported when used

    lines = [line for stage in all_stages() for line in stage.recover()]
    return [
        *lines, *reap_orphaned_testbeds(project_root()), *reap_orphaned_platforms(),
        *reap_dead_runs(), *reap_dead_work_dirs(live_testbed_dirs()), *recover_history(),
    ]


def live_holdings() -> list[str]:
    """One line per thing held by a run that is still alive: from every stage that can
    tell (an optional ``live()`` beside ``recover()``), then live testbeds."""
    lines: list[str] = []
    for stage in all_stages():
        live: Callable[[], list[str]] | None = getattr(stage, "live", None)
        if live is not None:
            lines.extend(live())
    return [*lines, *live_testbeds(), *live_processes()]
