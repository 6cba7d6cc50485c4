"""The judge on synthetic series: sustain windows, decisive breaches, phases, recovery."""

from __future__ import annotations

import pytest

from harness.criteria import parse_criterion
from harness.load.interval import Interval
from harness.load.judge import (
    Judge,
    judge_phases,
    phase_of,
    recovery_time_s,
    streak_end,
)
from harness.outcome import PhaseMark
from harness.status import Status
from tests.load.conftest import interval

T0 = 1_800_000_000


def series(latencies_ms: list[float], per_second: int = 20, failures: list[int] | None = None,
           key: str = "GET /x") -> list[Interval]:
    failures = failures or [0] * len(latencies_ms)
    return [
        interval(T0 + i, {key: ([value] * per_second, failed)})
        for i, (value, failed) in enumerate(zip(latencies_ms, failures, strict=True))
    ]


@pytest.mark.parametrize(
    ("flags", "length", "end"),
    [
        ([True, True, True], 3, 2),
        ([True, False, True, True], 2, 3),
        ([True, None, True], 2, None),  # nothing measured ends a streak
        ([False] * 5, 1, None),
        ([], 1, None),
    ],
)
def test_streak_end(flags: list[bool | None], length: int, end: int | None) -> None:
    assert streak_end(flags, length) == end


@pytest.mark.parametrize(
    ("latencies", "status", "observed"),
    [
        ([10, 10, 200, 200, 10, 200, 200, 10], Status.PASS, 200.0),  # 2 s < 3 s
        ([10, 200, 300, 250, 10], Status.FAIL, 200.0),  # level held through the streak
        ([10, 10, 10], Status.PASS, 10.0),
    ],
)
def test_sustained_window(latencies: list[float], status: Status, observed: float) -> None:
    judge = Judge([parse_criterion("p95 < 100ms for 3s")], duration_s=60)
    for item in series(latencies):
        judge.observe(item)
    (result,) = judge.conclude(span_s=len(latencies))
    assert result.status is status
    assert result.observed == pytest.approx(observed, rel=1e-3)


def test_sustained_breach_is_decisive_at_the_end_of_its_window() -> None:
    criterion = parse_criterion({"expr": "p95 < 100ms", "for": "3s", "abort": True})
    judge = Judge([criterion], duration_s=300)
    decided_at = []
    for item in series([10, 200, 200, 200, 10]):
        for breach in judge.observe(item):
            decided_at.append(breach.at_s)
    assert decided_at == [4.0]


@pytest.mark.parametrize(
    ("expr", "seconds", "rps", "fail_per_s", "slow_per_s", "decisive_at"),
    [
        # 50 % errors, 300 s run: at 6 s the failures reach 1 % of the most possible (30,000)
        ("error_rate < 1%", 20, 100, 50, 0, 6.0),
        # 0.5 % errors can still end under 1 %: never decisive
        ("error_rate < 1%", 20, 200, 1, 0, None),
        # every request slow: more than 5 % of the most possible once past 15 s
        ("p95 < 100ms", 20, 100, 0, 100, 16.0),
        ("max < 100ms", 5, 100, 0, 1, 1.0),
        # 100 rps for 300 s cannot fall below 90 rps while the peak holds
        ("rps >= 90", 20, 100, 0, 0, None),
    ],
)
def test_whole_run_decisiveness(
    expr: str, seconds: int, rps: int, fail_per_s: int, slow_per_s: int,
    decisive_at: float | None,
) -> None:
    judge = Judge([parse_criterion(expr)], duration_s=300)
    found = None
    for i in range(seconds):
        fast = [5.0] * (rps - slow_per_s)
        slow = [500.0] * slow_per_s
        for breach in judge.observe(interval(T0 + i, {"GET /x": (fast + slow, fail_per_s)})):
            found = breach.at_s
        if found is not None:
            break
    assert found == decisive_at


def test_rps_becomes_decisive_when_the_rest_of_the_run_cannot_make_it_up() -> None:
    judge = Judge([parse_criterion("rps >= 90")], duration_s=10)
    found = None
    for i in range(10):
        count = 100 if i == 0 else 10
        for breach in judge.observe(interval(T0 + i, {"GET /x": ([5.0] * count, 0)})):
            found = found or breach.at_s
    assert found is not None and found < 10


def test_phase_of_uses_the_last_mark_before_the_interval_midpoint() -> None:
    marks = [PhaseMark("baseline", T0), PhaseMark("fault", T0 + 5.2), PhaseMark("recovery", T0 + 9)]
    assert [phase_of(T0 + i, marks) for i in (-1, 0, 4, 5, 8, 9)] == [
        None, "baseline", "baseline", "fault", "fault", "recovery",
    ]


def test_phase_criteria_and_their_absence() -> None:
    data = series([10] * 5 + [300] * 5 + [10] * 5, failures=[0] * 5 + [10] * 5 + [0] * 5)
    marks = [PhaseMark("baseline", T0), PhaseMark("fault", T0 + 5), PhaseMark("recovery", T0 + 10)]
    criteria = [
        parse_criterion({"expr": "p95 < 100ms", "phase": "baseline"}),
        parse_criterion({"expr": "p95 < 100ms", "phase": "fault"}),
        parse_criterion({"expr": "error_rate < 60%", "phase": "fault"}),
        parse_criterion({"expr": "p95 < 100ms", "phase": "recovery"}),
    ]
    statuses = [r.status for r in judge_phases(criteria, data, marks)]
    assert statuses == [Status.PASS, Status.FAIL, Status.PASS, Status.PASS]
    fault_p95 = judge_phases(criteria[1:2], data, marks)[0]
    assert fault_p95.observed == pytest.approx(300.0, rel=1e-3) and fault_p95.phase == "fault"
    unmarked = judge_phases(criteria, data, [])
    assert {r.status for r in unmarked} == {Status.ERROR}
    assert unmarked[0].reason == "no chaos phase recorded"


@pytest.mark.parametrize(
    ("latencies", "fault_end_offset", "expected"),
    [
        ([300] * 10 + [10] * 10, 10.0, 0.0),  # good from the fault's end
        ([300] * 10 + [300, 300, 10, 200, 10, 10, 10, 10], 10.0, 4.0),  # first 3 s good run
        ([300] * 10 + [10, 10] + [300] * 5, 10.0, None),  # never 3 s in a row
    ],
)
def test_recovery_time(
    latencies: list[float], fault_end_offset: float, expected: float | None
) -> None:
    limits = [parse_criterion("p95 < 100ms"), parse_criterion("error_rate < 1%")]
    got = recovery_time_s(series(latencies), T0 + fault_end_offset, limits)
    assert got == (pytest.approx(expected) if expected is not None else None)


def test_recovery_time_criterion_uses_the_baseline_limits() -> None:
    data = series([10] * 5 + [300] * 5 + [300, 10, 10, 10, 10])
    marks = [PhaseMark("baseline", T0), PhaseMark("fault", T0 + 5), PhaseMark("recovery", T0 + 10)]
    criteria = [
        parse_criterion({"expr": "p95 < 100ms", "phase": "baseline"}),
        parse_criterion("recovery_time < 5s"),
        parse_criterion("recovery_time < 0.5s"),
    ]
    results = judge_phases(criteria, data, marks)
    assert [r.status for r in results] == [Status.PASS, Status.PASS, Status.FAIL]
    assert results[1].observed == pytest.approx(1.0)
    no_limits = judge_phases([parse_criterion("recovery_time < 5s")], data, marks)
    assert no_limits[0].status is Status.ERROR


def test_unknown_name_selector_is_an_error_not_a_pass() -> None:
    judge = Judge([parse_criterion('p99{name="POST /nope"} < 250ms')], duration_s=10)
    judge.observe(interval(T0, {"POST /predict": ([5.0] * 10, 0)}))
    (result,) = judge.conclude(span_s=1.0)
    assert result.status is Status.ERROR and "no requests named" in result.reason
