"""What will run: stages in order, each a set of steps that run concurrently."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from pydantic import BaseModel

if TYPE_CHECKING:
    from harness.config.suite import TargetSpec


@dataclass(frozen=True)
class PlannedStep:
    stage: str
    name: str
    kind: str
    timeout_s: float
    spec: BaseModel  # the validated spec model of ``kind``


@dataclass(frozen=True)
class PlannedStage:
    name: str
    steps: tuple[PlannedStep, ...]


@dataclass(frozen=True)
class Suite:
    """A validated suite file."""

    name: str
    description: str
    fail_fast: bool
    target: TargetSpec
    stages: tuple[PlannedStage, ...]
    path: Path
    base_dir: Path

    @property
    def steps(self) -> tuple[PlannedStep, ...]:
        return tuple(step for stage in self.stages for step in stage.steps)
