"""What a run does with the history store: a row when it starts, the verdict when it ends.

Both are bounded by :func:`harness.history.store.within_deadline`; a failure is a
:class:`HistoryError` whose message says which store and why, for the run to report
(exit 2) rather than hang or lose the verdict silently.
"""

from __future__ import annotations

from pathlib import Path

from harness.history.baseline import BaselinePlan, resolve_suite
from harness.history.record import git_revision, record_start
from harness.history.recovery import recover_killed_runs
from harness.history.store import HistoryError, HistoryStore, open_store, within_deadline
from harness.plan import Suite


class RunRecorder:
    def __init__(self, store: HistoryStore, run_id: str, report_dir: Path) -> None:
        self.store = store
        self.run_id = run_id
        self.report_dir = report_dir

    @property
    def shown(self) -> str:
        return self.store.location.shown

    def resolve_baselines(self, suite: Suite) -> tuple[Suite, BaselinePlan]:
        """The suite with its baseline criteria resolved. Raises HistoryError."""

        def resolve() -> tuple[Suite, BaselinePlan]:
            with self.store.session() as session:
                return resolve_suite(session, suite, self.run_id)

        return within_deadline(resolve, f"history store {self.shown}: reading baselines")

    def close(self) -> None:
        self.store.close()


def start_recording(
    run_id: str, suite: str, target_kind: str, report_dir: Path, root: Path, started_at: float
) -> RunRecorder:
    """Open the store and write the run's "running" row. Raises HistoryError."""

    def start() -> RunRecorder:
        store = open_store()
        try:
            record_start(
                store, run_id, suite, target_kind, report_dir, git_revision(root), started_at
            )
        except BaseException:
            store.close()
            raise
        return RunRecorder(store, run_id, report_dir)

    return within_deadline(start, "history store")


def recover_history() -> list[str]:
    """Record runs whose harness was killed (for ``harness recover`` and each run's start);
    a store that cannot be reached is one line, not an exception."""

    def recover() -> list[str]:
        store = open_store()
        try:
            return recover_killed_runs(store)
        finally:
            store.close()

    try:
        return within_deadline(recover, "history store")
    except HistoryError as exc:
        return [f"history: cannot recover killed runs: {exc}"]
