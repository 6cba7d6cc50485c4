"""What report.html shows, read from the report directory as files (verdict document,
``events.jsonl``, each step's artifacts): frozen values the page is drawn from."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.history.figures import phase_marks, read_events
from harness.report.answers import AnswerRow, answer_rows
from harness.report.pod_starts import watched


@dataclass(frozen=True)
class Span:
    phase: str
    start_s: float
    end_s: float


@dataclass(frozen=True)
class Instant:
    label: str
    at_s: float


@dataclass(frozen=True)
class CriterionView:
    name: str
    status: str
    observed: object
    threshold: object
    unit: str
    phase: str | None
    reason: str
    baseline: str
    mismatches: tuple[Mapping[str, str], ...]


@dataclass(frozen=True)
class LoadView:
    """Seconds are counted from the step's first measured second."""

    seconds: tuple[float, ...]
    p50_ms: tuple[float | None, ...]
    p95_ms: tuple[float | None, ...]
    p99_ms: tuple[float | None, ...]
    requests: tuple[int, ...]
    failures: tuple[int, ...]
    phases: tuple[Span, ...]
    faults: tuple[Instant, ...]
    failure_reasons: tuple[tuple[str, int], ...]


@dataclass(frozen=True)
class Activity:
    name: str
    kind: str  # probe | action | rollback | pause
    stage: str
    status: str
    start_s: float
    end_s: float


@dataclass(frozen=True)
class ChaosView:
    activities: tuple[Activity, ...]
    faults: tuple[Instant, ...]


@dataclass(frozen=True)
class StepView:
    name: str
    kind: str
    stage: str
    status: str
    summary: str
    criteria: tuple[CriterionView, ...]
    load: LoadView | None = None
    chaos: ChaosView | None = None
    answers: tuple[AnswerRow, ...] = ()  # model versions, wrong answers (load steps)
    watched: Mapping[str, Any] | None = None  # a chaos step's watched answers (pod starts)


def step_views(document: Mapping[str, Any], report_dir: Path) -> list[StepView]:
    events = read_events(report_dir / "events.jsonl")
    steps = list(document.get("steps") or [])
    views = []
    for step in steps:
        name = str(step.get("name", ""))
        stage = str(step.get("stage", ""))
        same_stage = {str(s.get("name")) for s in steps if s.get("stage") == stage}
        kind = str(step.get("kind", ""))
        load = _load_view(step, events, same_stage) if kind == "load" else None
        chaos = _chaos_view(report_dir / name / "events.jsonl") if kind == "chaos" else None
        views.append(
            StepView(
                name=name, kind=kind, stage=stage, status=str(step.get("status", "")),
                summary=str(step.get("summary", "")),
                criteria=tuple(_criterion(c) for c in step.get("criteria") or []),
                load=load, chaos=chaos,
                answers=answer_rows(step.get("metrics") or {}) if kind == "load" else (),
                watched=watched(step.get("metrics") or {}) if kind == "chaos" else None,
            )
        )
    return views


def _criterion(raw: Mapping[str, Any]) -> CriterionView:
    baseline = raw.get("baseline")
    baseline_text = ""
    if isinstance(baseline, Mapping):
        baseline_text = f"{baseline.get('value')} (run {baseline.get('run_id')})"
    mismatches = tuple(
        {k: str(v) for k, v in m.items()}
        for m in raw.get("mismatches") or []
        if isinstance(m, Mapping)
    )
    return CriterionView(
        name=str(raw.get("name", "")), status=str(raw.get("status", "")),
        observed=raw.get("observed"), threshold=raw.get("threshold"),
        unit=str(raw.get("unit") or ""), phase=raw.get("phase"),
        reason=str(raw.get("reason") or ""), baseline=baseline_text, mismatches=mismatches,
    )


_VERB = {"FaultInjected": "injected", "FaultReverted": "reverted"}


def _load_view(
    step: Mapping[str, Any], events: Sequence[Mapping[str, Any]], same_stage: set[str]
) -> LoadView | None:
    metrics = step.get("metrics") or {}
    points = [p for p in metrics.get("series") or [] if isinstance(p, Mapping)]
    if not points:
        return None
    origin = float(points[0].get("second", 0))
    marks = sorted(phase_marks(events, same_stage), key=lambda m: m.at)
    end = float(points[-1].get("second", origin)) + 1.0
    ends = [mark.at for mark in marks[1:]] + [end] if marks else []
    spans = tuple(
        Span(mark.phase, mark.at - origin, until - origin)
        for mark, until in zip(marks, ends, strict=True)
    )
    faults = tuple(
        Instant(f"{_VERB[str(e['event'])]}: {e.get('fault')}", float(e["at"]) - origin)
        for e in events
        if e.get("event") in ("FaultInjected", "FaultReverted") and e.get("step") in same_stage
    )
    return LoadView(
        seconds=tuple(float(p.get("second", 0)) - origin for p in points),
        p50_ms=tuple(p.get("p50_ms") for p in points),
        p95_ms=tuple(p.get("p95_ms") for p in points),
        p99_ms=tuple(p.get("p99_ms") for p in points),
        requests=tuple(int(p.get("requests") or 0) for p in points),
        failures=tuple(int(p.get("failures") or 0) for p in points),
        phases=spans,
        faults=faults,
        failure_reasons=failure_reasons(metrics),
    )


def failure_reasons(metrics: Mapping[str, Any]) -> tuple[tuple[str, int], ...]:
    """Failure reasons with their counts, if the load step reported any (most first).

    Reads the whole run's ``overall.reasons`` ([{reason, count}], as the load stage
    writes them), or ``failure_reasons`` as {reason: count} (a plug-in's)."""
    overall = metrics.get("overall")
    raw = metrics.get("failure_reasons") or (
        overall.get("reasons") if isinstance(overall, Mapping) else None
    )
    totals: dict[str, int] = {}
    if isinstance(raw, Mapping):
        for reason, count in raw.items():
            if isinstance(count, int | float):
                totals[str(reason)] = totals.get(str(reason), 0) + int(count)
            elif isinstance(count, Mapping):  # nested per endpoint / phase
                for inner, value in count.items():
                    if isinstance(value, int | float):
                        totals[str(inner)] = totals.get(str(inner), 0) + int(value)
    elif isinstance(raw, list):
        for row in raw:
            if isinstance(row, Mapping) and isinstance(row.get("count"), int | float):
                reason = str(row.get("reason", "?"))
                totals[reason] = totals.get(reason, 0) + int(row["count"])
    return tuple(sorted(totals.items(), key=lambda item: -item[1]))


def _chaos_view(path: Path) -> ChaosView | None:
    events = read_events(path)
    if not events:
        return None
    origin = min(float(e.get("at", 0.0)) for e in events)
    activities: list[Activity] = []
    open_at: dict[tuple[str, str], float] = {}
    for event in events:
        at = float(event.get("at", origin)) - origin
        key = (str(event.get("stage", "")), str(event.get("name", "")))
        if event.get("event") == "activity-started":
            open_at[key] = at
        elif event.get("event") == "activity-finished":
            start = open_at.pop(key, at)
            kind = "rollback" if key[0] == "rollbacks" else str(event.get("type", "action"))
            activities.append(
                Activity(key[1], kind, key[0], str(event.get("status", "")), start, max(at, start))
            )
    faults = tuple(
        Instant(f"{e['event'].removeprefix('fault-')}: {e.get('fault')} on {e.get('target')}",
                float(e.get("at", origin)) - origin)
        for e in events
        if e.get("event") in ("fault-injected", "fault-reverted")
    )
    return ChaosView(tuple(activities), faults)


def read_document(report_dir: Path) -> dict[str, Any]:
    return dict(json.loads((report_dir / "verdict.json").read_text(encoding="utf-8")))
