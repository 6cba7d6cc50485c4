"""Closing, without Locust: a second's open count shipped by each process, summed by
the master, and the orchestrator closing seconds once none of their requests is in
flight (harness.load.recorder, harness.load.closing, harness.load.judge)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from harness.criteria import parse_criterion
from harness.load.closing import ANSWERS, END, TIMEOUT, Closing
from harness.load.interval import Interval, parse_line
from harness.load.judge import Judge
from harness.load.recorder import Merger, Recorder
from tests.load.conftest import interval as measured


def lines(path: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def shipped(recorder: Recorder, until: int, in_flight: dict[int, int]) -> list[tuple[int, int]]:
    """(second, open delta) of every wire dict one take ships."""
    return [(d["second"], d.get("open", 0)) for d in recorder.take(until, {}, in_flight)]


def test_a_process_ships_each_seconds_open_count_as_deltas_until_it_reaches_zero() -> None:
    recorder = Recorder()
    recorder.start(now=100.0)
    in_flight = {100: 3, 101: 1}
    assert shipped(recorder, 101, in_flight) == [(100, 3)]
    in_flight[100] = 1  # two answered; one request of 101 answered, not shipped yet (101 open)
    recorder.record("GET", "/x", 100.2, 1500.0, None)
    recorder.record("GET", "/x", 100.3, 1600.0, None)
    in_flight[101] = 0
    assert shipped(recorder, 102, in_flight) == [(100, -2), (101, 0)]
    assert 101 not in in_flight  # reached 0 and shipped: forgotten
    assert shipped(recorder, 102, in_flight) == []  # nothing changed: nothing shipped
    in_flight[100] = 0  # its last request ended without an answer of its own second
    assert shipped(recorder, 102, in_flight) == [(100, -1)]
    assert in_flight == {} and recorder.open_shipped == {}


@pytest.mark.parametrize(
    ("reports", "workers", "expected"),
    [
        # (node, second, open delta, late) in arrival order -> (late, open, awaiting) per line
        ([("a", 7, 2, False), ("b", 7, 1, False)], 2, [(False, 3, 0)]),
        ([("a", 7, 2, False)], 2, [(False, 2, 1)]),  # written after the grace: b awaited
        ([("a", 7, 2, False), ("a", 7, -2, True)], 1, [(False, 2, 0), (True, 0, 0)]),
        ([("a", 7, 0, False), ("b", 7, 4, False), ("b", 7, -4, True)], 2,
         [(False, 4, 0), (True, 0, 0)]),
        ([("a", 7, 1, False), ("b", 7, 2, False), ("a", 7, -1, True)], 2,
         [(False, 3, 0), (True, 2, 0)]),
    ],
)
def test_the_master_writes_the_open_total_of_every_worker_with_each_line(
    tmp_path: Path,
    reports: list[tuple[str, int, int, bool]],
    workers: int,
    expected: list[tuple[bool, int, int]],
) -> None:
    merger = Merger(tmp_path / "intervals.jsonl")
    for node, second, delta, late in reports:
        data: dict[str, object] = {"second": second, "endpoints": {}, "open": delta}
        if late:
            data["late"] = True
        merger.add(node, data)
        merger.flush(workers=workers, now=second + 1.1)
    merger.flush(workers=workers, now=second + 9.0)  # the grace has passed
    got = [(bool(x.get("late")), x["open"], x.get("awaiting", 0)) for x in lines(merger.path)]
    assert got == expected


def test_a_worker_reporting_after_the_grace_is_awaited_until_it_does(tmp_path: Path) -> None:
    merger = Merger(tmp_path / "intervals.jsonl")
    merger.add("a", {"second": 7, "endpoints": {}})
    merger.flush(workers=2, now=9.6)  # the grace passed: written without b
    merger.add("b", {"second": 7, "endpoints": {}, "open": 1})  # b's first report, late
    merger.flush(workers=2, now=9.7)
    merger.add("b", {"second": 7, "endpoints": {}, "open": -1, "late": True})
    merger.flush(workers=2, now=10.0)
    got = [(x["open"], x.get("awaiting", 0)) for x in lines(merger.path)]
    assert got == [(0, 1), (1, 0), (0, 0)]


def seconds(closing: Closing, rows: list[tuple[int, int, int, float]]) -> list[tuple[int, str]]:
    """Feed (second, open, awaiting, now) lines; (second, by) of what closed, in order."""
    closed = []
    for second, open_now, awaiting, now in rows:
        line = Interval(second=second, open=open_now, awaiting=awaiting)
        closed += [(c.second, c.by) for c in closing.observe(line, now)]
    return closed


@pytest.mark.parametrize(
    ("rows", "expected"),
    [
        ([(10, 0, 0, 11.1), (11, 0, 0, 12.1)], [(10, ANSWERS), (11, ANSWERS)]),
        # 10 stays open; 11 is done but closes only after 10 (in order)
        ([(10, 2, 0, 11.1), (11, 0, 0, 12.1)], []),
        ([(10, 2, 0, 11.1), (11, 0, 0, 12.1), (10, 0, 0, 13.6)], [(10, ANSWERS), (11, ANSWERS)]),
        # a worker has not reported 10: open 0 is not the whole story
        ([(10, 0, 1, 11.1)], []),
        ([(10, 0, 1, 11.1), (10, 0, 0, 12.0)], [(10, ANSWERS)]),
        # the bound passed with a request still in flight: closed by timeout, then 11
        ([(10, 1, 0, 11.1), (11, 0, 0, 12.1), (12, 3, 0, 16.5)],
         [(10, TIMEOUT), (11, ANSWERS)]),
    ],
)
def test_seconds_close_in_order_once_nothing_of_them_is_in_flight(
    rows: list[tuple[int, int, int, float]], expected: list[tuple[int, str]]
) -> None:
    assert seconds(Closing(bound_s=5.0), rows) == expected


def test_at_the_end_everything_still_open_is_closed_and_late_lines_are_counted() -> None:
    closing = Closing(bound_s=60.0)
    assert seconds(closing, [(10, 0, 0, 11.1), (11, 4, 0, 12.1), (12, 1, 0, 13.1)]) == [
        (10, ANSWERS)
    ]
    assert [(c.second, c.by, c.open_when_written) for c in closing.close_all(14.0)] == [
        (11, END, 4), (12, END, 1)
    ]
    closing.observe(measured(10, {"GET /x": ([1.0] * 5, 0)}), 15.0)  # a line after 10 closed
    summary = closing.summary()
    assert summary["closed_by"] == {ANSWERS: 1, TIMEOUT: 0, END: 2}
    assert (summary["lines_after_close"], summary["requests_after_close"]) == (1, 5)
    assert summary["written_with_open"] == 2 and summary["provisional"] == 0


def stream_judge(path: Path, criteria: list[str], now: float) -> Judge:
    judge = Judge([parse_criterion(c) for c in criteria], 10.0, close_bound_s=30.0)
    for text in path.read_text().splitlines():
        line = parse_line(text)
        if line.interval is not None:
            judge.observe(line.interval, now)
    return judge


def test_late_answers_land_in_their_second_which_closes_once_they_are_in(tmp_path: Path) -> None:
    """Recorder → merger → judge: second 100's answers take 2.5 s; it is written open,
    stays provisional (the final view leaves it out), and closes with them counted."""
    recorder, merger = Recorder(), Merger(tmp_path / "intervals.jsonl")
    recorder.start(now=100.0)
    in_flight = {100: 2}
    recorder.record("GET", "/x", 100.1, 4.0, None)
    for data in recorder.take(101, {}, in_flight):
        merger.add("w", data)
    merger.flush(workers=1, now=101.05)
    judge = stream_judge(merger.path, ["p95 < 1s for 1s"], now=101.1)
    assert [i.second for i in judge.intervals] == [100] and judge.closed_intervals == []
    recorder.record("GET", "/x", 100.4, 2500.0, None)
    recorder.record("GET", "/x", 100.6, 2600.0, "HTTP 503")
    in_flight[100] = 0
    for data in recorder.take(104, {}, in_flight):
        merger.add("w", data)
    merger.flush(workers=1, now=104.05)
    judge = stream_judge(merger.path, ["p95 < 1s for 1s"], now=104.1)
    first = judge.closed_intervals[0]
    assert (first.second, first.requests, first.failures, first.open) == (100, 3, 1, 0)
    assert [i.second for i in judge.closed_intervals] == [100, 101, 102, 103]
    assert judge.closing.closures[100].open_when_written == 2
    (result,) = judge.conclude(4.0)
    assert result.status.value == "fail"  # the late 2.5 s answers breach p95 in 100


def test_a_sustained_breach_completed_by_late_answers_is_decisive_live() -> None:
    """The streak is 100-101, completed by 100's late answers while 102 is the newest
    second: the live judge finds it (abort must not wait for the end)."""
    judge = Judge([parse_criterion("p95 < 100ms for 2s")], 60.0)
    assert judge.observe(Interval(second=100, open=5), 101.1) == []  # provisional: nothing yet
    assert judge.observe(measured(101, {"GET /x": ([300.0] * 5, 0)}), 102.1) == []
    assert judge.observe(measured(102, {"GET /x": ([5.0] * 5, 0)}), 103.1) == []
    late = measured(100, {"GET /x": ([2500.0] * 5, 0)})
    (breach,) = judge.observe(Interval(second=100, endpoints=late.endpoints, late=True), 103.5)
    assert "2 s in a row" in breach.reason
