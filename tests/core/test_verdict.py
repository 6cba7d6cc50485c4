"""Verdict aggregation: worst wins at every level; no evidence is never a PASS."""

from __future__ import annotations

import pytest

from harness.outcome import CriterionResult, StepOutcome
from harness.status import Status
from harness.verdict import judge_run, judge_stage, judge_step

P, F, E, S = Status.PASS, Status.FAIL, Status.ERROR, Status.SKIPPED


def step(name: str, status: Status, *criteria: Status) -> StepOutcome:
    return StepOutcome(
        name=name, kind="load", status=status, summary="s",
        criteria=tuple(CriterionResult(f"c{i}", c) for i, c in enumerate(criteria)),
    )


@pytest.mark.parametrize(("status", "criteria", "expected"), [
    (P, (P, P), P),
    (P, (P, F), F),          # a runner claiming PASS over a failed criterion
    (P, (F, E), E),
    (P, (), E),              # zero criteria judged: no evidence
    (F, (P,), F),
    (E, (), E),
    (S, (), S),              # skipped stays skipped
    (P, (S, P), P),
    (P, (S, S), E),          # only skipped criteria: nothing judged
])
def test_step(status: Status, criteria: tuple[Status, ...], expected: Status) -> None:
    assert judge_step(step("x", status, *criteria)).status is expected


def test_no_evidence_says_so() -> None:
    assert judge_step(step("x", P)).summary.startswith("no criterion was judged")


@pytest.mark.parametrize(("stages", "expected"), [
    ([[P, P], [P]], P),
    ([[P, F], [P]], F),
    ([[P, F], [E]], E),
    ([[P], [S]], P),          # fail_fast skips are not evidence against
    ([[F], [S]], F),
    ([[S], [S]], E),          # nothing ran
    ([], E),
])
def test_run(stages: list[list[Status]], expected: Status) -> None:
    verdicts = [
        judge_stage(f"stage{i}", [step(f"s{i}{j}", s, *(() if s is S else (s,)))
                                  for j, s in enumerate(statuses)])
        for i, statuses in enumerate(stages)
    ]
    assert judge_run(verdicts).status is expected


def test_run_error_and_interruption_force_error() -> None:
    passing = [judge_stage("a", [step("x", P, P)])]
    assert judge_run(passing).reason == "all 1 steps passed"
    assert judge_run(passing, run_error="target down").status is E
    verdict = judge_run(passing, interrupted="SIGINT")
    assert verdict.status is E and "interrupted" in verdict.reason
    assert judge_run([judge_stage("a", [step("x", F, F), step("y", P, P)])]).reason == (
        "1 of 2 steps failed: x")
