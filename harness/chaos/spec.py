"""The suite-file model of a chaos step. Owned by the chaos stage."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator

from harness.chaos.answers import ANSWER_METRICS
from harness.criteria import Criterion
from harness.step_model import ParsedCriterion, StepBase
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

    criteria: tuple[ParsedCriterion, ...] = Field(
        default=(),
        description="what clients saw during the experiment (needs a watch_answers "
        f"activity): {', '.join(ANSWER_METRICS)}",
    )

    @field_validator("criteria")
    @classmethod
    def _answer_criteria_only(cls, criteria: tuple[Criterion, ...]) -> tuple[Criterion, ...]:
        for criterion in criteria:
            if criterion.metric not in ANSWER_METRICS or criterion.phase is not None:
                raise ValueError(
                    f"{criterion.text!r}: a chaos step is judged by its experiment's steady "
                    "state and by what clients saw during it "
                    f"({', '.join(ANSWER_METRICS)}; no phase); put phase criteria "
                    "(phase: fault / recovery, recovery_time) on the load step beside it"
                )
        return criteria
