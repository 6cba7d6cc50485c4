"""Fields every step has, whatever its kind, and the criteria field of judged kinds."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, PlainSerializer, PlainValidator
from pydantic_core import PydanticCustomError

from harness.criteria import Criterion, CriterionError, parse_criterion
from harness.prometheus.criterion import PromqlCriterion, is_promql, parse_promql_criterion
from harness.units import DurationS


class StepBase(BaseModel):
    """A step of any kind: each kind's model adds ``kind: Literal["<kind>"]`` and its own
    fields."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
    timeout: DurationS = Field(default=600.0, description="hard deadline of the step")


def _criterion(raw: Any) -> Criterion:
    """A criterion as written ("p95 < 100ms" or {expr: ..., abort: true, ...}), parsed
    once, when the suite is loaded. The error's ``field`` lets the loader point at the
    option's own line."""
    if isinstance(raw, Criterion):
        return raw
    try:
        return parse_criterion(raw)
    except CriterionError as exc:
        raise PydanticCustomError(
            "criterion", "{message}", {"message": str(exc), "field": exc.field}
        ) from None


ParsedCriterion = Annotated[
    Criterion,
    PlainValidator(_criterion),
    PlainSerializer(lambda criterion: criterion.text, return_type=str),
]


def _criterion_or_promql(raw: Any) -> Criterion | PromqlCriterion:
    """Like :func:`_criterion`, and PromQL criteria (``{promql: ..., "<": 1}`` or
    ``promql(...) < 1``) for the kinds that judge them (load)."""
    if isinstance(raw, PromqlCriterion) or not is_promql(raw):
        return raw if isinstance(raw, PromqlCriterion) else _criterion(raw)
    try:
        return parse_promql_criterion(raw)
    except CriterionError as exc:
        raise PydanticCustomError(
            "criterion", "{message}", {"message": str(exc), "field": exc.field}
        ) from None


CriterionOrPromql = Annotated[
    Criterion | PromqlCriterion,
    PlainValidator(_criterion_or_promql),
    PlainSerializer(
        lambda c: c.text if isinstance(c, Criterion) else c.as_written(), return_type=Any
    ),
]


class JudgedStep(StepBase):
    """A step judged by criteria in the criteria language (load, and plug-in kinds)."""

    criteria: tuple[ParsedCriterion, ...] = Field(
        default=(), description='"p95 < 100ms", or {expr, abort, for, phase}'
    )
