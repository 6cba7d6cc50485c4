"""The suite-file model of a load step. Owned by the load stage."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from harness.config.step_base import StepBase
from harness.units import DurationS


class LoadStep(StepBase):
    kind: Literal["load"] = "load"
    locustfile: str
    user_classes: list[str] = Field(default_factory=list)
    service: Literal["serving", "registry", "orchestrator"] = "serving"
    users: int = Field(default=10, ge=1, le=100_000)
    spawn_rate: float = Field(default=10.0, gt=0)
    duration: DurationS = 30.0
    processes: int | None = Field(default=None, ge=1, le=64)
