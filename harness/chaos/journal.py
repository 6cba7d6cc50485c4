"""Judge a Chaos Toolkit journal. Never trust ``chaos``'s exit code: it is 0 when the steady
state failed before the method (method skipped!) and when an action raised.

PASS only when: status "completed", the steady state was probed and met before AND after,
the method ran and every method activity succeeded, every declared rollback ran and
succeeded. A deviation (steady state not met after the method) is FAIL. Anything else (no
status, interrupted/aborted, a dry run, the steady state never probed or not met before, a
fault action that failed, i.e. a fault maybe never injected, a rollback that failed or never
ran) is ERROR.

Each probe and activity becomes a :class:`CriterionResult` (a junit testcase): steady-state
probes before the method in phase "baseline", method activities in "fault", probes after the
method in "recovery", rollbacks without a phase. A last row, ``experiment``, carries the
overall judgement, so the step's status is the worst of its rows.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from harness.outcome import CriterionResult
from harness.status import Status, worst

OK_ACTIVITY = "succeeded"


@dataclass(frozen=True)
class JournalFigures:
    """What the journal says beside its verdict (verdict.json ``metrics``, by these names)."""

    journal_status: str | None
    deviated: bool | None
    duration_s: float | None
    steady_state_before_met: bool | None
    steady_state_after_met: bool | None
    method_activities: int
    rollbacks: int


@dataclass(frozen=True)
class JournalJudgement:
    status: Status
    summary: str
    criteria: tuple[CriterionResult, ...]
    metrics: JournalFigures | None  # None: not a journal at all


def _scalar(value: Any) -> float | str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, int | float):
        return float(value)
    text = value if isinstance(value, str) else json.dumps(value, default=str)
    return text if len(text) <= 200 else text[:197] + "..."


def _name(run: dict[str, Any]) -> str:
    activity = run.get("activity")
    if isinstance(activity, dict):
        return str(activity.get("name") or activity.get("ref") or "unnamed")
    return "unnamed"


def _failure_reason(run: dict[str, Any]) -> str:
    exception = run.get("exception")
    if isinstance(exception, list) and exception:
        return str(exception[-1]).strip().splitlines()[-1][:300]
    if "status" not in run:
        return "no status: the activity was cut short (signal or crash)"
    return f"status {run.get('status')!r}"


def _probe_rows(state: Any, label: str, phase: str) -> list[CriterionResult]:
    rows: list[CriterionResult] = []
    if not isinstance(state, dict):
        return rows
    for probe in state.get("probes") or []:
        if not isinstance(probe, dict):
            continue
        activity = probe.get("activity") if isinstance(probe.get("activity"), dict) else {}
        tolerance = _scalar(activity.get("tolerance")) if isinstance(activity, dict) else None
        met = probe.get("tolerance_met")
        ran = probe.get("status") == OK_ACTIVITY
        if ran and met is True:
            status, reason = Status.PASS, ""
        elif ran:
            status, reason = Status.FAIL, "outside tolerance"
        else:
            status, reason = Status.FAIL, f"probe did not succeed: {_failure_reason(probe)}"
        rows.append(
            CriterionResult(
                name=f"steady state {label}: {_name(probe)}",
                status=status,
                observed=_scalar(probe.get("output")),
                threshold=tolerance,
                phase=phase,
                reason=reason,
            )
        )
    return rows


def _activity_rows(runs: Any, prefix: str, phase: str | None) -> list[CriterionResult]:
    rows: list[CriterionResult] = []
    for run in runs or []:
        if not isinstance(run, dict):
            continue
        ok = run.get("status") == OK_ACTIVITY
        activity = run.get("activity") if isinstance(run.get("activity"), dict) else {}
        kind = activity.get("type", "activity") if isinstance(activity, dict) else "activity"
        rows.append(
            CriterionResult(
                name=f"{prefix}: {_name(run)}",
                status=Status.PASS if ok else Status.ERROR,
                observed=_scalar(run.get("output")) if ok else _scalar(run.get("status")),
                threshold=OK_ACTIVITY,
                phase=phase,
                reason="" if ok else f"{kind} failed: {_failure_reason(run)}",
            )
        )
    return rows


def _declared(experiment: Any, key: str) -> int:
    if not isinstance(experiment, dict):
        return 0
    items = experiment.get(key)
    return len(items) if isinstance(items, list) else 0


def _overall(journal: dict[str, Any]) -> tuple[Status, str]:
    """The experiment's overall judgement and its one-line reason."""
    experiment = journal.get("experiment")
    status = journal.get("status")
    states = journal.get("steady_states") if isinstance(journal.get("steady_states"), dict) else {}
    assert isinstance(states, dict)
    before, after = states.get("before"), states.get("after")
    runs = journal.get("run") if isinstance(journal.get("run"), list) else []
    rollbacks = journal.get("rollbacks") if isinstance(journal.get("rollbacks"), list) else []
    assert isinstance(runs, list) and isinstance(rollbacks, list)

    if isinstance(experiment, dict) and experiment.get("dry"):
        return Status.ERROR, f"dry run ({experiment.get('dry')}): nothing was injected"
    if "status" not in journal or status is None:
        return Status.ERROR, "journal has no status: chaos did not finish"
    if status in ("interrupted", "aborted"):
        return Status.ERROR, f"experiment {status}"
    if not isinstance(before, dict) or not before.get("probes"):
        return Status.ERROR, "steady state never probed before the method"
    if before.get("steady_state_met") is not True:
        return Status.ERROR, "steady state not met before the method: no fault injected"
    if _declared(experiment, "method") and not runs:
        return Status.ERROR, "the method never ran: no fault injected"
    broken = [r for r in runs if isinstance(r, dict) and r.get("status") != OK_ACTIVITY]
    deviated = journal.get("deviated") is True or (
        isinstance(after, dict) and after.get("steady_state_met") is False
    )
    if deviated:
        failed = [
            _name(p)
            for p in (after or {}).get("probes") or []
            if isinstance(p, dict) and p.get("tolerance_met") is not True
        ]
        return Status.FAIL, "steady state deviated after the fault" + (
            f": {', '.join(failed)}" if failed else ""
        )
    if broken:
        return Status.ERROR, f"method activity {_name(broken[0])!r} failed: fault not injected"
    if not isinstance(after, dict) or not after.get("probes"):
        return Status.ERROR, "steady state never probed after the method"
    if status != "completed":
        return Status.ERROR, f"experiment status {status!r}"
    if _declared(experiment, "rollbacks") and len(rollbacks) < _declared(experiment, "rollbacks"):
        return Status.ERROR, "not every declared rollback ran"
    bad_rollbacks = [r for r in rollbacks if isinstance(r, dict) and r.get("status") != OK_ACTIVITY]
    if bad_rollbacks:
        return Status.ERROR, f"rollback {_name(bad_rollbacks[0])!r} failed"
    return Status.PASS, "steady state held before and after the fault; rollbacks succeeded"


def judge_journal(journal: object) -> JournalJudgement:
    """Judge a parsed journal (the JSON object ``chaos run --journal-path`` wrote)."""
    if not isinstance(journal, dict):
        reason = "journal is not a JSON object"
        row = CriterionResult(name="experiment", status=Status.ERROR, reason=reason)
        return JournalJudgement(Status.ERROR, reason, (row,), None)
    states = journal.get("steady_states") if isinstance(journal.get("steady_states"), dict) else {}
    assert isinstance(states, dict)
    rows = [
        *_probe_rows(states.get("before"), "before", "baseline"),
        *_activity_rows(journal.get("run"), "method", "fault"),
        *_probe_rows(states.get("after"), "after", "recovery"),
        *_activity_rows(journal.get("rollbacks"), "rollback", None),
    ]
    overall, reason = _overall(journal)
    # Rows never outrank the overall judgement's kind of failure in the wrong direction:
    # a deviated experiment's failed probe is FAIL, a before-probe failure is under ERROR.
    rows.append(
        CriterionResult(
            name="experiment",
            status=overall,
            observed=_scalar(journal.get("status")),
            threshold="completed",
            reason="" if overall is Status.PASS else reason,
        )
    )
    status = worst(r.status for r in rows)
    if status is Status.PASS and overall is not Status.PASS:
        status = overall
    before, after = states.get("before"), states.get("after")
    before_met = before.get("steady_state_met") if isinstance(before, dict) else None
    metrics = JournalFigures(
        journal_status=journal.get("status"),
        deviated=journal.get("deviated"),
        duration_s=journal.get("duration"),
        steady_state_before_met=before_met,
        steady_state_after_met=after.get("steady_state_met") if isinstance(after, dict) else None,
        method_activities=len(journal.get("run") or []),
        rollbacks=len(journal.get("rollbacks") or []),
    )
    return JournalJudgement(status, reason, tuple(rows), metrics)
