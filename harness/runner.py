"""The seam between the engine and the stages.

A stage is one object (see :class:`Stage`): its ``kind`` (the word in suite files),
its pydantic ``step_model``, ``check`` (what ``harness validate`` runs: it starts
nothing), ``run`` (executes one step and returns a :class:`StepOutcome`; it never
raises for a failing system), whether it honours ``--dry-run``, and ``recover``
(what a killed run of this kind can leave behind, put right). The built-in stages
are listed once in :mod:`harness.stages`; a plug-in adds one with
``register_stage(STAGE)``. Nothing else in the harness names a stage.
"""

from __future__ import annotations

from collections.abc import Awaitable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from pydantic import BaseModel

from harness.events import Emit
from harness.outcome import StepOutcome
from harness.stage_stream import StageStream
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
    """Everything a stage's ``run`` gets for one step.

    - ``spec``: the validated step model of that stage kind.
    - ``artifact_dir``: ``REPORT_DIR/<step-name>/``; every raw tool artifact goes here.
    - ``work_dir``: an empty directory the harness owns, used as the tools' cwd
      (Locust reads ./locust.conf and ./pyproject.toml by itself).
    - ``base_dir``: the directory relative paths in the suite are resolved against
      (the project root: the parent of ``suites/``).
    - ``emit``: the step's events go to the run's stream and to ``stage``.
    - ``stage``: the events of every step of this stage (phase marks, ...), readable by
      any of them; ``stage.others_ended(name)`` waits for the sibling steps.
    - ``deadline_s``: the step's budget; the engine also enforces it.
    - ``dry_run``: set only for stages whose ``supports_dry_run`` is true.
    """

    run_id: str
    spec: BaseModel
    target: Target
    artifact_dir: Path
    work_dir: Path
    base_dir: Path
    emit: Emit
    stage: StageStream
    deadline_s: float
    dry_run: bool = False


class Stage(Protocol):
    """One kind of evidence, declared once (see :mod:`harness.stages`)."""

    @property
    def kind(self) -> str:
        """The ``kind:`` of its steps in suite files (``load``, ``contract``, ...)."""
        ...

    @property
    def step_model(self) -> type[BaseModel]:
        """The pydantic model a step of this kind is validated against."""
        ...

    @property
    def supports_dry_run(self) -> bool:
        """True when ``harness run --dry-run`` makes its steps touch nothing."""
        ...

    def check(self, spec: BaseModel, base_dir: Path, suite_file: Path) -> list[Problem]:
        """Check what the step references (files, classes, experiments). Start nothing."""
        ...

    def run(self, ctx: StepContext) -> Awaitable[StepOutcome]:
        """Run one step; a failing system is an outcome, never an exception."""
        ...

    def recover(self) -> list[str]:
        """Revert what a killed run of this kind left behind; one line per item."""
        ...
