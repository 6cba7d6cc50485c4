"""The suite-file model of a chaos step. Owned by the chaos stage."""

from __future__ import annotations

from typing import Literal

from harness.config.step_base import StepBase


class ChaosStep(StepBase):
    kind: Literal["chaos"] = "chaos"
    experiment: str
    dry_run: bool = False
