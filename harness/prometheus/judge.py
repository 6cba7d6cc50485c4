"""Judging PromQL criteria against the target's Prometheus, at the end of a step.

The window a criterion is judged over is the step's [start, end], or, with ``phase``, that
phase (from the phase's first mark on the stage timeline to the next mark, or the step's
end). ``over: end`` queries at the window's end; ``over: window`` runs a range
query over it. Never a vacuous pass: no Prometheus, a query error, an empty answer, a
NaN/Inf value or a phase that never happened is ERROR with the query and the answer.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import dataclass

from harness.outcome import CriterionResult, PhaseMark
from harness.prometheus.client import (
    PrometheusClient,
    PrometheusError,
    Sample,
    describe_labels,
)
from harness.prometheus.criterion import MAX_WINDOW_POINTS, PromqlCriterion
from harness.status import Status

NO_PROMETHEUS = (
    "no Prometheus to ask: PromQL criteria need an external or kubernetes target with "
    "target.external.prometheus_url (or HARNESS_PROMETHEUS_URL); the local testbed has none"
)


@dataclass(frozen=True)
class Window:
    start: float
    end: float


def phase_window(
    marks: Sequence[PhaseMark], phase: str, step: Window
) -> Window | None:
    """``phase`` from its first mark to the next mark of another phase (the stage's
    timeline, whether or not the load was running then), or to the step's end when it is
    the last; None when that phase never started, or started after the step ended."""
    ordered = sorted(marks, key=lambda m: m.at)
    start = next((m.at for m in ordered if m.phase == phase), None)
    if start is None:
        return None
    end = next((m.at for m in ordered if m.at > start and m.phase != phase), step.end)
    return Window(start, end) if end > start else None


async def judge_promql_criteria(
    prometheus_url: str | None,
    criteria: Sequence[PromqlCriterion],
    step: Window,
    marks: Sequence[PhaseMark] = (),
) -> list[CriterionResult]:
    """Every criterion against the Prometheus at ``prometheus_url`` (None: each is ERROR)."""
    client = PrometheusClient(prometheus_url) if prometheus_url else None
    return [await judge_promql(client, criterion, step, marks) for criterion in criteria]


async def judge_promql(
    client: PrometheusClient | None,
    criterion: PromqlCriterion,
    step: Window,
    marks: Sequence[PhaseMark] = (),
) -> CriterionResult:
    if client is None:
        return _result(criterion, Status.ERROR, None, NO_PROMETHEUS)
    window = step
    if criterion.phase is not None:
        found = phase_window(marks, criterion.phase, step)
        if found is None:
            return _result(
                criterion, Status.ERROR, None,
                f"phase {criterion.phase} was not recorded during the step: nothing to query",
            )
        window = found
    try:
        if criterion.over == "window":
            values, where = await _window_values(client, criterion, window)
        else:
            values, where = await _end_values(client, criterion, window)
    except PrometheusError as exc:
        return _result(criterion, Status.ERROR, None, str(exc))
    observed = criterion.worst([v for v, _ in values])
    failing = [label for v, label in values if not criterion.holds(v)]
    if failing:
        more = f" and {len(failing) - 3} more" if len(failing) > 3 else ""
        shown = ", ".join(failing[:3]) + more
        return _result(criterion, Status.FAIL, observed, f"{where}; breached by {shown}")
    return _result(criterion, Status.PASS, observed, where)


async def _end_values(
    client: PrometheusClient, criterion: PromqlCriterion, window: Window
) -> tuple[list[tuple[float, str]], str]:
    samples = await client.query(criterion.query, at=window.end)
    at = _clock(window.end)
    if not samples:
        raise PrometheusError(
            f"{criterion.query!r} answered an empty result at {at} (no series: is the "
            f"metric scraped, are the labels right?): nothing to judge"
        )
    bad = [s for s in samples if not math.isfinite(s.value)]
    if bad:
        raise PrometheusError(
            f"{criterion.query!r} answered {_shown(bad)} at {at}: not a number to judge"
        )
    where = f"instant query at {at}, {len(samples)} series"
    return [(s.value, f"{describe_labels(s.labels)}={s.value:g}") for s in samples], where


async def _window_values(
    client: PrometheusClient, criterion: PromqlCriterion, window: Window
) -> tuple[list[tuple[float, str]], str]:
    span_s = window.end - window.start
    step_s = max(criterion.step_s, span_s / MAX_WINDOW_POINTS)
    series = await client.query_range(criterion.query, window.start, window.end, step_s)
    span = f"{_clock(window.start)} to {_clock(window.end)}"
    points = [(p, s) for s in series for p in s.points]
    if not points:
        raise PrometheusError(
            f"{criterion.query!r} answered an empty result over {span} (no series: is the "
            f"metric scraped, are the labels right?): nothing to judge"
        )
    bad = [(p, s) for p, s in points if not math.isfinite(p[1])]
    if bad:
        (at, value), one = bad[0]
        raise PrometheusError(
            f"{criterion.query!r} answered {len(bad)} non-number point(s) over {span}, "
            f"first {describe_labels(one.labels)}={value} at {_clock(at)}"
        )
    where = f"range query over {span} every {step_s:g} s, {len(points)} points"
    values = [
        (value, f"{describe_labels(s.labels)}={value:g} at {_clock(at)}")
        for (at, value), s in points
    ]
    return values, where


def _shown(samples: Sequence[Sample]) -> str:
    return ", ".join(f"{describe_labels(s.labels)}={s.value}" for s in samples[:3])


def _clock(at: float) -> str:
    return time.strftime("%H:%M:%S", time.gmtime(at)) + f".{int(at * 10) % 10}Z"


def _result(
    criterion: PromqlCriterion, status: Status, observed: float | None, reason: str
) -> CriterionResult:
    return CriterionResult(
        name=criterion.name,
        status=status,
        observed=None if observed is None else round(observed, 6),
        threshold=criterion.threshold,
        unit=criterion.unit,
        phase=criterion.phase,
        reason=reason,
    )
