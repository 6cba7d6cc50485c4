"""The history store in a run's life: before it (its "running" row; baseline criteria
resolved) and after it (the baselines explained in the verdict). The record itself is
written by the reporters (:mod:`harness.reporters.history_record`), before verdict.json."""

from __future__ import annotations

import time
from dataclasses import replace

from harness.engine import RunOptions
from harness.history.baseline import BaselinePlan, apply_plan
from harness.history.recorder import start_recording
from harness.paths import project_root
from harness.plan import Suite
from harness.verdict import RunResult


def begin_recording(suite: Suite, options: RunOptions) -> tuple[Suite, BaselinePlan]:
    """Write the run's row and resolve its baselines. Raises HistoryError."""
    kind = options.target_kind or suite.target.kind
    recorder = start_recording(
        options.run_id, suite.name, kind, options.report_dir, project_root(), time.time()
    )
    try:
        return recorder.resolve_baselines(suite)
    finally:
        recorder.close()


def with_baselines(result: RunResult, plan: BaselinePlan) -> RunResult:
    """The result with each baseline criterion's run and value, and the skipped ones."""
    return replace(result, verdict=apply_plan(result.verdict, plan, result.interrupted))
