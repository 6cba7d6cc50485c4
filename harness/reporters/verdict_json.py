"""``verdict.json`` (schema "harness.verdict/1"), as documented in DESIGN.md."""

from __future__ import annotations

import json
import math
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from harness.outcome import StepOutcome
from harness.reporters.paths import relative_artifact
from harness.verdict import RunResult
from wholefile import write_atomically

SCHEMA = "harness.verdict/1"
VERDICT_FILE = "verdict.json"


def iso_utc(at: float) -> str:
    return datetime.fromtimestamp(at, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def verdict_document(result: RunResult, report_dir: Path) -> dict[str, Any]:
    return {
        "schema": SCHEMA,
        "run_id": result.run_id,
        "suite": result.suite,
        "target": result.target,
        "status": result.verdict.status.value,
        "reason": result.verdict.reason,
        "started_at": iso_utc(result.started_at),
        "finished_at": iso_utc(result.finished_at),
        "duration_s": round(result.finished_at - result.started_at, 3),
        "steps": [step_document(stage, step, report_dir) for stage, step in result.verdict.steps],
    }


def step_document(stage: str, step: StepOutcome, report_dir: Path) -> dict[str, Any]:
    return {
        "name": step.name,
        "kind": step.kind,
        "stage": stage,
        "status": step.status.value,
        "summary": step.summary,
        "criteria": [criterion.to_json() for criterion in step.criteria],
        "metrics": _json_safe(dict(step.metrics)),
        "artifacts": [relative_artifact(path, report_dir) for path in step.artifacts],
    }


def _json_safe(value: Any) -> Any:
    """Free-form metrics made strict JSON (NaN/inf -> null, unknown types -> str)."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_safe(v) for v in value]
    if value is None or isinstance(value, str | int | bool):
        return value
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    return str(value)


def write_verdict_json(result: RunResult, report_dir: Path) -> Path:
    path = report_dir / VERDICT_FILE
    text = json.dumps(verdict_document(result, report_dir), indent=2, allow_nan=False)
    write_atomically(path, text + "\n")
    return path
