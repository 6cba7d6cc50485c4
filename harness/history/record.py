"""Recording runs: a row when a run starts (status "running", owner pid), completed from
its verdict document when it ends, or by ``harness recover`` when it was killed.

The verdict document is the one of ``verdict.json`` (schema harness.verdict/1): the same
function records a run from memory at its end and from the file after a kill.
"""

from __future__ import annotations

import json
import math
import subprocess
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

import psutil
from sqlalchemy import select
from sqlalchemy.orm import Session

from harness.history.figures import (
    Figure,
    compact_series,
    load_figures,
    phase_marks,
    read_events,
    scalar_figures,
)
from harness.history.models import RUNNING, CriterionRow, MetricRow, RunRow, SeriesRow, StepRow
from harness.history.store import HistoryStore

GIT_TIMEOUT_S = 5.0


def git_revision(root: Path) -> str | None:
    """HEAD of the git checkout at ``root`` (with ``-dirty`` when it has changes), if any."""
    try:
        head = subprocess.run(
            ["git", "-C", str(root), "rev-parse", "HEAD"],
            capture_output=True, text=True, timeout=GIT_TIMEOUT_S, check=False,
        )
        if head.returncode != 0:
            return None
        dirty = subprocess.run(
            ["git", "-C", str(root), "status", "--porcelain", "--untracked-files=no"],
            capture_output=True, text=True, timeout=GIT_TIMEOUT_S, check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    revision = head.stdout.strip()
    return f"{revision}-dirty" if dirty.stdout.strip() else revision


def record_start(
    store: HistoryStore,
    run_id: str,
    suite: str,
    target_kind: str,
    report_dir: Path,
    revision: str | None,
    started_at: float,
) -> None:
    me = psutil.Process()
    with store.session() as session:
        session.add(
            RunRow(
                run_id=run_id, suite=suite, target_kind=target_kind, target_json="{}",
                git_revision=revision, status=RUNNING, interrupted=False, reason="",
                started_at=started_at, finished_at=None, report_dir=str(report_dir),
                owner_pid=me.pid, owner_started=me.create_time(),
            )
        )


def record_verdict(
    store: HistoryStore,
    document: Mapping[str, Any],
    report_dir: Path,
    interrupted: bool = False,
    revision: str | None = None,
) -> None:
    """Record (or complete) the run of ``document``, with its steps, criteria and figures."""
    events = read_events(report_dir / "events.jsonl")
    with store.session() as session:
        run = session.scalar(select(RunRow).where(RunRow.run_id == str(document["run_id"])))
        if run is None:
            run = RunRow(
                run_id=str(document["run_id"]), git_revision=revision,
                started_at=_epoch(document.get("started_at")) or 0.0,
                report_dir=str(report_dir),
            )
            session.add(run)
        _fill_run(run, document, interrupted)
        run.steps.clear()
        session.flush()
        for position, step in enumerate(document.get("steps") or []):
            run.steps.append(_step_row(position, step, document, report_dir, events))


def record_interrupted(session: Session, run: RunRow, reason: str) -> None:
    """A run that left no verdict: ERROR, interrupted, with what is known."""
    run.status = "error"
    run.interrupted = True
    run.reason = reason
    run.owner_pid = None


def _fill_run(run: RunRow, document: Mapping[str, Any], interrupted: bool) -> None:
    target = document.get("target") or {}
    run.suite = str(document.get("suite", ""))
    run.target_kind = str(target.get("kind", "")) if isinstance(target, Mapping) else str(target)
    run.target_json = json.dumps(target, default=str)
    run.status = str(document.get("status", "error"))
    run.interrupted = interrupted or "interrupted" in str(document.get("reason", ""))
    run.reason = str(document.get("reason", ""))
    run.started_at = _epoch(document.get("started_at")) or run.started_at
    run.finished_at = _epoch(document.get("finished_at"))
    run.owner_pid = None
    run.owner_started = None


def _step_row(
    position: int,
    step: Mapping[str, Any],
    document: Mapping[str, Any],
    report_dir: Path,
    events: list[dict[str, Any]],
) -> StepRow:
    row = StepRow(
        position=position, name=str(step.get("name", "")), kind=str(step.get("kind", "")),
        stage=str(step.get("stage", "")), status=str(step.get("status", "")),
        summary=str(step.get("summary", "")),
    )
    for index, criterion in enumerate(step.get("criteria") or []):
        row.criteria.append(_criterion_row(index, criterion))
    figures = scalar_figures(step)
    if row.kind == "load":
        same_stage = {
            str(s.get("name")) for s in document.get("steps") or [] if s.get("stage") == row.stage
        }
        figures += load_figures(step, report_dir, phase_marks(events, same_stage))
        series = compact_series(step)
        if series is not None:
            row.series = SeriesRow(columns_json=json.dumps(series, separators=(",", ":")))
    row.metrics.extend(_metric_rows(figures))
    return row


def _metric_rows(figures: list[Figure]) -> list[MetricRow]:
    unique: dict[tuple[str, str, str], Figure] = {}
    for figure in figures:
        unique[(figure.endpoint, figure.phase, figure.name)] = figure
    return [
        MetricRow(endpoint=f.endpoint, phase=f.phase, name=f.name, value=f.value)
        for f in unique.values()
    ]


def _criterion_row(position: int, criterion: Mapping[str, Any]) -> CriterionRow:
    observed = criterion.get("observed")
    threshold = criterion.get("threshold")
    raw_baseline = criterion.get("baseline")
    baseline: Mapping[str, Any] = raw_baseline if isinstance(raw_baseline, Mapping) else {}
    return CriterionRow(
        position=position,
        name=str(criterion.get("name", "")),
        status=str(criterion.get("status", "")),
        observed=_number(observed),
        observed_text=None if observed is None or _number(observed) is not None else str(observed),
        threshold=_number(threshold),
        unit=str(criterion.get("unit") or ""),
        phase=criterion.get("phase"),
        reason=str(criterion.get("reason") or ""),
        baseline_run_id=baseline.get("run_id"),
        baseline_value=_number(baseline.get("value")),
    )


def _number(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(float(value)) else None


def _epoch(value: object) -> float | None:
    if isinstance(value, int | float):
        return float(value)
    if not isinstance(value, str) or not value:
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None
