"""Headline figures of a finished run, read from its report directory as files.

- load steps: the whole-run figures in ``verdict.json`` (overall and per endpoint), and
  per chaos phase the same figures recomputed from the step's interval stream artifact
  (``<step>/intervals.jsonl``) with the phase marks of ``events.jsonl``;
- other steps: their numeric top-level metrics;
- a compact per-second series (columnar) from the load step's ``series``.

Metric names are the criteria language's (``p95``, ``rps``, ``error_rate``, ...), so a
baseline criterion finds its value by the name it is written with.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.load.interval import Interval
from harness.load.judge import phase_of
from harness.load.stream import IntervalStream
from harness.load.tally import Selection, Tally, describe
from harness.outcome import PhaseMark

WHOLE_RUN = ""
ALL_ENDPOINTS = ""
SERIES_COLUMNS = ("second", "requests", "failures", "p50_ms", "p95_ms", "p99_ms", "max_ms")


@dataclass(frozen=True)
class Figure:
    endpoint: str  # "" = every endpoint (overall)
    phase: str  # "" = the whole run
    name: str  # criteria-language metric name
    value: float


def described_figures(row: Mapping[str, Any], endpoint: str, phase: str) -> list[Figure]:
    """Figures of one ``describe()`` row (``p95_ms`` -> ``p95``)."""
    figures = []
    for key, value in row.items():
        if isinstance(value, bool) or not isinstance(value, int | float):
            continue
        if not math.isfinite(float(value)):
            continue
        figures.append(Figure(endpoint, phase, key.removesuffix("_ms"), float(value)))
    return figures


def load_figures(
    step: Mapping[str, Any], report_dir: Path, marks: Sequence[PhaseMark]
) -> list[Figure]:
    metrics = step.get("metrics") or {}
    figures: list[Figure] = []
    overall = metrics.get("overall")
    if isinstance(overall, Mapping):
        figures += described_figures(overall, ALL_ENDPOINTS, WHOLE_RUN)
    for key, row in dict(metrics.get("endpoints") or {}).items():
        if isinstance(row, Mapping):
            figures += described_figures(row, str(key), WHOLE_RUN)
    if marks:
        intervals = read_intervals(report_dir / str(step["name"]) / "intervals.jsonl")
        figures += phase_figures(intervals, marks)
    return figures


def read_intervals(path: Path) -> list[Interval]:
    if not path.exists():
        return []
    stream = IntervalStream(path)
    return [line.interval for line in stream.read_new() if line.interval is not None]


def phase_figures(intervals: Sequence[Interval], marks: Sequence[PhaseMark]) -> list[Figure]:
    by_phase: dict[str, list[Interval]] = {}
    for interval in intervals:
        phase = phase_of(interval.second, marks)
        if phase is not None:
            by_phase.setdefault(phase, []).append(interval)
    figures: list[Figure] = []
    for phase, chosen in by_phase.items():
        tally = Tally(chosen)
        span_s = float(len(chosen))
        figures += described_figures(describe(tally.select({}), span_s), ALL_ENDPOINTS, phase)
        for key, endpoint in tally.endpoints.items():
            selection = Selection(
                endpoint.count, endpoint.failures, endpoint.hist, endpoint.reasons,
                endpoint.unfinished,
            )
            figures += described_figures(describe(selection, span_s), key, phase)
    return figures


def scalar_figures(step: Mapping[str, Any]) -> list[Figure]:
    """Numeric top-level metrics of any step (counts, durations; a plug-in's figures)."""
    metrics = step.get("metrics") or {}
    return [
        Figure(ALL_ENDPOINTS, WHOLE_RUN, str(key), float(value))
        for key, value in metrics.items()
        if isinstance(value, int | float)
        and not isinstance(value, bool)
        and math.isfinite(float(value))
    ]


def phase_marks(events: Iterable[Mapping[str, Any]], steps_of_stage: set[str]) -> list[PhaseMark]:
    """The phase marks that chaos steps of one stage emitted (``PhaseChanged`` events)."""
    marks = []
    for event in events:
        if event.get("event") != "PhaseChanged" or event.get("step") not in steps_of_stage:
            continue
        phase = event.get("phase")
        if phase in ("baseline", "fault", "recovery") and isinstance(event.get("at"), int | float):
            marks.append(PhaseMark(phase, float(event["at"]), str(event.get("detail", ""))))
    return marks


def read_events(path: Path) -> list[dict[str, Any]]:
    """``events.jsonl`` as records; unreadable lines (a killed run's last one) are skipped."""
    if not path.exists():
        return []
    records = []
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            continue
        if isinstance(record, dict):
            records.append(record)
    return records


def compact_series(step: Mapping[str, Any]) -> dict[str, list[Any]] | None:
    """The step's per-second points as columns (one list per figure), or None."""
    points = (step.get("metrics") or {}).get("series")
    if not isinstance(points, list) or not points:
        return None
    columns: dict[str, list[Any]] = {name: [] for name in (*SERIES_COLUMNS, "phase")}
    for point in points:
        if not isinstance(point, Mapping):
            continue
        for name in columns:
            columns[name].append(point.get(name))
    return columns
