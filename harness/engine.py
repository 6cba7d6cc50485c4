"""The engine: stages in order, a stage's steps concurrently, every step with a deadline.

A step that raises or runs out of time becomes an ERROR outcome and never
cancels its siblings. Cancelling the task that runs :func:`run_suite` (the CLI
does so on Ctrl-C / SIGTERM) cancels every step (runners reap their tools in
``finally``), tears the target down, and still returns a result, marked
interrupted, from which the reports are written.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import shutil
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from harness import stages as stage_registry
from harness.config.suite import TargetKindName
from harness.events import (
    Emit,
    FaultsRecovered,
    RunFinished,
    RunStarted,
    StageFinished,
    StageSkipped,
    StageStarted,
    StepFinished,
    StepStarted,
    TargetReady,
)
from harness.outcome import StepOutcome, error_outcome
from harness.plan import PlannedStage, PlannedStep, Suite
from harness.recovery import recover_everything
from harness.runner import StepContext
from harness.stage_stream import StageStream
from harness.status import Status
from harness.target import Target
from harness.targets import TargetOptions, TargetUnavailable, open_target
from harness.verdict import RunResult, StageVerdict, judge_run, judge_stage
from harness.work_dirs import run_dir, step_work_dir

__all__ = ["RunOptions", "RunResult", "interrupted_before_start", "new_run_id", "run_suite"]

INTERRUPTED = "Ctrl-C or SIGTERM"


def new_run_id(now: float | None = None) -> str:
    """UTC timestamp + short random suffix, e.g. ``20261121T110236Z-3f9a``."""
    moment = datetime.fromtimestamp(time.time() if now is None else now, UTC)
    return f"{moment:%Y%m%dT%H%M%SZ}-{secrets.token_hex(2)}"


@dataclass(frozen=True)
class RunOptions:
    run_id: str
    report_dir: Path
    target_kind: TargetKindName | None = None  # overrides the suite's target.kind
    extra_faults: tuple[str, ...] = ()  # local testbed fault switches
    dry_run: bool = False


@dataclass
class _Progress:
    """Outcomes as they arrive, so that an interrupted run still reports every step."""

    outcomes: dict[str, StepOutcome] = field(default_factory=dict)
    started: dict[str, float] = field(default_factory=dict)
    stage_verdicts: list[StageVerdict] = field(default_factory=list)
    stage: StageStream | None = None  # of the stage running now


async def run_suite(suite: Suite, options: RunOptions, emit: Emit) -> RunResult:
    started_at = time.time()
    recovered = await _recover(emit)
    kind: TargetKindName = options.target_kind or suite.target.kind
    options.report_dir.mkdir(parents=True, exist_ok=True)
    emit(RunStarted(options.run_id, suite.name, kind, str(options.report_dir)))
    progress = _Progress()
    target_info: dict[str, object] = {"kind": kind}
    run_error: str | None = None
    interrupted: str | None = None
    target_options = TargetOptions(
        options.report_dir, suite.base_dir, options.extra_faults, run_id=options.run_id
    )
    try:
        async with open_target(suite.target, kind, target_options) as target:
            target_info = target.redacted()
            emit(TargetReady(kind, _describe(target)))
            await _run_stages(suite, target, options, emit, progress)
    except TargetUnavailable as exc:
        run_error = f"target {kind} did not come up: {exc}"
    except asyncio.CancelledError:
        task = asyncio.current_task()
        if task is not None:
            task.uncancel()
        interrupted = INTERRUPTED
    _remove_if_empty(run_dir(options.run_id))  # owned_by removes it whole (its children's tmp)
    verdict = judge_run(
        _all_stages(suite, progress, run_error, interrupted), run_error, interrupted
    )
    emit(RunFinished(verdict.status.value, str(options.report_dir)))
    return RunResult(
        run_id=options.run_id,
        suite=suite.name,
        target=target_info,
        started_at=started_at,
        finished_at=time.time(),
        verdict=verdict,
        interrupted=interrupted is not None,
        recovered=recovered,
        report_dir=options.report_dir,
    )


def interrupted_before_start(suite: Suite, options: RunOptions) -> RunResult:
    """The result of a run cancelled before its first step."""
    now = time.time()
    stages = _all_stages(suite, _Progress(), None, "cancelled")
    return RunResult(
        run_id=options.run_id,
        suite=suite.name,
        target={"kind": options.target_kind or suite.target.kind},
        started_at=now,
        finished_at=now,
        verdict=judge_run(stages, None, INTERRUPTED),
        interrupted=True,
        report_dir=options.report_dir,
    )


async def _recover(emit: Emit) -> tuple[str, ...]:
    """Revert what a killed run left (ledger faults, orphaned testbeds), before anything else."""
    try:
        lines = tuple(await asyncio.to_thread(recover_everything))
    except Exception as exc:
        lines = (f"recovery failed: {type(exc).__name__}: {exc}",)
    if lines:
        emit(FaultsRecovered(lines))
    return lines


def _remove_if_empty(path: Path) -> None:
    with contextlib.suppress(OSError):
        path.rmdir()


def _describe(target: Target) -> str:
    return ", ".join(f"{name} {s.url}" for name, s in target.all_services().items())


async def _run_stages(
    suite: Suite, target: Target, options: RunOptions, emit: Emit, progress: _Progress
) -> None:
    stop_reason: str | None = None
    for stage in suite.stages:
        if stop_reason is not None:
            emit(StageSkipped(stage.name, stop_reason))
            progress.stage_verdicts.append(
                judge_stage(stage.name, [_skipped(step, stop_reason) for step in stage.steps])
            )
            continue
        verdict = await _run_stage(stage, suite.base_dir, target, options, emit, progress)
        progress.stage_verdicts.append(verdict)
        emit(StageFinished(stage.name, verdict.status.value))
        if suite.fail_fast and verdict.status in (Status.FAIL, Status.ERROR):
            stop_reason = f"fail_fast: stage {stage.name!r} ended {verdict.status.value}"


async def _run_stage(
    stage: PlannedStage,
    base_dir: Path,
    target: Target,
    options: RunOptions,
    emit: Emit,
    progress: _Progress,
) -> StageVerdict:
    emit(StageStarted(stage.name, tuple(step.name for step in stage.steps)))
    stream = progress.stage = StageStream(emit, [step.name for step in stage.steps])
    async with asyncio.TaskGroup() as group:
        for step in stage.steps:
            group.create_task(
                _run_step(step, base_dir, target, options, stream, progress), name=step.name
            )
    return judge_stage(stage.name, [progress.outcomes[step.name] for step in stage.steps])


async def _run_step(
    step: PlannedStep,
    base_dir: Path,
    target: Target,
    options: RunOptions,
    stream: StageStream,
    progress: _Progress,
) -> None:
    started_at = time.time()
    progress.started[step.name] = started_at
    deadline = asyncio.timeout(step.timeout_s)
    work_dir: Path | None = None
    # Nothing may escape: an exception here would cancel the sibling steps.
    try:
        stream.emit(StepStarted(step.name, step.kind, step.timeout_s))
        artifact_dir = options.report_dir / step.name
        artifact_dir.mkdir(parents=True, exist_ok=True)
        work_dir = step_work_dir(options.run_id, step.name)  # in the state dir, not /tmp
        stage = stage_registry.stage_for(step.kind)
        ctx = StepContext(
            run_id=options.run_id,
            spec=step.spec,
            target=target,
            artifact_dir=artifact_dir,
            work_dir=work_dir,
            base_dir=base_dir,
            emit=stream.emit,
            stage=stream,
            deadline_s=step.timeout_s,
            dry_run=options.dry_run and stage.supports_dry_run,
        )
        async with deadline:
            outcome = await stage.run(ctx)
        if not isinstance(outcome, StepOutcome):
            raise TypeError(f"stage returned {type(outcome).__name__}, not a StepOutcome")
    except TimeoutError:
        reason = (
            f"timed out after {step.timeout_s:g} s"
            if deadline.expired()
            else "harness bug: TimeoutError escaped the runner"
        )
        outcome = error_outcome(step.name, step.kind, reason)
    except stage_registry.StageUnavailable as exc:
        outcome = error_outcome(step.name, step.kind, str(exc))
    except Exception as exc:
        outcome = error_outcome(step.name, step.kind, f"harness bug: {type(exc).__name__}: {exc}")
    finally:
        stream.step_ended(step.name)
        if work_dir is not None:
            shutil.rmtree(work_dir, ignore_errors=True)
    finished_at = time.time()
    outcome = outcome.with_(
        name=step.name,
        kind=step.kind,
        started_at=outcome.started_at or started_at,
        finished_at=outcome.finished_at or finished_at,
    )
    progress.outcomes[step.name] = outcome
    stream.emit(StepFinished(outcome))


def _skipped(step: PlannedStep, reason: str) -> StepOutcome:
    return StepOutcome(
        name=step.name,
        kind=step.kind,
        status=Status.SKIPPED,
        summary=f"skipped: {reason}",
    )


def _all_stages(
    suite: Suite, progress: _Progress, run_error: str | None, interrupted: str | None
) -> list[StageVerdict]:
    """Every stage of the plan, with outcomes for steps that never finished."""
    done = {verdict.name: verdict for verdict in progress.stage_verdicts}
    stages: list[StageVerdict] = []
    for stage in suite.stages:
        if stage.name in done:
            stages.append(done[stage.name])
            continue
        outcomes = []
        for step in stage.steps:
            if step.name in progress.outcomes:
                outcomes.append(progress.outcomes[step.name])
            elif step.name in progress.started:
                outcomes.append(_interrupted(step, progress))
            else:
                reason = run_error or ("run interrupted" if interrupted else "not run")
                outcomes.append(_skipped(step, reason))
        stages.append(judge_stage(stage.name, outcomes))
    return stages


def _interrupted(step: PlannedStep, progress: _Progress) -> StepOutcome:
    """A step cut short by an interruption: what it held for that case (it had judged what
    it could and was waiting for its siblings), else ERROR."""
    held = progress.stage.held(step.name) if progress.stage is not None else None
    if held is not None:
        return held.with_(name=step.name, kind=step.kind, summary=f"interrupted; {held.summary}")
    return error_outcome(
        step.name,
        step.kind,
        "interrupted",
        started_at=progress.started[step.name],
        finished_at=time.time(),
    )
