"""Live progress on the console from the event stream, and the final table."""

from __future__ import annotations

import time
from datetime import datetime

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from harness.events import (
    CriterionBreached,
    Event,
    FaultInjected,
    FaultReverted,
    FaultsRecovered,
    IntervalMeasured,
    PhaseChanged,
    RunInterrupted,
    RunStarted,
    StageFinished,
    StageSkipped,
    StageStarted,
    StepFinished,
    StepProgressed,
    StepStarted,
    TargetReady,
)
from harness.reporters.summary_md import why
from harness.status import Status
from harness.verdict import RunResult

_STYLE = {Status.PASS: "green", Status.FAIL: "red", Status.ERROR: "magenta", Status.SKIPPED: "dim"}
INTERVAL_EVERY_S = 2.0


def _e(value: object) -> str:
    """Text from the run, escaped so that rich shows it as is (e.g. "[phase=fault]")."""
    return escape(str(value))


class ConsoleReporter:
    """Prints one line per meaningful event; load intervals at most every 2 s per step."""

    def __init__(self, console: Console | None = None) -> None:
        self.console = console or Console(highlight=False)
        self._last_interval: dict[str, float] = {}

    def __call__(self, event: Event) -> None:
        line = self.line(event)
        if line:
            stamp = datetime.fromtimestamp(event.at).strftime("%H:%M:%S")
            self.console.print(f"[dim]{stamp}[/dim] {line}")

    def line(self, event: Event) -> str | None:
        match event:
            case RunStarted():
                return (
                    f"[bold]run {_e(event.run_id)}[/bold]: suite {_e(event.suite)}, target "
                    f"{_e(event.target)}, reports in {_e(event.report_dir)}"
                )
            case FaultsRecovered():
                return "reverted faults left by an earlier run: " + _e("; ".join(event.reverted))
            case TargetReady():
                return f"target {_e(event.target)} ready: {_e(event.detail)}"
            case StageStarted():
                return f"[bold]stage {_e(event.stage)}[/bold]: {_e(', '.join(event.steps))}"
            case StageSkipped():
                return f"stage {_e(event.stage)} skipped: {_e(event.reason)}"
            case StepStarted():
                return f"  ▶ {_e(event.step)} ({event.kind}, deadline {event.deadline_s:g} s)"
            case StepProgressed():
                return f"    {_e(event.step)}: {_e(event.message)}"
            case IntervalMeasured():
                return self._interval(event)
            case PhaseChanged():
                return f"    {_e(event.step)}: phase [bold]{_e(event.phase)}[/bold] " + _e(
                    event.detail
                )
            case FaultInjected():
                return (
                    f"    {_e(event.step)}: [yellow]fault injected[/yellow] "
                    f"{_e(event.fault)} → {_e(event.target)}"
                )
            case FaultReverted():
                state = "reverted" if event.ok else "[red]NOT reverted[/red]"
                return f"    {_e(event.step)}: fault {_e(event.fault)} {state} {_e(event.detail)}"
            case CriterionBreached():
                verb = "aborting" if event.aborting else "breach"
                return (
                    f"    {_e(event.step)}: [red]{verb}[/red] {_e(event.criterion)} "
                    f"(observed {event.observed:g} {event.unit}, threshold "
                    f"{event.threshold:g} {event.unit})"
                )
            case StepFinished():
                outcome = event.outcome
                style = _STYLE[outcome.status]
                return (
                    f"  ■ {_e(outcome.name)}: [{style}]{outcome.status.value}[/{style}] "
                    f"{_e(outcome.summary)}"
                )
            case StageFinished():
                return f"stage {_e(event.stage)} ended {_e(event.status)}"
            case RunInterrupted():
                return (
                    f"[bold red]interrupted ({_e(event.signal)})[/bold red]: "
                    "stopping steps, cleaning up"
                )
        return None

    def _interval(self, event: IntervalMeasured) -> str | None:
        now = time.monotonic()
        if now - self._last_interval.get(event.step, -1e9) < INTERVAL_EVERY_S:
            return None
        self._last_interval[event.step] = now
        p95 = f"{event.p95_ms:.1f} ms" if event.p95_ms is not None else "-"
        phase = f" [{_e(event.phase)}]" if event.phase else ""
        still = f", {event.open} in flight" if event.open else ""
        return (
            f"    {_e(event.step)}: t={event.elapsed_s:.0f}s {event.rps:.0f} rps, p95 {p95}, "
            f"{event.failures}/{event.requests} errors{still}{phase}"
        )

    def final(self, result: RunResult, report_dir: str) -> None:
        verdict = result.verdict
        table = Table(title=f"suite {_e(result.suite)}: run {_e(result.run_id)}")
        for column in ("stage", "step", "kind", "status", "summary"):
            table.add_column(column)
        for stage, step in verdict.steps:
            style = _STYLE[step.status]
            table.add_row(
                stage, step.name, step.kind, f"[{style}]{step.status.value}[/{style}]", step.summary
            )
        self.console.print(table)
        for _, step in verdict.steps:
            for criterion in step.criteria:
                if criterion.status in (Status.FAIL, Status.ERROR):
                    self.console.print(
                        f"  [red]✗[/red] {_e(step.name)}: {_e(criterion.name)}: "
                        f"{_e(why(criterion))}"
                    )
        style = _STYLE[verdict.status]
        self.console.print(
            f"[bold {style}]{verdict.status.value.upper()}[/bold {style}] "
            f"{_e(verdict.reason)} — reports in {_e(report_dir)}"
        )
