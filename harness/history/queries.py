"""Reading the store: runs as frozen values, latest / last passing runs, a run's figures."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from harness.history.models import RUNNING, RunRow, StepRow
from harness.history.store import HistoryError

MetricKey = tuple[str, str, str, str]
"""(step, endpoint, phase, metric): ``""`` endpoint = all endpoints, ``""`` phase = whole run."""


@dataclass(frozen=True)
class CriterionView:
    step: str
    name: str
    status: str
    observed: float | None
    threshold: float | None
    unit: str
    phase: str | None
    reason: str
    baseline_run_id: str | None
    baseline_value: float | None


@dataclass(frozen=True)
class StepView:
    name: str
    kind: str
    stage: str
    status: str
    summary: str


@dataclass(frozen=True)
class RunView:
    run_id: str
    suite: str
    target_kind: str
    git_revision: str | None
    status: str
    interrupted: bool
    reason: str
    started_at: float
    finished_at: float | None
    report_dir: str
    steps: tuple[StepView, ...]
    criteria: tuple[CriterionView, ...]
    metrics: dict[MetricKey, float]

    @property
    def duration_s(self) -> float | None:
        return None if self.finished_at is None else self.finished_at - self.started_at

    def metric(self, step: str, metric: str, endpoint: str = "", phase: str = "") -> float | None:
        return self.metrics.get((step, endpoint, phase, metric))


def _view(run: RunRow) -> RunView:
    metrics: dict[MetricKey, float] = {}
    criteria = []
    for step in run.steps:
        for row in step.metrics:
            metrics[(step.name, row.endpoint, row.phase, row.name)] = row.value
        criteria += [
            CriterionView(
                step.name, c.name, c.status, c.observed, c.threshold, c.unit, c.phase, c.reason,
                c.baseline_run_id, c.baseline_value,
            )
            for c in step.criteria
        ]
    return RunView(
        run_id=run.run_id, suite=run.suite, target_kind=run.target_kind,
        git_revision=run.git_revision, status=run.status, interrupted=run.interrupted,
        reason=run.reason, started_at=run.started_at, finished_at=run.finished_at,
        report_dir=run.report_dir,
        steps=tuple(StepView(s.name, s.kind, s.stage, s.status, s.summary) for s in run.steps),
        criteria=tuple(criteria),
        metrics=metrics,
    )


def _loaded() -> object:
    return selectinload(RunRow.steps).options(
        selectinload(StepRow.metrics), selectinload(StepRow.criteria)
    )


def recent_runs(
    session: Session,
    suite: str | None = None,
    limit: int = 20,
    status: str | None = None,
    before: float | None = None,
) -> list[RunView]:
    """Newest first; ``status`` filters (e.g. "pass"); running rows are left out."""
    query = select(RunRow).where(RunRow.status != RUNNING)
    if suite is not None:
        query = query.where(RunRow.suite == suite)
    if status is not None:
        query = query.where(RunRow.status == status, RunRow.interrupted.is_(False))
    if before is not None:
        query = query.where(RunRow.started_at < before)
    query = query.order_by(RunRow.started_at.desc(), RunRow.id.desc()).limit(limit)
    rows = session.scalars(query.options(_loaded()))  # type: ignore[arg-type]
    return [_view(row) for row in rows]


def find_run(session: Session, run_id: str) -> RunView:
    """The run with this id, or the only one whose id starts with it. Raises HistoryError."""
    exact = session.scalar(select(RunRow).where(RunRow.run_id == run_id).options(_loaded()))  # type: ignore[arg-type]
    if exact is not None:
        return _view(exact)
    matches = list(
        session.scalars(
            select(RunRow).where(RunRow.run_id.startswith(run_id, autoescape=True)).limit(3)
        )
    )
    if len(matches) == 1:
        return find_run(session, matches[0].run_id)
    if not matches:
        raise HistoryError(f"no run {run_id!r} in the history store")
    raise HistoryError(
        f"run id {run_id!r} is ambiguous: {', '.join(m.run_id for m in matches[:2])}, ..."
    )


def latest_run(session: Session, suite: str | None = None) -> RunView | None:
    runs = recent_runs(session, suite, limit=1)
    return runs[0] if runs else None


def passing_runs(
    session: Session, suite: str, limit: int, before: float | None = None, exclude: str = ""
) -> Sequence[RunView]:
    runs = recent_runs(session, suite, limit=limit + 1, status="pass", before=before)
    return [run for run in runs if run.run_id != exclude][:limit]
