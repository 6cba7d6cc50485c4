"""The suite-file model of a chaos step. Owned by the chaos stage."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, model_validator

from harness.step_model import StepBase
from harness.units import DurationS


class ChaosStep(StepBase):
    kind: Literal["chaos"] = "chaos"
    experiment: str = Field(description="Chaos Toolkit experiment file, relative to the project")
    dry_run: bool = Field(default=False, description="print what would be hit; inject nothing")
    delay: DurationS = Field(
        default=0.0, description="wait before the experiment starts (lets a load build a baseline)"
    )
    rollback_grace: DurationS = Field(
        default=30.0,
        description="on time-out or cancellation: how long `chaos` gets to run its rollbacks "
        "after SIGTERM before the runner reverts from the fault ledger itself",
    )

    @model_validator(mode="before")
    @classmethod
    def _no_criteria(cls, data: Any) -> Any:
        if isinstance(data, dict) and "criteria" in data:
            raise ValueError(
                "a chaos step is judged by its experiment's steady state; put phase criteria "
                "(phase: fault / recovery, recovery_time) on the load step beside it"
            )
        return data
