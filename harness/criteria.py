"""The criteria language, in the spirit of k6 thresholds and Taurus pass/fail.

    p95 < 100ms
    error_rate < 0.1%
    rps >= 90
    p99{name="POST /predict"} < 250ms for 30s
    recovery_time < 30s

A criterion is written as a string, or as a mapping that adds options:

    {expr: "error_rate < 5%", phase: fault, abort: true, for: "10s"}

Baseline thresholds (:mod:`harness.baseline_expr`): ``p95 < baseline * 1.10``,
``error_rate <= baseline + 0.1%``, with option ``baseline: last_pass | {median_of_last: N}
| RUN_ID``; resolved from the history store before the run.

Thresholds are stored in the metric's canonical unit: milliseconds for
latencies, a fraction for rates, seconds for durations, plain numbers otherwise.
"""

from __future__ import annotations

import difflib
import math
import operator
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from harness.baseline_expr import (
    VALUE_PATTERN,
    Baseline,
    BaselineSyntaxError,
    parse_value,
    with_source,
)
from harness.units import parse_duration_s, parse_latency_ms, parse_rate

Op = Literal["<", "<=", ">", ">=", "=="]
UnitKind = Literal["latency", "rate", "duration", "number"]
Phase = Literal["baseline", "fault", "recovery"]

_OPS: dict[str, Callable[[float, float], bool]] = {
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
    "==": operator.eq,
}

PERCENTILE_RE = re.compile(r"^p(?P<q>\d{1,2}(?:\.\d+)?)$")

METRICS: dict[str, UnitKind] = {
    "max": "latency",
    "min": "latency",
    "mean": "latency",
    "median": "latency",
    "error_rate": "rate",
    "rps": "number",
    "requests": "number",
    "failures": "number",
    "unsent": "number",  # open model: arrivals that could not be sent
    "completion_rate": "rate",  # pipelines that succeeded / submitted
    "pipeline_p50": "duration",
    "pipeline_p95": "duration",
    "pipeline_p99": "duration",
    "cpu_utilisation": "rate",  # target resource utilisation
    "recovery_time": "duration",
    "wrong_answer_rate": "rate",  # checked answers that were wrong (harness.load.ml)
    "crossover_count": "number",  # answers that belonged to another request's input
    "version_skew": "rate",  # answers not on the expected model version
    # chaos steps: what clients saw during the experiment (harness.chaos.answers)
    "rollout_time": "duration",  # mixed-version window of a model rollout
    "skew_outside_rollout": "rate",  # answers off their side's version outside the window
    "version_flips": "number",
    "old_version_replicas": "number",
    "not_ready_answers": "number",  # 503 not_ready from a pod that said it was ready
    "cold_start_s": "duration",  # kill (or boot) to the new pod's first correct answer
    "time_to_ready_s": "duration",
    "answer_errors": "number",
    "wrong_answers": "number",
}
"""Metric names beside the percentiles ``p50``, ``p95``, ``p99.9``, ... (all latencies)."""

UNIT_LABEL: dict[UnitKind, str] = {
    "latency": "ms",
    "rate": "ratio",
    "duration": "s",
    "number": "",
}

_PARSERS: dict[UnitKind, Callable[[str], float]] = {
    "latency": parse_latency_ms,
    "rate": parse_rate,
    "duration": parse_duration_s,
    "number": lambda text: _parse_number(text),
}

_EXPR_RE = re.compile(
    r"""^\s*(?P<metric>[A-Za-z_][A-Za-z0-9_.]*)
        (?:\{(?P<labels>[^}]*)\})?
        \s*(?P<op><=|>=|==|<|>)\s*
        (?P<value>""" + VALUE_PATTERN + r"""|[^\s]+)
        (?:\s+for\s+(?P<sustain>[^\s]+))?
        \s*$""",
    re.VERBOSE,
)
_LABEL_RE = re.compile(r'\s*(?P<key>[A-Za-z_][A-Za-z0-9_]*)\s*=\s*"(?P<value>[^"]*)"\s*(?:,|$)')
_OPTION_KEYS = ("expr", "abort", "for", "phase", "baseline")
_PHASES: tuple[Phase, ...] = ("baseline", "fault", "recovery")


class CriterionError(ValueError):
    """A criterion that cannot be parsed. ``field`` is the option at fault
    ("expr", "phase", ...) so the config loader can point at its line."""

    def __init__(self, message: str, field: str = "expr") -> None:
        super().__init__(message)
        self.field = field


@dataclass(frozen=True)
class Criterion:
    text: str
    metric: str
    op: Op
    threshold: float
    unit_kind: UnitKind
    labels: Mapping[str, str] = field(default_factory=dict)
    sustain_s: float | None = None
    abort: bool = False
    phase: Phase | None = None
    baseline: Baseline | None = None  # threshold from earlier runs (resolved before the run)

    @property
    def unit(self) -> str:
        return UNIT_LABEL[self.unit_kind]

    @property
    def percentile(self) -> float | None:
        """50.0 for p50, 99.9 for p99.9; ``median`` is 50; None for other metrics."""
        if self.metric == "median":
            return 50.0
        match = PERCENTILE_RE.match(self.metric)
        return float(match["q"]) if match else None

    def holds(self, observed: float) -> bool:
        if self.baseline is not None and not self.baseline.resolved:
            raise ValueError(f"harness bug: {self.text!r} judged before its baseline was resolved")
        return _OPS[self.op](observed, self.threshold)

    @property
    def name(self) -> str:
        """A stable display name: the expression plus its options."""
        parts = [self.text]
        if self.phase:
            parts.append(f"[phase={self.phase}]")
        if self.baseline is not None and self.baseline.source != "last_pass":
            parts.append(f"[baseline: {self.baseline.source_text}]")
        if self.abort:
            parts.append("[abort]")
        return " ".join(parts)


def metric_unit_kind(metric: str) -> UnitKind | None:
    if PERCENTILE_RE.match(metric):
        return "latency"
    return METRICS.get(metric)


def parse_criterion(raw: str | Mapping[str, Any]) -> Criterion:
    """Parse one criterion as written in a suite file. Raises CriterionError."""
    if isinstance(raw, str):
        return _parse_expr(raw)
    if not isinstance(raw, Mapping):
        raise CriterionError(
            f"a criterion is a string such as 'p95 < 100ms' or a mapping with 'expr', "
            f"got {type(raw).__name__}"
        )
    for key in raw:
        if key not in _OPTION_KEYS:
            raise CriterionError(
                f"unknown option {key!r}{did_you_mean(str(key), _OPTION_KEYS)}", str(key)
            )
    if "expr" not in raw:
        raise CriterionError("missing 'expr' (for example: expr: 'p95 < 100ms')", "expr")
    expr = raw["expr"]
    if not isinstance(expr, str):
        raise CriterionError("'expr' must be a string such as 'p95 < 100ms'", "expr")
    criterion = _parse_expr(expr)
    abort = raw.get("abort", False)
    if not isinstance(abort, bool):
        raise CriterionError(f"'abort' must be true or false, got {abort!r}", "abort")
    sustain_s = criterion.sustain_s
    if "for" in raw:
        if sustain_s is not None:
            raise CriterionError("'for' given twice (in 'expr' and as an option)", "for")
        try:
            sustain_s = parse_duration_s(raw["for"])
        except ValueError as exc:
            raise CriterionError(str(exc), "for") from None
    phase = raw.get("phase")
    if phase is not None and phase not in _PHASES:
        raise CriterionError(
            f"unknown phase {phase!r}{did_you_mean(str(phase), _PHASES)}; "
            f"phases are {', '.join(_PHASES)}",
            "phase",
        )
    baseline = criterion.baseline
    if "baseline" in raw:
        if baseline is None:
            raise CriterionError(
                "'baseline' applies to a baseline criterion such as 'p95 < baseline * 1.10'",
                "baseline",
            )
        try:
            baseline = with_source(baseline, raw["baseline"])
        except BaselineSyntaxError as exc:
            raise CriterionError(str(exc), exc.field) from None
    return Criterion(
        text=criterion.text,
        metric=criterion.metric,
        op=criterion.op,
        threshold=criterion.threshold,
        unit_kind=criterion.unit_kind,
        labels=criterion.labels,
        sustain_s=sustain_s,
        abort=abort,
        phase=phase,
        baseline=baseline,
    )


def _parse_expr(text: str) -> Criterion:
    match = _EXPR_RE.match(text)
    if not match:
        raise CriterionError(
            f"cannot read criterion {text!r}: expected '<metric> <op> <value> [for <duration>]', "
            f"for example 'p95 < 100ms' or 'error_rate < 0.1%'"
        )
    metric = match["metric"]
    unit_kind = metric_unit_kind(metric)
    if unit_kind is None:
        known = [*METRICS, "p50", "p90", "p95", "p99", "p99.9"]
        raise CriterionError(f"unknown metric {metric!r}{did_you_mean(metric, known)}")
    percentile = PERCENTILE_RE.match(metric)
    if percentile and not 0.0 < float(percentile["q"]) < 100.0:
        raise CriterionError(f"percentile {metric!r} must lie between p0 and p100")
    try:
        baseline = parse_value(metric, match["value"], _PARSERS[unit_kind])
    except BaselineSyntaxError as exc:
        raise CriterionError(str(exc), exc.field) from None
    try:
        threshold = math.nan if baseline else _PARSERS[unit_kind](match["value"])
    except ValueError as exc:
        raise CriterionError(f"{metric}: {exc}") from None
    sustain_s = None
    if match["sustain"]:
        try:
            sustain_s = parse_duration_s(match["sustain"])
        except ValueError as exc:
            raise CriterionError(f"'for': {exc}", "for") from None
    return Criterion(
        text=text.strip(),
        metric=metric,
        op=match["op"],  # type: ignore[arg-type]
        threshold=threshold,
        unit_kind=unit_kind,
        labels=_parse_labels(match["labels"] or ""),
        sustain_s=sustain_s,
        baseline=baseline,
    )


def _parse_labels(text: str) -> dict[str, str]:
    labels: dict[str, str] = {}
    position = 0
    text = text.strip()
    while position < len(text):
        match = _LABEL_RE.match(text, position)
        if not match:
            raise CriterionError(f'cannot read selector {{{text}}}: expected key="value", ...')
        if match["key"] != "name":
            raise CriterionError(
                f"unknown selector label {match['key']!r}; only 'name' is supported"
            )
        labels[match["key"]] = match["value"]
        position = match.end()
    return labels


def _parse_number(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise ValueError(f"expected a number, got {text!r}") from None
    if value != value or value in (float("inf"), float("-inf")):
        raise ValueError(f"expected a finite number, got {text!r}")
    return value


def did_you_mean(word: str, choices: tuple[str, ...] | list[str]) -> str:
    """ "; did you mean 'x'?" when a close choice exists, else ""."""
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""
