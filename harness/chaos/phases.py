"""From the chaos event stream to typed events: phase marks (``PhaseChanged``, on the
stage's stream where the load step beside it reads them), faults injected and reverted.

Policy (per fault type, documented in chaos/README.md):

- ``baseline``: marked by the runner when the step starts (before its ``delay``).
- ``fault``: when the driver reports the first fault in place (``fault-injected``); for
  experiments whose actions do not report (chaostoolkit-kubernetes), when the first method
  action that succeeded had started.
- ``recovery``: when every fault the driver injected has been reverted (``fault-reverted``:
  latency removed, pods resumed, burners killed, DB restored, ballast deleted), or when the
  method ends, whichever comes first. A pod kill has nothing to revert: its recovery phase
  starts when the method (kill + observation pause) ends. If the method was cut short,
  the end of the rollbacks marks it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from harness.events import (
    Emit,
    FaultInjected,
    FaultReverted,
    PhaseChanged,
    StepProgressed,
)
from harness.outcome import Phase


@dataclass
class PhaseTracker:
    step: str
    emit: Emit
    fault_at: float | None = None
    recovery_at: float | None = None
    injected: dict[str, dict[str, Any]] = field(default_factory=dict)
    outstanding: set[str] = field(default_factory=set)
    reverted: list[dict[str, Any]] = field(default_factory=list)
    _action_started_at: float | None = None

    def _mark(self, phase: Phase, at: float, detail: str) -> None:
        if phase == "fault":
            self.fault_at = at
        else:
            self.recovery_at = at
        self.emit(PhaseChanged(self.step, phase, detail, at=at))

    def feed(self, event: dict[str, Any]) -> None:
        kind = event.get("event")
        at = float(event.get("at") or 0.0)
        if kind == "fault-injected":
            ledger_id = str(event.get("ledger_id", ""))
            self.injected[ledger_id] = event
            self.outstanding.add(ledger_id)
            fault, target = str(event.get("fault", "")), str(event.get("target", ""))
            self.emit(FaultInjected(self.step, fault, target, at=at))
            if self.fault_at is None:
                self._mark("fault", at, f"{fault} injected: {target}")
        elif kind == "fault-reverted":
            ledger_id = str(event.get("ledger_id", ""))
            self.reverted.append(event)
            ok = bool(event.get("ok"))
            if ok:
                self.outstanding.discard(ledger_id)
            self.emit(
                FaultReverted(
                    self.step,
                    str(event.get("fault", "")),
                    str(event.get("target", "")),
                    ok,
                    str(event.get("detail", "")),
                    at=at,
                )
            )
            if ok and not self.outstanding and self.fault_at is not None:
                self._recovery(at, f"{event.get('fault')} reverted")
        elif kind == "activity-started":
            if (
                event.get("stage") == "method"
                and event.get("type") == "action"
                and self._action_started_at is None
            ):
                self._action_started_at = at
            self.emit(StepProgressed(self.step, f"{event.get('type')}: {event.get('name')}", at=at))
        elif kind == "activity-finished":
            if (
                event.get("stage") == "method"
                and event.get("type") == "action"
                and event.get("status") == "succeeded"
                and self.fault_at is None
                and self._action_started_at is not None
            ):
                self._mark("fault", self._action_started_at, f"action {event.get('name')} started")
        elif kind == "method-finished":
            self._recovery(at, "method ended")
        elif kind == "rollbacks-finished":
            self._recovery(at, "rollbacks ended")
        elif kind == "pause-started":
            self.emit(
                StepProgressed(
                    self.step, f"pause {event.get('seconds')}s after {event.get('name')}", at=at
                )
            )

    def _recovery(self, at: float, detail: str) -> None:
        if self.fault_at is not None and self.recovery_at is None:
            self._mark("recovery", at, detail)

    def figures(self) -> FaultTimeline:
        return FaultTimeline(
            fault_at=self.fault_at,
            recovery_at=self.recovery_at,
            fault_duration_s=round(self.recovery_at - self.fault_at, 3)
            if self.fault_at is not None and self.recovery_at is not None
            else None,
            faults_injected=[
                {"fault": e.get("fault"), "target": e.get("target"), "at": e.get("at")}
                for e in self.injected.values()
            ],
            faults_reverted=[
                {
                    "fault": e.get("fault"),
                    "ok": e.get("ok"),
                    "detail": e.get("detail"),
                    "at": e.get("at"),
                }
                for e in self.reverted
            ],
        )


@dataclass(frozen=True)
class FaultTimeline:
    """When the fault was in place (verdict.json ``metrics``, by these names)."""

    fault_at: float | None
    recovery_at: float | None
    fault_duration_s: float | None
    faults_injected: list[dict[str, Any]]
    faults_reverted: list[dict[str, Any]]
