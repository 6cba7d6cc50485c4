"""The verdict: pass / fail / error / skipped for each criterion, step, stage and run.

Worst wins at every level (:func:`harness.status.worst`). A step that judged no
criterion is ERROR (no vacuous PASS); a run in which nothing ran is ERROR.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from harness.outcome import StepOutcome, judged
from harness.status import Status, worst


@dataclass(frozen=True)
class StageVerdict:
    name: str
    status: Status
    steps: tuple[StepOutcome, ...]


@dataclass(frozen=True)
class Verdict:
    status: Status
    reason: str
    stages: tuple[StageVerdict, ...]

    @property
    def steps(self) -> tuple[tuple[str, StepOutcome], ...]:
        """(stage name, judged outcome) for every step, in plan order."""
        return tuple((stage.name, step) for stage in self.stages for step in stage.steps)


@dataclass(frozen=True)
class RunResult:
    """One run, judged: what the reporters, the exit code and the Python API read."""

    run_id: str
    suite: str
    target: dict[str, object]
    started_at: float
    finished_at: float
    verdict: Verdict
    interrupted: bool = False
    recovered: tuple[str, ...] = ()
    report_dir: Path | None = None

    @property
    def exit_code(self) -> int:
        return 130 if self.interrupted else self.verdict.status.exit_code()

    @property
    def passed(self) -> bool:
        return self.verdict.status is Status.PASS and not self.interrupted


def with_report_errors(result: RunResult, problems: Sequence[str]) -> RunResult:
    """The result when reports could not be written: ERROR, naming each file, whatever
    the steps said (a verdict nobody can read is no PASS)."""
    verdict = result.verdict
    reason = "; ".join(problems) + f" (the run itself: {verdict.status.value}, {verdict.reason})"
    return replace(result, verdict=Verdict(Status.ERROR, reason, verdict.stages))


def judge_step(outcome: StepOutcome) -> StepOutcome:
    """The step's final status from its own status and its criteria."""
    if outcome.status in (Status.SKIPPED, Status.ERROR):
        return outcome
    status = worst([outcome.status, judged(outcome.criteria)])
    if status is outcome.status:
        return outcome
    summary = outcome.summary
    if not outcome.criteria:
        summary = f"no criterion was judged (no evidence){': ' + summary if summary else ''}"
    return outcome.with_(status=status, summary=summary)


def judge_stage(name: str, outcomes: Sequence[StepOutcome]) -> StageVerdict:
    steps = tuple(judge_step(outcome) for outcome in outcomes)
    return StageVerdict(name=name, status=worst(step.status for step in steps), steps=steps)


def judge_run(
    stages: Sequence[StageVerdict], run_error: str | None = None, interrupted: str | None = None
) -> Verdict:
    """The run's verdict. ``run_error`` (target down, ...) and ``interrupted`` force ERROR."""
    stages = tuple(stages)
    status = worst(stage.status for stage in stages)
    steps = [step for stage in stages for step in stage.steps]
    if run_error:
        return Verdict(Status.ERROR, run_error, stages)
    if interrupted:
        return Verdict(Status.ERROR, f"interrupted ({interrupted})", stages)
    if status is Status.SKIPPED:
        return Verdict(Status.ERROR, "nothing ran: every step was skipped", stages)
    bad = [step for step in steps if step.status is status and status is not Status.PASS]
    if status is Status.PASS:
        reason = f"all {sum(s.status is Status.PASS for s in steps)} steps passed"
    else:
        names = ", ".join(step.name for step in bad)
        word = "failed" if status is Status.FAIL else "errored"
        reason = f"{len(bad)} of {len(steps)} steps {word}: {names}"
    return Verdict(status, reason, stages)
