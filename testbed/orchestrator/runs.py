"""Pipeline runs and their steps, as frozen values kept in an in-memory book."""

from __future__ import annotations

import dataclasses
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any, Literal

RunStatus = Literal["running", "succeeded", "failed"]
StepStatus = Literal["running", "succeeded", "failed"]
STEP_NAMES = ("ingest", "train", "evaluate", "register")
MAX_RUNS_KEPT = 5000


@dataclass(frozen=True)
class StepRecord:
    name: str
    status: StepStatus
    duration_s: float | None = None
    detail: str | None = None

    def to_body(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "status": self.status,
            "duration_s": self.duration_s,
            "detail": self.detail,
        }


@dataclass(frozen=True)
class PipelineRun:
    run_id: str
    name: str
    version: str
    samples: int
    seed: int
    started_monotonic_s: float
    status: RunStatus = "running"
    model_id: int | None = None
    error: str | None = None
    steps: tuple[StepRecord, ...] = ()
    finished_monotonic_s: float | None = None

    @property
    def duration_s(self) -> float:
        end = (
            self.finished_monotonic_s if self.finished_monotonic_s is not None else time.monotonic()
        )
        return round(end - self.started_monotonic_s, 6)

    def to_body(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "name": self.name,
            "version": self.version,
            "status": self.status,
            "model_id": self.model_id,
            "error": self.error,
            "steps": [step.to_body() for step in self.steps],
            "duration_s": self.duration_s,
        }


class RunBook:
    """Runs by id; the oldest finished runs are forgotten past MAX_RUNS_KEPT."""

    def __init__(self) -> None:
        self._runs: OrderedDict[str, PipelineRun] = OrderedDict()
        self._lock = threading.Lock()

    def add(self, run: PipelineRun) -> None:
        with self._lock:
            self._runs[run.run_id] = run
            while len(self._runs) > MAX_RUNS_KEPT:
                oldest = next(iter(self._runs))
                if self._runs[oldest].status == "running":
                    break
                del self._runs[oldest]

    def get(self, run_id: str) -> PipelineRun | None:
        return self._runs.get(run_id)

    def update(self, run_id: str, **changes: Any) -> PipelineRun:
        with self._lock:
            run = dataclasses.replace(self._runs[run_id], **changes)
            self._runs[run_id] = run
            return run

    def record_step(self, run_id: str, step: StepRecord) -> None:
        """Add a step, or replace the last one of the same name (running -> finished)."""
        with self._lock:
            run = self._runs[run_id]
            steps = list(run.steps)
            if steps and steps[-1].name == step.name:
                steps[-1] = step
            else:
                steps.append(step)
            self._runs[run_id] = dataclasses.replace(run, steps=tuple(steps))

    def counts(self) -> dict[str, int]:
        totals = {"running": 0, "succeeded": 0, "failed": 0}
        for run in list(self._runs.values()):
            totals[run.status] += 1
        return totals


def finished_step(name: str, started_s: float, error: str | None = None) -> StepRecord:
    return StepRecord(
        name=name,
        status="failed" if error else "succeeded",
        duration_s=round(time.monotonic() - started_s, 6),
        detail=error,
    )
