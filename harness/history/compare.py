"""Comparing two recorded runs: every metric side by side, with deltas and regressions.

A change is a regression when it goes the bad way by more than the default baseline
tolerances: latencies +10 %, throughput and counts of good things -5 %, rates
+0.1 percentage point, counts of bad things any increase; and every criterion that
passed in A and does not in B.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from harness.criteria import PERCENTILE_RE
from harness.history.queries import MetricKey, RunView

Direction = Literal["lower", "higher", "neutral"]

LATENCY_TOLERANCE = 0.10
VOLUME_TOLERANCE = 0.05
RATE_TOLERANCE = 0.001

_LOWER_COUNTS = {"failures", "unsent", "interactions_failed", "recovery_time"}
_HIGHER = {"rps", "requests", "interactions_verified", "completion_rate"}
_RATES = {"error_rate", "completion_rate", "cpu_utilisation"}


@dataclass(frozen=True)
class MetricDelta:
    key: MetricKey
    a: float | None
    b: float | None
    regression: bool

    @property
    def delta(self) -> float | None:
        return None if self.a is None or self.b is None else self.b - self.a

    @property
    def relative(self) -> float | None:
        if self.delta is None or not self.a:
            return None
        return self.delta / abs(self.a)


@dataclass(frozen=True)
class CriterionChange:
    step: str
    name: str
    a: str | None
    b: str | None

    @property
    def regression(self) -> bool:
        return self.a == "pass" and self.b not in ("pass", None)


@dataclass(frozen=True)
class Comparison:
    a: RunView
    b: RunView
    metrics: tuple[MetricDelta, ...]
    criteria: tuple[CriterionChange, ...]

    @property
    def regressions(self) -> int:
        return sum(m.regression for m in self.metrics) + sum(c.regression for c in self.criteria)


def direction(metric: str) -> Direction:
    if metric in _HIGHER:
        return "higher"
    if PERCENTILE_RE.match(metric) or metric in {"max", "min", "mean", "median", "error_rate"}:
        return "lower"
    if metric in _LOWER_COUNTS or metric.endswith("_s"):
        return "lower"
    return "neutral"


def is_regression(metric: str, a: float | None, b: float | None) -> bool:
    if a is None or b is None:
        return False
    way = direction(metric)
    if way == "neutral":
        return False
    worse = b - a if way == "lower" else a - b
    if metric in _RATES:
        return worse > RATE_TOLERANCE
    if metric in _LOWER_COUNTS:
        return worse > 0
    tolerance = LATENCY_TOLERANCE if way == "lower" else VOLUME_TOLERANCE
    return worse > tolerance * abs(a)


def compare_runs(a: RunView, b: RunView) -> Comparison:
    keys = sorted(set(a.metrics) | set(b.metrics), key=_order)
    metrics = tuple(
        MetricDelta(key, a.metrics.get(key), b.metrics.get(key),
                    is_regression(key[3], a.metrics.get(key), b.metrics.get(key)))
        for key in keys
    )
    status_a = {(c.step, c.name): c.status for c in a.criteria}
    status_b = {(c.step, c.name): c.status for c in b.criteria}
    criteria = tuple(
        CriterionChange(step, name, status_a.get((step, name)), status_b.get((step, name)))
        for step, name in dict.fromkeys([*status_a, *status_b])
        if status_a.get((step, name)) != status_b.get((step, name))
    )
    return Comparison(a, b, metrics, criteria)


_METRIC_ORDER = ["requests", "rps", "error_rate", "failures", "p50", "p90", "p95", "p99", "p99.9",
                 "mean", "min", "max"]


def _order(key: MetricKey) -> tuple[str, str, str, int, str]:
    step, endpoint, phase, metric = key
    rank = _METRIC_ORDER.index(metric) if metric in _METRIC_ORDER else len(_METRIC_ORDER)
    return (step, phase, endpoint, rank, metric)
