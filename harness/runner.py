"""The seam between the engine and the stages.

Each stage package (``harness.load``, ``harness.contract``, ``harness.chaos``)
exposes a :class:`Stage`: its step model, a reference checker used by
``harness validate`` (starts nothing) and the async ``run`` that executes one
step and returns a :class:`StepOutcome` (never raises for a failing system).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from harness.events import Emit
from harness.outcome import StageTimeline, StepOutcome
from harness.target import Target


@dataclass(frozen=True)
class Problem:
    """A user mistake found while validating: where and what."""

    file: Path
    line: int | None
    field: str
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else str(self.file)
        return f"{where}: {self.field}: {self.message}"


@dataclass
class StepContext:
    """Everything a runner gets for one step.

    - ``spec``: the validated step model of that stage kind.
    - ``artifact_dir``: ``REPORT_DIR/<step-name>/``; every raw tool artifact goes here.
    - ``work_dir``: an empty directory the harness owns, used as the tools' cwd
      (Locust reads ./locust.conf and ./pyproject.toml by itself).
    - ``base_dir``: the directory relative paths in the suite are resolved against
      (the project root: the parent of ``suites/``).
    - ``timeline``: shared by the steps of a stage (chaos marks phases on it).
    - ``deadline_s``: the step's budget; the engine also enforces it.
    """

    run_id: str
    spec: object
    target: Target
    artifact_dir: Path
    work_dir: Path
    base_dir: Path
    emit: Emit
    timeline: StageTimeline
    deadline_s: float
    dry_run: bool = False


class Stage(Protocol):
    kind: str

    def check(self, spec: object, base_dir: Path, suite_file: Path) -> list[Problem]:
        """Check what the step references (files, classes, experiments). Start nothing."""
        ...

    def run(self, ctx: StepContext) -> Awaitable[StepOutcome]: ...


RunStep = Callable[[StepContext], Awaitable[StepOutcome]]
