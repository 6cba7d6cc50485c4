"""``report.html`` as one of the reports (see :mod:`harness.report`): the verdict document
of this run, the files of its report directory, and the suite's earlier runs from the
history store for the trends (none if the store cannot be read: the history record,
written next, reports that)."""

from __future__ import annotations

from pathlib import Path

from harness.reporters.verdict_json import verdict_document
from harness.verdict import RunResult


def write_html(result: RunResult, report_dir: Path) -> Path:
    from harness.history.queries import RunView, recent_runs
    from harness.history.store import HistoryError, open_store, within_deadline
    from harness.report import TREND_RUNS, trend_from_history, write_html_report

    def earlier() -> list[RunView]:
        store = open_store()
        try:
            with store.session() as session:
                return [r for r in recent_runs(session, result.suite, TREND_RUNS + 1)
                        if r.run_id != result.run_id][:TREND_RUNS]
        finally:
            store.close()

    try:
        runs = within_deadline(earlier, "history store")
    except HistoryError:
        runs = []
    document = verdict_document(result, report_dir)
    return write_html_report(document, report_dir, trend_from_history(runs))
