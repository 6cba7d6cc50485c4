"""Reporters: consumers of the typed event stream and of the final result.

``write_reports`` writes verdict.json, junit.xml and summary.md into the report
directory (also for an interrupted run); the console reporter and the event log
consume events live.
"""

from __future__ import annotations

import contextlib
import sys
import traceback
from collections.abc import Callable
from pathlib import Path

from harness.engine import RunResult
from harness.events import Emit, Event
from harness.reporters.junit import write_junit
from harness.reporters.summary_md import write_summary
from harness.reporters.verdict_json import write_verdict_json

__all__ = ["fan_out", "write_reports"]


def write_reports(result: RunResult, report_dir: Path) -> list[Path]:
    report_dir.mkdir(parents=True, exist_ok=True)
    return [
        write_verdict_json(result, report_dir),
        write_junit(result, report_dir),
        write_summary(result, report_dir),
    ]


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
