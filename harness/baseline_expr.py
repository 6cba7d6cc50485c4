"""Baseline thresholds in the criteria language: ``p95 < baseline * 1.10``,
``rps >= baseline * 0.95``, ``error_rate <= baseline + 0.1%``, and both at once,
``p95 < baseline * 1.10 + 20ms`` / ``rps >= baseline * 0.95 - 5``: a relative tolerance plus
an absolute noise floor (like ``numpy.isclose``'s rtol and atol), for figures whose
run-to-run noise is a fixed amount rather than a fraction (a short run's p95 on a busy
machine moves by tens of milliseconds whatever the service's own latency).

The baseline is the same metric (same selector, same phase) in earlier runs of the suite,
read from the history store: ``last_pass`` (default), ``{median_of_last: N}`` passing
runs, or a pinned run id (option ``baseline:``). A criterion written so has no threshold
until :mod:`harness.history.baseline` resolves it before the run; judging an unresolved
one is a harness bug (it raises), never a silent pass.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import Literal

BASELINE_METRICS = frozenset(
    {"p50", "p90", "p95", "p99", "p99.9", "max", "min", "mean", "median", "error_rate", "rps",
     "requests", "failures"}
)
"""Metrics the history store keeps per endpoint and phase (whole run and each phase)."""

VALUE_RE = re.compile(
    r"^baseline(?:\s*\*\s*(?P<factor>[^\s+-]+))?(?:\s*(?P<sign>[+-])\s*(?P<offset>\S+))?$"
)
"""The value side of a baseline criterion (after the comparison operator)."""

VALUE_PATTERN = r"baseline(?:\s*\*\s*[^\s+-]+)?(?:\s*[+-]\s*\S+)?"
"""The same, unanchored and without groups: for the criterion expression's own pattern."""

MAX_MEDIAN_RUNS = 100


class BaselineSyntaxError(ValueError):
    def __init__(self, message: str, field: str = "expr") -> None:
        super().__init__(message)
        self.field = field


@dataclass(frozen=True)
class Baseline:
    """Where a criterion's threshold comes from; ``value``/``runs`` once resolved."""

    operator: Literal["*", "+"]
    operand: float  # a factor, or an offset in the metric's canonical unit
    offset: float = 0.0  # "baseline * F + OFFSET": the offset after the factor (signed)
    source: Literal["last_pass", "median_of_last", "run"] = "last_pass"
    count: int = 1  # median_of_last N
    run_id: str | None = None  # source "run": the pinned run
    value: float | None = None  # the baseline figure (resolved)
    runs: tuple[str, ...] = ()  # the run(s) it was read from (resolved)

    @property
    def resolved(self) -> bool:
        return self.value is not None

    def threshold(self, value: float) -> float:
        if self.operator == "*":
            return value * self.operand + self.offset
        return value + self.operand

    @property
    def source_text(self) -> str:
        if self.source == "run":
            return f"run {self.run_id}"
        if self.source == "median_of_last":
            return f"median of the last {self.count} passing runs"
        return "last passing run"


def parse_value(
    metric: str, text: str, parse_offset: Callable[[str], float]
) -> Baseline | None:
    """The baseline of a criterion's value side, or None when it is a plain threshold."""
    match = VALUE_RE.match(text.strip())
    if not match or not (match["factor"] or match["offset"]):
        if text.strip().startswith("baseline"):
            raise BaselineSyntaxError(
                f"cannot read {text.strip()!r}: write 'baseline * FACTOR', 'baseline + OFFSET'"
                " or 'baseline * FACTOR + OFFSET' (for example 'p95 < baseline * 1.10',"
                " 'error_rate <= baseline + 0.1%', 'p95 < baseline * 1.10 + 20ms',"
                " 'rps >= baseline * 0.95 - 5')"
            )
        return None
    if metric not in BASELINE_METRICS:
        raise BaselineSyntaxError(
            f"{metric} has no baseline: the history store keeps "
            f"{', '.join(sorted(BASELINE_METRICS))}"
        )
    written = text.strip()
    try:
        factor = _factor(match["factor"]) if match["factor"] else None
        offset = parse_offset(match["offset"]) if match["offset"] else 0.0
    except ValueError as exc:
        raise BaselineSyntaxError(f"{metric}: {written}: {exc}") from None
    if match["sign"] == "-":
        offset = -offset
    if factor is not None:
        return Baseline(operator="*", operand=factor, offset=offset)
    return Baseline(operator="+", operand=offset)


def _factor(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise ValueError(f"expected a factor such as 1.10, got {text!r}") from None
    if not 0.0 < value < 1000.0:
        raise ValueError(f"a factor must lie between 0 and 1000, got {text!r}")
    return value


def with_source(baseline: Baseline, raw: object) -> Baseline:
    """Apply the ``baseline:`` option: ``last_pass``, ``{median_of_last: N}`` or a run id."""
    if raw == "last_pass":
        return baseline
    if isinstance(raw, Mapping):
        if set(raw) != {"median_of_last"}:
            raise BaselineSyntaxError(
                "'baseline' takes last_pass, {median_of_last: N} or a run id", "baseline"
            )
        count = raw["median_of_last"]
        whole = isinstance(count, int) and not isinstance(count, bool)
        if not whole or not 1 <= count <= MAX_MEDIAN_RUNS:
            raise BaselineSyntaxError(
                f"median_of_last: expected a whole number of runs from 1 to {MAX_MEDIAN_RUNS},"
                f" got {count!r}", "baseline",
            )
        return replace(baseline, source="median_of_last", count=count)
    if isinstance(raw, str) and raw.strip():
        return replace(baseline, source="run", run_id=raw.strip())
    raise BaselineSyntaxError(
        f"'baseline' takes last_pass, {{median_of_last: N}} or a run id, got {raw!r}", "baseline"
    )
