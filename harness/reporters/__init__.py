"""Reporters: consumers of the typed event stream and of the judged result
(:class:`harness.verdict.RunResult`); none of them knows the engine.

``write_reports`` writes junit.xml, summary.md and report.html, records the run in the
history store, then writes verdict.json last and
atomically (also for an interrupted run): a reader that finds verdict.json finds every
other report beside it. A report that cannot be written makes the verdict ERROR, naming
the file and the OS error; so does a failed push of the results to the Pushgateway named
by ``HARNESS_PUSHGATEWAY_URL`` (:mod:`harness.reporters.pushgateway`). The console
reporter and the event log consume events live.
"""

from __future__ import annotations

import contextlib
import sys
import traceback
from collections.abc import Callable
from pathlib import Path

from harness.events import Emit, Event
from harness.reporters.failure import ReportFailed
from harness.reporters.history_record import record_history
from harness.reporters.html import write_html
from harness.reporters.junit import write_junit
from harness.reporters.pushgateway import push_problem
from harness.reporters.summary_md import write_summary
from harness.reporters.verdict_json import VERDICT_FILE, write_verdict_json
from harness.verdict import RunResult, with_report_errors

__all__ = ["REPORTS", "fan_out", "write_reports"]

WriteReport = Callable[[RunResult, Path], Path]

REPORTS: tuple[tuple[str, WriteReport], ...] = (
    ("junit.xml", write_junit),
    ("summary.md", write_summary),
    ("report.html", write_html),
)
"""The reports written before verdict.json, in order: (file name, writer)."""


def write_reports(result: RunResult, report_dir: Path) -> RunResult:
    """Every report, verdict.json last; the result as reported (ERROR if a report could
    not be written)."""
    problems: list[str] = []
    as_run = result
    try:
        report_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        problems.append(_cannot_write(report_dir, exc))
    for name, write in REPORTS:
        try:
            write(result, report_dir)
        except OSError as exc:
            problems.append(_cannot_write(report_dir / name, exc))
        except Exception as exc:  # a reporter's bug: the verdict says so, it is not lost
            problems.append(f"cannot write {report_dir / name}: {type(exc).__name__}: {exc}")
    pushed = push_problem(result, report_dir)  # HARNESS_PUSHGATEWAY_URL, if set
    if pushed:
        problems.append(pushed)
    if problems:
        result = with_report_errors(result, problems)
    try:  # the history record: the verdict as verdict.json will say it
        record_history(result, report_dir)
    except ReportFailed as exc:
        problems.append(str(exc))
        result = with_report_errors(as_run, problems)
    try:
        write_verdict_json(result, report_dir)
    except OSError as exc:
        problems.append(_cannot_write(report_dir / VERDICT_FILE, exc))
        result = with_report_errors(as_run, problems)
    return result


def _cannot_write(path: Path, exc: OSError) -> str:
    return f"cannot write {path}: {exc.strerror or exc}"


def fan_out(*consumers: Callable[[Event], None]) -> Emit:
    """One emit that hands each event to every consumer; a consumer that raises
    is reported on stderr and does not stop the run or the other consumers."""

    def emit(event: Event) -> None:
        for consume in consumers:
            try:
                consume(event)
            except Exception:
                with contextlib.suppress(Exception):
                    print(
                        f"harness: reporter error ignored: {traceback.format_exc(limit=2)}",
                        file=sys.stderr,
                    )

    return emit
