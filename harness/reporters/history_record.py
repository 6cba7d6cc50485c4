"""The run's record in the history store, as the last report before verdict.json: the
verdict document as it will be written, and the files of the report directory."""

from __future__ import annotations

from pathlib import Path

from harness.reporters.failure import ReportFailed
from harness.reporters.verdict_json import verdict_document
from harness.verdict import RunResult


def record_history(result: RunResult, report_dir: Path) -> Path:
    """Record the run; ReportFailed naming the store when it cannot be written."""
    from harness.history.record import record_verdict
    from harness.history.store import HistoryError, open_store, store_location, within_deadline

    document = verdict_document(result, report_dir)

    def record() -> None:
        store = open_store(location)
        try:
            record_verdict(store, document, report_dir)
        finally:
            store.close()

    try:
        location = store_location()
        within_deadline(record, f"history store {location.shown}: recording run {result.run_id}")
    except HistoryError as exc:
        raise ReportFailed(str(exc)) from None
    return report_dir
