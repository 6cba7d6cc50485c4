"""Baseline thresholds in the criteria language: ``p95 < baseline * 1.10``,
``rps >= baseline * 0.95``, ``error_rate <= baseline + 0.1%``.

The baseline is the same metric (same selector, same phase) in earlier runs of the suite,
read from the history store: ``last_pass`` (default), ``{median_of_last: N}`` passing
runs, or a pinned run id (option ``baseline:``). A criterion written so has no threshold
until :mod:`harness.history.baseline` resolves it before the run; judging an unresolved
one is a harness bug (it raises), never a silent pass.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Literal

BASELINE_METRICS = frozenset(
    {"p50", "p90", "p95", "p99", "p99.9", "max", "min", "mean", "median", "error_rate", "rps",
     "requests", "failures"}
)
"""Metrics the history store keeps per endpoint and phase (whole run and each phase)."""

VALUE_RE = re.compile(r"^baseline\s*(?P<op>[*+])\s*(?P<operand>\S+)$")
"""The value side of a baseline criterion (after the comparison operator)."""

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
    source: Literal["last_pass", "median_of_last", "run"] = "last_pass"
    count: int = 1  # median_of_last N
    run_id: str | None = None  # source "run": the pinned run
    value: float | None = None  # the baseline figure (resolved)
    runs: tuple[str, ...] = ()  # the run(s) it was read from (resolved)

    @property
    def resolved(self) -> bool:
        return self.value is not None

    def threshold(self, value: float) -> float:
        return value * self.operand if self.operator == "*" else value + self.operand

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
    if not match:
        if text.strip().startswith("baseline"):
            raise BaselineSyntaxError(
                f"cannot read {text.strip()!r}: write 'baseline * FACTOR' or 'baseline + OFFSET'"
                " (for example 'p95 < baseline * 1.10', 'error_rate <= baseline + 0.1%')"
            )
        return None
    if metric not in BASELINE_METRICS:
        raise BaselineSyntaxError(
            f"{metric} has no baseline: the history store keeps "
            f"{', '.join(sorted(BASELINE_METRICS))}"
        )
    operand_text = match["operand"]
    try:
        operand = _factor(operand_text) if match["op"] == "*" else parse_offset(operand_text)
    except ValueError as exc:
        written = f"baseline {match['op']} {operand_text}"
        raise BaselineSyntaxError(f"{metric}: {written}: {exc}") from None
    return Baseline(operator=match["op"], operand=operand)  # type: ignore[arg-type]


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
        return Baseline(baseline.operator, baseline.operand, "median_of_last", count)
    if isinstance(raw, str) and raw.strip():
        return Baseline(baseline.operator, baseline.operand, "run", run_id=raw.strip())
    raise BaselineSyntaxError(
        f"'baseline' takes last_pass, {{median_of_last: N}} or a run id, got {raw!r}", "baseline"
    )
