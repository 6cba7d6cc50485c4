"""Answers beyond their status, without Locust: model versions and checked answers
recorded per request, shipped, merged by the master, parsed, and judged
(version_skew, wrong_answer_rate, crossover_count)."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from harness.criteria import parse_criterion
from harness.load.answers import Answer, AnswerCounts, VersionSource, metric_value
from harness.load.interval import Interval, parse_line
from harness.load.judge import Judge, judge_phases, phase_figures
from harness.load.recorder import Merger, Recorder
from harness.outcome import PhaseMark
from harness.status import Status


def ok(status_code: int, content: bytes) -> SimpleNamespace:
    return SimpleNamespace(status_code=status_code, content=content)


def counts(checked: int = 0, wrong: int = 0, crossed: int = 0, **versions: int) -> AnswerCounts:
    named = {k.replace("_", "."): v for k, v in versions.items()}
    return AnswerCounts(checked, wrong, crossed, named)


@pytest.mark.parametrize(
    ("metric", "answers", "expected", "value"),
    [
        ("version_skew", counts(v1=9, v2=1), "v1", 0.1),
        ("version_skew", counts(v1=10), "v1", 0.0),
        ("version_skew", counts(v1=10), "v9", 1.0),
        ("version_skew", counts(v1=10), None, 1.0),  # nothing expected: every answer is off
        ("version_skew", counts(checked=5), "v1", None),  # no answer carried a version
        ("wrong_answer_rate", counts(checked=50, wrong=5), None, 0.1),
        ("wrong_answer_rate", counts(checked=50), None, 0.0),
        ("wrong_answer_rate", counts(v1=3), None, None),  # nothing checked: no value, no pass
        ("crossover_count", counts(checked=20, wrong=3, crossed=2), None, 2.0),
        ("crossover_count", counts(checked=20), None, 0.0),
        ("crossover_count", counts(), None, None),
    ],
)
def test_answer_metrics(
    metric: str, answers: AnswerCounts, expected: str | None, value: float | None
) -> None:
    assert metric_value(metric, answers, expected) == value


@pytest.mark.parametrize(
    ("spec", "response", "version"),
    [
        ("header:X-Model-Version", SimpleNamespace(headers={"X-Model-Version": "2"}), "2"),
        ("header:X-Model-Version", SimpleNamespace(headers={}), None),
        ("field:model_version", ok(200, b'{"model_version": "1.0.0"}'), "1.0.0"),
        ("field:model.version", ok(200, b'{"model": {"version": 3}}'), "3"),
        ("field:model_version", ok(503, b'{"model_version": "1"}'), None),
        ("field:model_version", ok(200, b"not json"), None),
        ("field:model_version", ok(200, b"[1, 2]"), None),
        ("field:model_version", None, None),
    ],
)
def test_version_source_reads_the_named_header_or_field(
    spec: str, response: object, version: str | None
) -> None:
    assert VersionSource(spec).from_response(response) == version


def test_a_bad_version_source_is_refused() -> None:
    with pytest.raises(ValueError, match="header:NAME"):
        VersionSource("body:model_version")


def shipped(tmp_path: Path, workers: list[list[tuple[float, Answer | None]]]) -> list[Interval]:
    """Each worker records its (start second, answer) requests; the master merges them."""
    merger = Merger(tmp_path / "intervals.jsonl")
    for node, requests in enumerate(workers):
        recorder = Recorder()
        recorder.start(now=100.0)
        for start_s, answer in requests:
            recorder.record("POST", "/predict", start_s, 2.0, None, answer)
        for data in recorder.take(103, {}):
            merger.add(str(node), data)
    merger.flush(len(workers), final=True)
    text = (tmp_path / "intervals.jsonl").read_text().splitlines()
    parsed = [parse_line(line).interval for line in text]
    return [i for i in parsed if i is not None]


def test_versions_and_checks_travel_from_workers_to_the_judge(tmp_path: Path) -> None:
    v1, v2 = Answer(version="1"), Answer(version="2")
    wrong = Answer(version="1", checked=True, wrong=True)
    right = Answer(version="1", checked=True)
    intervals = shipped(tmp_path, [
        [(100.1, v1), (100.5, right), (101.2, v2), (102.3, wrong), (102.4, None)],
        [(100.7, v1), (101.5, v1), (102.6, Answer(checked=True, crossed=True, wrong=True))],
    ])
    assert [i.second for i in intervals] == [100, 101, 102]
    first = intervals[0].endpoints["POST /predict"].answers
    assert first is not None and first.versions == {"1": 3} and first.checked == 1
    criteria = [parse_criterion(t) for t in (
        "version_skew == 0", "version_skew < 20%", "wrong_answer_rate < 1%", "crossover_count < 1",
    )]
    judge = Judge(criteria, duration_s=3)
    for interval in intervals:
        judge.observe(interval)
    assert judge.expected_version == "1"  # the first one seen
    results = {r.name: r for r in judge.conclude(3.0)}
    assert results["version_skew == 0"].status is Status.FAIL
    assert results["version_skew == 0"].observed == pytest.approx(1 / 6, abs=1e-6)
    assert results["version_skew < 20%"].status is Status.PASS
    assert results["wrong_answer_rate < 1%"].observed == pytest.approx(2 / 3, abs=1e-6)
    assert results["crossover_count < 1"].status is Status.FAIL
    assert results["crossover_count < 1"].observed == 1.0


def test_a_pinned_version_wins_over_the_first_seen(tmp_path: Path) -> None:
    intervals = shipped(tmp_path, [[(100.1, Answer(version="1")), (101.1, Answer(version="2"))]])
    judge = Judge([parse_criterion("version_skew == 0")], duration_s=3, expected_version="2")
    for interval in intervals:
        judge.observe(interval)
    (result,) = judge.conclude(3.0)
    assert judge.expected_version == "2" and result.observed == 0.5


def test_no_versioned_answer_is_an_error_not_a_pass(tmp_path: Path) -> None:
    intervals = shipped(tmp_path, [[(100.1, None), (101.1, None)]])
    criteria = [parse_criterion("version_skew == 0"), parse_criterion("wrong_answer_rate == 0")]
    judge = Judge(criteria, 3)
    for interval in intervals:
        judge.observe(interval)
    skew, wrong = judge.conclude(3.0)
    assert skew.status is Status.ERROR and "model version" in skew.reason
    assert wrong.status is Status.ERROR and "no answer was checked" in wrong.reason


def test_versions_per_phase_and_a_phase_criterion(tmp_path: Path) -> None:
    intervals = shipped(tmp_path, [[
        (100.1, Answer(version="1")), (101.1, Answer(version="1")), (101.2, Answer(version="2")),
        (102.1, Answer(version="2")),
    ]])
    marks = [PhaseMark("baseline", 100.0), PhaseMark("fault", 101.0), PhaseMark("recovery", 102.0)]
    figures: dict[str, Any] = phase_figures(intervals, marks, "1")
    assert figures["baseline"]["answers"]["versions"] == {"1": 1}
    assert figures["fault"]["answers"]["versions"] == {"1": 1, "2": 1}
    assert figures["recovery"]["answers"]["version_skew"] == 1.0
    criterion = parse_criterion({"expr": "version_skew == 0", "phase": "baseline"})
    (result,) = judge_phases([criterion], intervals, marks, expected_version="1")
    assert result.status is Status.PASS and result.observed == 0.0
    json.dumps(figures)  # reports take it as it is


def test_version_skew_without_a_version_source_is_a_suite_problem(tmp_path: Path) -> None:
    from harness.load.spec import LoadStep
    from harness.load.stage import STAGE

    spec = LoadStep.model_validate({
        "name": "s", "locustfile": "missing.py", "criteria": ["version_skew == 0"],
    })
    problems = STAGE.check(spec, tmp_path, tmp_path / "suite.yaml")
    assert any(
        p.field == "criteria[0]" and "needs model_version" in p.message for p in problems
    ), problems


def test_a_crossover_is_decisive_at_once_and_can_abort(tmp_path: Path) -> None:
    crossed = Answer(version="1", echoed=True, crossed=True)
    intervals = shipped(tmp_path, [[(100.1, Answer(echoed=True)), (101.2, crossed)]])
    criterion = parse_criterion({"expr": "crossover_count < 1", "abort": True})
    judge = Judge([criterion], duration_s=60)
    assert judge.observe(intervals[0]) == []
    (breach,) = judge.observe(intervals[1])
    assert breach.criterion is criterion and breach.observed == 1.0
