"""PromQL criteria: a query against the target's Prometheus and a bound on its answer.

Written as a mapping with exactly one comparison key::

    {promql: 'sum(rate(ml_predictions_total{status!="200"}[30s]))', "<": 1}
    {promql: 'histogram_quantile(0.95, sum by (le) (rate(x_bucket[30s])))', "<": 0.1,
     over: window, phase: fault, name: "serving p95 under the fault"}

or on one line: ``promql(sum(rate(x[30s]))) < 1`` (the last comparison outside the
parentheses is the criterion's, so the query may compare too).

``over: end`` (default): an instant query at the end of the step (or of the ``phase``);
every series of the answer must hold. ``over: window``: a range query over the step's (or
the phase's) window, every ``step`` (default 1 s); every point of every series must hold.
The threshold is a plain number in the query's own unit. An empty answer, NaN/Inf or a
query error is ERROR with the query and the answer, never a pass.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from harness.criteria import CriterionError, did_you_mean
from harness.units import parse_duration_s

Op = Literal["<", "<=", ">", ">=", "=="]
Over = Literal["end", "window"]
Phase = Literal["baseline", "fault", "recovery"]

OPS: dict[str, Callable[[float, float], bool]] = {
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
    "==": operator.eq,
}
_PHASES: tuple[Phase, ...] = ("baseline", "fault", "recovery")
_OVERS: tuple[Over, ...] = ("end", "window")
_OPTION_KEYS = ("promql", "over", "phase", "name", "step", *OPS)
_ONE_LINE_RE = re.compile(
    r"^\s*promql\((?P<query>.+)\)\s*(?P<op><=|>=|==|<|>)\s*(?P<value>\S+)\s*$", re.DOTALL
)
MAX_WINDOW_POINTS = 10_000  # Prometheus refuses range queries above 11,000 points


@dataclass(frozen=True)
class PromqlCriterion:
    query: str
    op: Op
    threshold: float
    over: Over = "end"
    phase: Phase | None = None
    step_s: float = 1.0
    label: str = ""

    unit = ""
    abort = False
    sustain_s = None

    @property
    def name(self) -> str:
        parts = [self.label or f"promql({self.query}) {self.op} {self.threshold:g}"]
        if self.over == "window":
            parts.append("[over window]")
        if self.phase:
            parts.append(f"[phase={self.phase}]")
        return " ".join(parts)

    def holds(self, observed: float) -> bool:
        return OPS[self.op](observed, self.threshold)

    def as_written(self) -> dict[str, Any]:
        """The mapping form (parses back to an equal criterion)."""
        written: dict[str, Any] = {"promql": self.query, self.op: self.threshold}
        if self.over != "end":
            written["over"] = self.over
        if self.phase is not None:
            written["phase"] = self.phase
        if self.step_s != 1.0:
            written["step"] = f"{self.step_s:g}s"
        if self.label:
            written["name"] = self.label
        return written

    def worst(self, values: list[float]) -> float:
        """The value farthest on the wrong side (the one a reader needs to see)."""
        if self.op in ("<", "<="):
            return max(values)
        if self.op in (">", ">="):
            return min(values)
        failing = [v for v in values if not self.holds(v)]
        return failing[0] if failing else values[0]


def is_promql(raw: object) -> bool:
    """Whether a criterion as written is a PromQL one (mapping with ``promql``, or the
    one-line ``promql(...) < N``)."""
    if isinstance(raw, Mapping):
        return "promql" in raw
    return isinstance(raw, str) and raw.lstrip().startswith("promql(")


def parse_promql_criterion(raw: str | Mapping[str, Any]) -> PromqlCriterion:
    """Parse one PromQL criterion. Raises CriterionError naming the field at fault."""
    if isinstance(raw, str):
        return _parse_one_line(raw)
    for key in raw:
        if key not in _OPTION_KEYS:
            hint = did_you_mean(str(key), _OPTION_KEYS)
            raise CriterionError(
                f"unknown option {key!r} for a PromQL criterion{hint} "
                f"(options: promql, one of {', '.join(OPS)}, over, phase, step, name)",
                str(key),
            )
    query = _query(raw.get("promql"))
    ops = [key for key in OPS if key in raw]
    if len(ops) != 1:
        raise CriterionError(
            f"a PromQL criterion needs exactly one comparison key ({', '.join(OPS)}), "
            f"for example {{promql: 'up', '>=': 1}}; got {ops or 'none'}",
            ops[1] if len(ops) > 1 else "promql",
        )
    op = ops[0]
    over = raw.get("over", "end")
    if over not in _OVERS:
        raise CriterionError(
            f"'over' must be 'end' (instant query) or 'window' (range query), got {over!r}",
            "over",
        )
    phase = raw.get("phase")
    if phase is not None and phase not in _PHASES:
        raise CriterionError(
            f"unknown phase {phase!r}{did_you_mean(str(phase), _PHASES)}; "
            f"phases are {', '.join(_PHASES)}",
            "phase",
        )
    label = raw.get("name", "")
    if not isinstance(label, str):
        raise CriterionError("'name' must be a string", "name")
    return PromqlCriterion(
        query=query,
        op=op,  # type: ignore[arg-type]
        threshold=_threshold(raw[op], op),
        over=over,
        phase=phase,
        step_s=_step_s(raw["step"]) if "step" in raw else 1.0,
        label=label,
    )


def _parse_one_line(text: str) -> PromqlCriterion:
    match = _ONE_LINE_RE.match(text)
    if not match:
        raise CriterionError(
            f"cannot read PromQL criterion {text!r}: expected 'promql(<query>) <op> <number>', "
            "for example 'promql(sum(rate(ml_predictions_total[30s]))) < 100'"
        )
    return PromqlCriterion(
        query=_query(match["query"]),
        op=match["op"],  # type: ignore[arg-type]
        threshold=_threshold(match["value"], "expr"),
    )


def _query(raw: object) -> str:
    if not isinstance(raw, str) or not raw.strip():
        raise CriterionError("'promql' must be a non-empty PromQL query string", "promql")
    return " ".join(raw.split())


def _threshold(raw: object, field: str) -> float:
    if isinstance(raw, bool):
        raise CriterionError(f"the bound must be a number, got {raw!r}", field)
    try:
        value = float(raw)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise CriterionError(
            f"the bound must be a plain number in the query's unit, got {raw!r}", field
        ) from None
    if value != value or value in (float("inf"), float("-inf")):
        raise CriterionError(f"the bound must be finite, got {raw!r}", field)
    return value


def _step_s(raw: object) -> float:
    try:
        step_s = parse_duration_s(raw)  # type: ignore[arg-type]
    except (TypeError, ValueError) as exc:
        raise CriterionError(f"'step': {exc}", "step") from None
    if step_s <= 0:
        raise CriterionError("'step' must be positive", "step")
    return step_s
