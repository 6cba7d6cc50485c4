"""``REPORT_DIR/report.html``: one self-contained page with charts, written for every run.

Reads only files (the verdict document, ``events.jsonl``, the steps' artifacts) and,
for the suite's trends, the history store's earlier runs; never the engine.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from harness.history.queries import RunView
from harness.report.page import render_report
from harness.report.trends import TrendRun, from_document, from_history
from harness.report.views import step_views
from wholefile import write_atomically

__all__ = ["TREND_RUNS", "trend_from_history", "write_html_report"]

TREND_RUNS = 20
"""How many earlier runs of the suite the trends show."""


def write_html_report(
    document: Mapping[str, Any], report_dir: Path, earlier: Sequence[TrendRun] = ()
) -> Path:
    """Write report.html; ``earlier`` are the suite's earlier runs, oldest first."""
    trend = [*earlier, from_document(document)] if earlier else []
    text = render_report(document, step_views(document, report_dir), trend)
    path = report_dir / "report.html"
    write_atomically(path, text)
    return path


def trend_from_history(runs: Sequence[RunView]) -> list[TrendRun]:
    """Earlier runs (as read from the store, newest first) as trend points, oldest first."""
    return [from_history(run) for run in reversed(runs)]
