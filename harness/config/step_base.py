"""Fields every step has, whatever its kind."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from harness.units import DurationS


class StepBase(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
    timeout: DurationS = Field(default=600.0, description="hard deadline of the step")
    # Criteria are written as strings ("p95 < 100ms") or mappings
    # ({expr: "error_rate < 1%", abort: true, for: "30s", phase: fault}); they are
    # parsed by harness.criteria, which reports errors with the item's line.
    criteria: list[str | dict[str, Any]] = Field(default_factory=list)
