"""Resolving baseline criteria (``p95 < baseline * 1.10``) from the history store before a
run, and putting what they were judged against into the verdict after it.

A criterion whose baseline exists gets a concrete threshold (so it is judged like any
other: live, sustained, per endpoint, per phase). One whose baseline does not exist yet is
taken out of the step and reported SKIPPED with the reason; a step left with no criterion
at all is ERROR (never a vacuous pass).
"""

from __future__ import annotations

import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace

from sqlalchemy.orm import Session

from harness.criteria import Criterion
from harness.history.queries import RunView, find_run, passing_runs
from harness.history.store import HistoryError
from harness.outcome import CriterionResult, StepOutcome
from harness.plan import Suite
from harness.status import Status
from harness.verdict import Verdict, judge_run, judge_stage


@dataclass(frozen=True)
class StepBaselines:
    """What resolution did to one step's criteria."""

    resolved: tuple[Criterion, ...] = ()
    skipped: tuple[CriterionResult, ...] = ()
    only_baselines: bool = False  # every criterion of the step was a baseline one


@dataclass(frozen=True)
class BaselinePlan:
    steps: Mapping[str, StepBaselines] = field(default_factory=dict)


def resolve_suite(session: Session, suite: Suite, this_run: str) -> tuple[Suite, BaselinePlan]:
    """The suite with every baseline criterion resolved (or taken out), and the plan."""
    plan: dict[str, StepBaselines] = {}
    stages = []
    for stage in suite.stages:
        steps = []
        for step in stage.steps:
            criteria = getattr(step.spec, "criteria", ())
            if not any(isinstance(c, Criterion) and c.baseline is not None for c in criteria):
                steps.append(step)
                continue
            kept, plan[step.name] = resolve_step(session, suite.name, step.name, criteria, this_run)
            spec = step.spec.model_copy(update={"criteria": tuple(kept)})
            steps.append(replace(step, spec=spec))
        stages.append(replace(stage, steps=tuple(steps)))
    return replace(suite, stages=tuple(stages)), BaselinePlan(plan)


def resolve_step(
    session: Session, suite: str, step: str, criteria: Sequence[Criterion], this_run: str
) -> tuple[list[Criterion], StepBaselines]:
    """The criteria to run the step with, and what became of its baseline ones."""
    kept: list[Criterion] = []
    resolved: list[Criterion] = []
    skipped: list[CriterionResult] = []
    for criterion in criteria:
        if criterion.baseline is None:
            kept.append(criterion)
            continue
        outcome = resolve_criterion(session, suite, step, criterion, this_run)
        if isinstance(outcome, Criterion):
            kept.append(outcome)
            resolved.append(outcome)
        else:
            skipped.append(
                CriterionResult(
                    name=criterion.name, status=Status.SKIPPED, unit=criterion.unit,
                    phase=criterion.phase, reason=outcome,
                )
            )
    only = bool(criteria) and all(c.baseline is not None for c in criteria)
    return kept, StepBaselines(tuple(resolved), tuple(skipped), only)


def resolve_criterion(
    session: Session, suite: str, step: str, criterion: Criterion, this_run: str
) -> Criterion | str:
    """The criterion with its threshold, or the reason why there is no baseline."""
    baseline = criterion.baseline
    assert baseline is not None
    if baseline.source == "run":
        try:
            runs: Sequence[RunView] = [find_run(session, baseline.run_id or "")]
        except HistoryError as exc:
            return f"pinned baseline: {exc}"
    else:
        runs = passing_runs(session, suite, baseline.count, exclude=this_run)
        if not runs:
            return f"no passing run of suite {suite} yet"
    values: list[tuple[str, float]] = []
    for run in runs:
        value = figure_of(run, step, criterion)
        if isinstance(value, str):
            if baseline.source != "median_of_last":
                return value
            continue
        values.append((run.run_id, value))
    if not values:
        return f"no passing run of suite {suite} has {_what(step, criterion)}"
    value = statistics.median(v for _, v in values)
    resolved = replace(baseline, value=value, runs=tuple(run_id for run_id, _ in values))
    return replace(criterion, threshold=baseline.threshold(value), baseline=resolved)


def figure_of(run: RunView, step: str, criterion: Criterion) -> float | str:
    """The run's figure for the criterion's metric, selector and phase, or why there is none."""
    metric = "p50" if criterion.metric == "median" else criterion.metric
    phase = criterion.phase or ""
    endpoint = ""
    if "name" in criterion.labels:
        wanted = criterion.labels["name"]
        known = {key[1] for key in run.metrics if key[0] == step and key[1]}
        matches = [wanted] if wanted in known else [
            key for key in known if key.split(" ", 1)[-1] == wanted
        ]
        if len(matches) != 1:
            return f"baseline run {run.run_id} has no single endpoint named {wanted!r} in {step}"
        endpoint = matches[0]
    value = run.metric(step, metric, endpoint=endpoint, phase=phase)
    if value is None:
        return f"baseline run {run.run_id} has no {_what(step, criterion)}"
    return value


def _what(step: str, criterion: Criterion) -> str:
    where = f" in phase {criterion.phase}" if criterion.phase else ""
    selector = f" for {criterion.labels['name']!r}" if criterion.labels else ""
    return f"{criterion.metric}{selector}{where} of step {step}"


def describe(criterion: Criterion) -> str:
    """"baseline 10.2 ms from run X (last passing run) -> threshold 11.2 ms"."""
    baseline = criterion.baseline
    assert baseline is not None and baseline.value is not None
    runs = ", ".join(baseline.runs)
    return (
        f"baseline {_fmt(baseline.value, criterion)} ({baseline.source_text}: run {runs}) "
        f"-> threshold {_fmt(criterion.threshold, criterion)}"
    )


def _fmt(value: float, criterion: Criterion) -> str:
    if criterion.unit_kind == "rate":
        return f"{value * 100:.4g} %"
    return f"{value:.4g} {criterion.unit}".strip()


def apply_plan(verdict: Verdict, plan: BaselinePlan, interrupted: bool) -> Verdict:
    """The verdict with each step's baseline criteria explained and skipped ones added."""
    if not plan.steps:
        return verdict
    stages = []
    for stage in verdict.stages:
        steps = [_applied(step, plan.steps.get(step.name)) for step in stage.steps]
        stages.append(judge_stage(stage.name, steps))
    if interrupted or _run_level_error(verdict):
        return replace(verdict, stages=tuple(stages))
    return judge_run(stages)


def _run_level_error(verdict: Verdict) -> bool:
    """ERROR that came from the run itself (target down, nothing ran), not from a step."""
    return verdict.status is Status.ERROR and not any(
        step.status is Status.ERROR for _, step in verdict.steps
    )


def _applied(step: StepOutcome, baselines: StepBaselines | None) -> StepOutcome:
    if baselines is None or step.status is Status.SKIPPED:
        return step
    by_name = {c.name: c for c in baselines.resolved}
    criteria = []
    for result in step.criteria:
        criterion = by_name.get(result.name)
        if criterion is None or criterion.baseline is None:
            criteria.append(result)
            continue
        reason = describe(criterion) + (f"; {result.reason}" if result.reason else "")
        criteria.append(
            replace(result, reason=reason, baseline_value=criterion.baseline.value,
                    baseline_runs=criterion.baseline.runs)
        )
    criteria += baselines.skipped
    if baselines.only_baselines and not baselines.resolved:
        reasons = "; ".join(f"{s.name}: {s.reason}" for s in baselines.skipped)
        return step.with_(
            criteria=tuple(criteria), status=Status.ERROR,
            summary=f"no criterion could be judged (only baseline criteria, none available: "
            f"{reasons})",
        )
    return step.with_(criteria=tuple(criteria))
