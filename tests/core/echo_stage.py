"""A fourth kind of evidence written outside the harness package, as a plug-in would:
one step model, one stage object, one registration (``register``). Its steps judge the
numbers they are given, and what the other steps of their stage marked."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from harness.outcome import CriterionResult, StepOutcome, judged
from harness.runner import Problem, StepContext
from harness.stages import register_stage
from harness.status import Status
from harness.step_model import JudgedStep


class EchoStep(JudgedStep):
    kind: Literal["echo"] = "echo"
    observed: dict[str, float] = {}


class EchoStage:
    kind = "echo"
    step_model = EchoStep
    supports_dry_run = False

    def check(self, spec: object, base_dir: Path, suite_file: Path) -> list[Problem]:
        assert isinstance(spec, EchoStep)
        return [
            Problem(suite_file, None, f"criteria[{i}]", f"{c.metric} is not in observed")
            for i, c in enumerate(spec.criteria)
            if c.metric not in spec.observed
        ]

    async def run(self, ctx: StepContext) -> StepOutcome:
        spec = ctx.spec
        assert isinstance(spec, EchoStep)
        rows = [
            CriterionResult(
                c.name,
                Status.PASS if c.holds(spec.observed[c.metric]) else Status.FAIL,
                observed=spec.observed[c.metric],
                threshold=c.threshold,
                unit=c.unit,
            )
            for c in spec.criteria
        ]
        return StepOutcome(
            spec.name, self.kind, judged(rows), f"{len(rows)} echoed", criteria=tuple(rows)
        )

    def recover(self) -> list[str]:
        return []


def register() -> None:
    register_stage(EchoStage())
