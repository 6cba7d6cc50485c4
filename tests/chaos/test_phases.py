"""Phase marks from canned event streams (the policy in harness/chaos/phases.py)."""

from __future__ import annotations

from typing import Any

from harness.chaos.phases import PhaseTracker
from harness.events import Event, FaultInjected, FaultReverted, PhaseChanged
from harness.stage_stream import StageStream


def run(events: list[dict[str, Any]]) -> tuple[list[tuple[str, float]], list[Event]]:
    emitted: list[Event] = []
    stream = StageStream(emitted.append, ["step"])
    tracker = PhaseTracker("step", stream.emit)
    for event in events:
        tracker.feed(event)
    return [(m.phase, m.at) for m in stream.phase_marks], emitted


def activity(
    kind: str, at: float, stage: str, type_: str = "action", **extra: Any
) -> dict[str, Any]:
    return {"event": kind, "at": at, "name": "a", "type": type_, "stage": stage, **extra}


def test_driver_fault_marks_fault_at_injection_and_recovery_at_revert() -> None:
    marks, emitted = run(
        [
            {"event": "method-started", "at": 1.0},
            activity("activity-started", 1.1, "method"),
            {
                "event": "fault-injected",
                "at": 1.3,
                "fault": "freeze",
                "target": "p",
                "ledger_id": "x",
            },
            activity("activity-finished", 1.4, "method", status="succeeded"),
            {
                "event": "fault-reverted",
                "at": 6.0,
                "fault": "freeze",
                "target": "p",
                "ok": True,
                "ledger_id": "x",
            },
            {"event": "method-finished", "at": 8.0},
        ]
    )
    assert marks == [("fault", 1.3), ("recovery", 6.0)]
    kinds = [type(e) for e in emitted]
    assert FaultInjected in kinds and FaultReverted in kinds
    assert sum(isinstance(e, PhaseChanged) for e in emitted) == 2


def test_two_faults_recover_only_when_both_are_reverted() -> None:
    marks, _ = run(
        [
            {"event": "fault-injected", "at": 1.0, "fault": "a", "ledger_id": "1"},
            {"event": "fault-injected", "at": 2.0, "fault": "b", "ledger_id": "2"},
            {"event": "fault-reverted", "at": 3.0, "fault": "a", "ok": True, "ledger_id": "1"},
            {"event": "fault-reverted", "at": 4.0, "fault": "b", "ok": False, "ledger_id": "2"},
            {"event": "method-finished", "at": 5.0},
        ]
    )
    assert marks == [("fault", 1.0), ("recovery", 5.0)]  # b's revert failed: method end


def test_pod_kill_recovers_at_method_end() -> None:
    marks, _ = run(
        [
            {"event": "fault-injected", "at": 1.0, "fault": "pod-kill", "ledger_id": "k"},
            {"event": "method-finished", "at": 7.0},
            {
                "event": "fault-reverted",
                "at": 9.0,
                "fault": "pod-kill",
                "ok": True,
                "ledger_id": "k",
            },
        ]
    )
    assert marks == [("fault", 1.0), ("recovery", 7.0)]


def test_kubernetes_actions_mark_fault_at_the_first_successful_action_start() -> None:
    marks, _ = run(
        [
            activity("activity-started", 2.0, "method"),
            activity("activity-finished", 2.5, "method", status="succeeded"),
            {"event": "method-finished", "at": 12.0},
            {"event": "rollbacks-finished", "at": 13.0},
        ]
    )
    assert marks == [("fault", 2.0), ("recovery", 12.0)]


def test_no_fault_no_marks() -> None:
    marks, _ = run(
        [
            activity("activity-started", 2.0, "hypothesis-before", "probe"),
            activity("activity-started", 3.0, "method"),
            activity("activity-finished", 3.5, "method", status="failed"),
            {"event": "method-finished", "at": 4.0},
            {"event": "rollbacks-finished", "at": 5.0},
        ]
    )
    assert marks == []
