"""The journal judge, from canned journals: never PASS on vacuous or broken evidence."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from harness.chaos.journal import judge_journal
from harness.status import Status


def probe(name: str, output: Any, met: bool, status: str = "succeeded") -> dict[str, Any]:
    return {
        "activity": {"type": "probe", "name": name, "tolerance": 200},
        "output": output,
        "status": status,
        "tolerance_met": met,
    }


def action(name: str, status: str | None = "succeeded") -> dict[str, Any]:
    run: dict[str, Any] = {"activity": {"type": "action", "name": name}, "output": None}
    if status is not None:
        run["status"] = status
    if status == "failed":
        run["exception"] = ["Traceback...\n", "FaultError: selector matches no live pod\n"]
    return run


EXPERIMENT = {
    "title": "t",
    "method": [{"type": "action", "name": "kill"}],
    "rollbacks": [{"type": "action", "name": "undo"}],
}

GOOD: dict[str, Any] = {
    "experiment": EXPERIMENT,
    "status": "completed",
    "deviated": False,
    "steady_states": {
        "before": {"steady_state_met": True, "probes": [probe("health", 200, True)]},
        "after": {"steady_state_met": True, "probes": [probe("health", 200, True)]},
        "during": [],
    },
    "run": [action("kill")],
    "rollbacks": [action("undo")],
}


def variant(**changes: Any) -> dict[str, Any]:
    journal = copy.deepcopy(GOOD)
    for key, value in changes.items():
        journal[key] = value
    return journal


def deviated() -> dict[str, Any]:
    journal = variant(deviated=True)
    journal["steady_states"]["after"] = {
        "steady_state_met": False,
        "probes": [probe("health", 0, False)],
    }
    return journal


def failed_before() -> dict[str, Any]:
    # What chaos writes when the steady state fails before the method: status completed,
    # deviated false, method skipped (and exit code 0).
    journal = variant(run=[], rollbacks=[action("undo")])
    journal["steady_states"] = {
        "before": {"steady_state_met": False, "probes": [probe("health", 503, False)]},
        "after": None,
        "during": [],
    }
    return journal


def without_status() -> dict[str, Any]:
    journal = variant()
    del journal["status"]
    return journal


def never_probed() -> dict[str, Any]:
    journal = variant()
    journal["steady_states"] = {"before": None, "after": None, "during": []}
    return journal


def dry() -> dict[str, Any]:
    journal = variant()
    journal["experiment"] = {**EXPERIMENT, "dry": "activities"}
    return journal


CASES = [
    ("completed and held", GOOD, Status.PASS),
    ("deviated", deviated(), Status.FAIL),
    ("steady state failed before the method", failed_before(), Status.ERROR),
    ("interrupted", variant(status="interrupted"), Status.ERROR),
    ("aborted", variant(status="aborted"), Status.ERROR),
    ("no status key", without_status(), Status.ERROR),
    ("status null", variant(status=None), Status.ERROR),
    ("dry run", dry(), Status.ERROR),
    ("steady state never probed", never_probed(), Status.ERROR),
    ("method action failed", variant(run=[action("kill", "failed")]), Status.ERROR),
    ("method action cut by a signal", variant(run=[action("kill", None)]), Status.ERROR),
    ("rollback failed", variant(rollbacks=[action("undo", "failed")]), Status.ERROR),
    ("rollbacks never ran", variant(rollbacks=[]), Status.ERROR),
    ("method never ran", variant(run=[]), Status.ERROR),
]


@pytest.mark.parametrize(("label", "journal", "expected"), CASES, ids=[c[0] for c in CASES])
def test_journal_verdict(label: str, journal: dict[str, Any], expected: Status) -> None:
    judgement = judge_journal(journal)
    assert judgement.status is expected, judgement.summary
    # The step status is the worst of its rows: the rows say the same thing.
    assert max(c.status.rank for c in judgement.criteria) == expected.rank


def test_not_a_journal_is_error() -> None:
    for garbage in (None, [], "completed", 0):
        assert judge_journal(garbage).status is Status.ERROR


def test_rows_carry_phase_and_observations() -> None:
    judgement = judge_journal(deviated())
    rows = {c.name: c for c in judgement.criteria}
    assert rows["steady state before: health"].phase == "baseline"
    assert rows["method: kill"].phase == "fault"
    after = rows["steady state after: health"]
    assert (after.status, after.phase, after.observed, after.threshold) == (
        Status.FAIL,
        "recovery",
        0.0,
        200.0,
    )
    assert "health" in judgement.summary


def test_failed_before_is_never_pass_even_though_status_is_completed() -> None:
    judgement = judge_journal(failed_before())
    assert judgement.status is not Status.PASS
    assert "before" in judgement.summary
