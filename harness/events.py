"""The typed event stream: the engine and runners emit, reporters consume.

Events are named in the past tense and carry wall-clock ``at`` (time.time()).
Console progress, verdict.json, junit.xml and summary.md are all built from
this stream plus the final outcomes; nothing reads runner internals.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from harness.outcome import Phase, StepKind, StepOutcome


def _now() -> float:
    return time.time()


@dataclass(frozen=True)
class Event:
    at: float = field(default_factory=_now, kw_only=True)


@dataclass(frozen=True)
class RunStarted(Event):
    run_id: str
    suite: str
    target: str
    report_dir: str


@dataclass(frozen=True)
class TargetReady(Event):
    target: str
    detail: str


@dataclass(frozen=True)
class StageStarted(Event):
    stage: str
    steps: tuple[str, ...]


@dataclass(frozen=True)
class StageSkipped(Event):
    stage: str
    reason: str


@dataclass(frozen=True)
class StepStarted(Event):
    step: str
    kind: StepKind
    deadline_s: float


@dataclass(frozen=True)
class StepProgressed(Event):
    """A free-form line of progress from a runner (shown live, not judged)."""

    step: str
    message: str


@dataclass(frozen=True)
class IntervalMeasured(Event):
    """One measurement interval of a load step (all endpoints)."""

    step: str
    elapsed_s: float
    requests: int
    failures: int
    rps: float
    p95_ms: float | None
    p99_ms: float | None
    phase: str | None = None
    open: int = 0  # of its requests, still in flight when shown (provisional figures)


@dataclass(frozen=True)
class CriterionBreached(Event):
    """A live breach; ``aborting`` when it stops the step (``abort: true``)."""

    step: str
    criterion: str
    observed: float
    threshold: float
    unit: str
    aborting: bool


@dataclass(frozen=True)
class PhaseChanged(Event):
    """A phase boundary on the stage's stream (``at``: when the phase began). Marked by
    chaos steps; read by any step of the stage (load judges phase criteria by them)."""

    step: str
    phase: Phase
    detail: str = ""


@dataclass(frozen=True)
class FaultInjected(Event):
    step: str
    fault: str
    target: str


@dataclass(frozen=True)
class FaultReverted(Event):
    step: str
    fault: str
    target: str
    ok: bool
    detail: str = ""


@dataclass(frozen=True)
class StepFinished(Event):
    outcome: StepOutcome


@dataclass(frozen=True)
class StageFinished(Event):
    stage: str
    status: str


@dataclass(frozen=True)
class RunInterrupted(Event):
    signal: str


@dataclass(frozen=True)
class RunFinished(Event):
    status: str
    report_dir: str


Emit = Callable[[Event], None]


@dataclass(frozen=True)
class FaultsRecovered(Event):
    """Faults left behind by an earlier run, reverted before this run started."""

    reverted: tuple[str, ...]
