"""A plug-in with a bug (its spec model raises a non-validation error): for the CLI's
internal-error guard. HARNESS_PLUGINS=tests.core.broken_plugin:register"""

from __future__ import annotations

from typing import Literal

from pydantic import model_validator

from harness.stages import register_stage
from harness.step_model import JudgedStep
from tests.core.fake_stage import FakeStage


class BrokenStep(JudgedStep):
    kind: Literal["broken"] = "broken"

    @model_validator(mode="after")
    def explode(self) -> BrokenStep:
        raise RuntimeError("plug-in bug")


class BrokenStage(FakeStage):
    kind = "broken"
    step_model = BrokenStep


def register() -> None:
    register_stage(BrokenStage())
