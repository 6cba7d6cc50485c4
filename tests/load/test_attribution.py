"""Which seconds a phase judges: only those wholly sent in it, after the users' ramp."""

from __future__ import annotations

import pytest

from harness.criteria import parse_criterion
from harness.load.attribution import phase_intervals, sent_phase_of, warmup_seconds
from harness.load.judge import judge_phases, phase_figures
from harness.outcome import PhaseMark
from harness.status import Status
from tests.load.conftest import interval
from tests.load.test_judge import T0, series

MARKS = [
    PhaseMark("baseline", T0 - 0.4), PhaseMark("fault", T0 + 5.7),
    PhaseMark("recovery", T0 + 9.2),
]


@pytest.mark.parametrize(
    ("offset", "phase"),
    [(-1, None), (0, "baseline"), (4, "baseline"), (5, None), (6, "fault"), (8, "fault"),
     (9, None), (10, "recovery")],
)
def test_a_second_split_by_a_mark_belongs_to_no_phase(offset: int, phase: str | None) -> None:
    assert sent_phase_of(T0 + offset, MARKS) == phase


def test_a_fault_injected_within_a_second_does_not_reach_the_baseline() -> None:
    # the fault's 190 ms answers begin in the baseline's last second (5.7 s): by the
    # second's midpoint it would be baseline, and its 20 slow requests of 120 push
    # the baseline p95 over 100 ms
    data = series([5] * 5 + [190] * 4 + [5] * 3)
    baseline = parse_criterion({"expr": "p95 < 100ms", "phase": "baseline"})
    fault = parse_criterion({"expr": "p95 > 150ms", "phase": "fault"})
    results = judge_phases([baseline, fault], data, MARKS)
    assert [r.status for r in results] == [Status.PASS, Status.PASS]
    assert results[0].observed == pytest.approx(5.0, rel=1e-2)


def test_failures_sent_during_a_freeze_stay_out_of_the_recovery() -> None:
    # requests sent before the resume at 9.2 s fail at the resume: second 9 is split
    data = series([5] * 12, failures=[0] * 6 + [20] * 4 + [0] * 2)
    recovery = parse_criterion({"expr": "error_rate < 1%", "phase": "recovery"})
    (result,) = judge_phases([recovery], data, MARKS)
    assert result.status is Status.PASS and result.observed == 0.0


def test_the_users_ramp_is_no_baseline() -> None:
    data = [interval(T0, {}), *series([150] * 2 + [5] * 4)[1:]]  # empty, the burst, steady
    baseline = parse_criterion({"expr": "p95 < 100ms", "phase": "baseline"})
    (polluted,) = judge_phases([baseline], data, MARKS)
    (steady,) = judge_phases([baseline], data, MARKS, warmup_s=1)
    assert polluted.status is Status.FAIL and steady.status is Status.PASS
    chosen = phase_intervals(data, MARKS, "baseline", warmup_s=1)
    assert [i.second - T0 for i in chosen] == [2, 3, 4]
    figures = phase_figures(data, MARKS, warmup_s=1)
    assert figures["baseline"]["requests"] == 60  # type: ignore[index]


@pytest.mark.parametrize(
    ("users", "spawn_rate", "open_model", "seconds"),
    [(20, 20.0, False, 1), (20, 5.0, False, 4), (1, 100.0, False, 1), (1, 1.0, True, 0)],
)
def test_warmup_seconds(users: int, spawn_rate: float, open_model: bool, seconds: int) -> None:
    assert warmup_seconds(users, spawn_rate, open_model) == seconds
