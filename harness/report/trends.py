"""Suite trends: the headline figures of the last runs (from the history store) and of
this run (from its verdict document), oldest first."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.history.figures import ALL_ENDPOINTS, WHOLE_RUN, load_figures, scalar_figures
from harness.history.queries import RunView
from harness.report import charts

LATENCY = ("p50", "p95", "p99")
HEADLINES: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("latency", "ms", LATENCY),
    ("throughput", "rps", ("rps",)),
    ("error rate", "ratio", ("error_rate",)),
    ("interactions", "count", ("interactions_verified", "interactions_failed")),
)


@dataclass(frozen=True)
class TrendRun:
    label: str
    status: str
    figures: Mapping[tuple[str, str], float]  # (step, metric) -> whole-run, all endpoints


def from_history(run: RunView) -> TrendRun:
    figures = {
        (step, metric): value
        for (step, endpoint, phase, metric), value in run.metrics.items()
        if endpoint == ALL_ENDPOINTS and phase == WHOLE_RUN
    }
    return TrendRun(run.run_id, run.status, figures)


def from_document(document: Mapping[str, Any]) -> TrendRun:
    figures: dict[tuple[str, str], float] = {}
    for step in document.get("steps") or []:
        if step.get("kind") == "load":
            found = load_figures(step, Path(), ())
        else:
            found = scalar_figures(step)
        for figure in found:
            if figure.endpoint == ALL_ENDPOINTS and figure.phase == WHOLE_RUN:
                figures[(str(step.get("name")), figure.name)] = figure.value
    return TrendRun(str(document.get("run_id")), str(document.get("status")), figures)


def trend_figures(runs: Sequence[TrendRun]) -> list[dict[str, Any]]:
    steps = list(dict.fromkeys(step for run in runs for step, _ in run.figures))
    labels = [run.label for run in runs]
    statuses = [run.status for run in runs]
    figures = []
    for step in steps:
        for title, unit, metrics in HEADLINES:
            series = {
                metric: [run.figures.get((step, metric)) for run in runs] for metric in metrics
            }
            if not any(v is not None for values in series.values() for v in values):
                continue
            figures.append(
                charts.trend_figure(f"{step}: {title}", unit, labels, series, statuses)
            )
    return figures
