"""What a step produces: small frozen values, built by runners, judged by the verdict.

A failing system is a value here, never an exception: a runner returns a
``StepOutcome`` whose status says FAIL, with one line of reason in ``summary``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

from harness.status import Status, worst

StepKind = str
"""A stage's ``kind`` (``load``, ``contract``, ``chaos``, or a plug-in's): an open set."""

Phase = Literal["baseline", "fault", "recovery"]


@dataclass(frozen=True)
class Mismatch:
    """One way an observed artifact differs from what was expected (pact, probe, ...)."""

    path: str
    expected: str
    actual: str
    kind: str = ""


@dataclass(frozen=True)
class CriterionResult:
    """One judged criterion (or interaction, or probe): a row in verdict.json and a
    testcase in junit.xml."""

    name: str
    status: Status
    observed: float | str | None = None
    threshold: float | str | None = None
    unit: str = ""
    phase: str | None = None
    reason: str = ""
    at_s: float | None = None  # seconds since step start when decided (live breaches)
    mismatches: tuple[Mismatch, ...] = ()
    reasons: tuple[tuple[str, int], ...] = ()  # top failure reasons (error-rate criteria)
    baseline_value: float | None = None  # baseline criteria: the figure judged against
    baseline_runs: tuple[str, ...] = ()  # ... and the run(s) it came from

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "name": self.name,
            "status": self.status.value,
            "observed": self.observed,
            "threshold": self.threshold,
            "unit": self.unit,
            "phase": self.phase,
        }
        if self.reason:
            data["reason"] = self.reason
        if self.at_s is not None:
            data["at_s"] = round(self.at_s, 3)
        if self.reasons:
            data["reasons"] = [{"reason": r, "count": c} for r, c in self.reasons]
        if self.baseline_value is not None:
            data["baseline"] = {
                "value": self.baseline_value,
                "run_id": self.baseline_runs[0] if self.baseline_runs else None,
                "runs": list(self.baseline_runs),
            }
        if self.mismatches:
            data["mismatches"] = [
                {"path": m.path, "expected": m.expected, "actual": m.actual, "kind": m.kind}
                for m in self.mismatches
            ]
        return data


@dataclass(frozen=True)
class PhaseMark:
    """A phase boundary (from a PhaseChanged event), in wall-clock seconds (time.time())."""

    phase: Phase
    at: float
    detail: str = ""


@dataclass(frozen=True)
class StepOutcome:
    """The result of one step.

    ``status`` must be consistent with ``criteria``: use :func:`judged` to derive it.
    """

    name: str
    kind: StepKind
    status: Status
    summary: str
    criteria: tuple[CriterionResult, ...] = ()
    metrics: Mapping[str, Any] = field(default_factory=dict)
    artifacts: tuple[Path, ...] = ()
    started_at: float = 0.0
    finished_at: float = 0.0

    def with_(self, **changes: Any) -> StepOutcome:
        return replace(self, **changes)


def judged(criteria: tuple[CriterionResult, ...] | list[CriterionResult]) -> Status:
    """Status of a step from its criteria: worst wins; no criterion judged -> ERROR."""
    status = worst(c.status for c in criteria)
    return Status.ERROR if status is Status.SKIPPED else status


def error_outcome(name: str, kind: StepKind, reason: str, **extra: Any) -> StepOutcome:
    """An ERROR outcome with a one-line reason (bad input, tool did not run, harness bug)."""
    return StepOutcome(name=name, kind=kind, status=Status.ERROR, summary=reason, **extra)
