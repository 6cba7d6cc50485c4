"""PromQL criteria as written in suite files: parsed once, errors name the field."""

from __future__ import annotations

from typing import Any

import pytest

from harness.criteria import CriterionError
from harness.prometheus.criterion import is_promql, parse_promql_criterion


def test_mapping_form_with_defaults() -> None:
    c = parse_promql_criterion(
        {"promql": 'sum(rate(ml_predictions_total{status!="200"}[30s]))', "<": 1}
    )
    assert (c.query, c.op, c.threshold, c.over, c.phase, c.step_s) == (
        'sum(rate(ml_predictions_total{status!="200"}[30s]))', "<", 1.0, "end", None, 1.0
    )
    assert c.holds(0.5) and not c.holds(1.0)
    assert c.name == 'promql(sum(rate(ml_predictions_total{status!="200"}[30s]))) < 1'


def test_mapping_form_with_every_option() -> None:
    c = parse_promql_criterion(
        {"promql": "up", ">=": "1", "over": "window", "phase": "fault", "step": "2s",
         "name": "all targets up"}
    )
    assert (c.op, c.threshold, c.over, c.phase, c.step_s) == (">=", 1.0, "window", "fault", 2.0)
    assert c.name == "all targets up [over window] [phase=fault]"


def test_one_line_form_takes_the_last_comparison() -> None:
    c = parse_promql_criterion("promql(sum(rate(x[30s])) > 2) <= 0.5")
    assert (c.query, c.op, c.threshold) == ("sum(rate(x[30s])) > 2", "<=", 0.5)


def test_multi_line_queries_are_folded_to_one_line() -> None:
    c = parse_promql_criterion({"promql": "sum(\n  rate(x[30s])\n)", "<": 1})
    assert c.query == "sum( rate(x[30s]) )"


@pytest.mark.parametrize(
    ("raw", "field", "words"),
    [
        ({"promql": "up"}, "promql", "exactly one comparison"),
        ({"promql": "up", "<": 1, ">": 0}, ">", "exactly one comparison"),
        ({"promql": "", "<": 1}, "promql", "non-empty"),
        ({"promql": 3, "<": 1}, "promql", "non-empty"),
        ({"promql": "up", "<": "1ms"}, "<", "plain number"),
        ({"promql": "up", "<": True}, "<", "must be a number"),
        ({"promql": "up", "<": "nan"}, "<", "finite"),
        ({"promql": "up", "<": 1, "over": "all"}, "over", "'window'"),
        ({"promql": "up", "<": 1, "phase": "faults"}, "phase", "did you mean 'fault'"),
        ({"promql": "up", "<": 1, "step": "0s"}, "step", "positive"),
        ({"promql": "up", "<": 1, "step": 5}, "step", "duration"),
        ({"promql": "up", "<": 1, "abort": True}, "abort", "unknown option"),
        ({"promql": "up", "<": 1, "name": 3}, "name", "string"),
        ("promql(up) < fast", "expr", "plain number"),
        ("promql up < 1", "expr", "promql(<query>)"),
    ],
)
def test_bad_criteria_name_the_field(raw: Any, field: str, words: str) -> None:
    with pytest.raises(CriterionError) as caught:
        parse_promql_criterion(raw)
    assert caught.value.field == field
    assert words in str(caught.value)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ({"promql": "up", "<": 1}, True),
        ("promql(up) < 1", True),
        ("  promql(up) < 1", True),
        ("p95 < 100ms", False),
        ({"expr": "p95 < 100ms"}, False),
    ],
)
def test_is_promql(raw: Any, expected: bool) -> None:
    assert is_promql(raw) is expected


def test_worst_value_is_on_the_wrong_side() -> None:
    below = parse_promql_criterion({"promql": "x", "<": 1})
    above = parse_promql_criterion({"promql": "x", ">": 1})
    equal = parse_promql_criterion({"promql": "x", "==": 1})
    assert below.worst([0.1, 3.0, 2.0]) == 3.0
    assert above.worst([0.1, 3.0, 2.0]) == 0.1
    assert equal.worst([1.0, 2.0]) == 2.0


def test_a_load_step_parses_promql_criteria_once_and_dumps_them_back() -> None:
    from harness.criteria import Criterion
    from harness.load.spec import LoadStep
    from harness.prometheus.criterion import PromqlCriterion

    raw = {"promql": "sum(up)", ">=": 1, "over": "window", "phase": "fault", "name": "up"}
    step = LoadStep.model_validate(
        {"name": "x", "locustfile": "l.py", "criteria": ["p95 < 100ms", raw, "promql(up) > 0"]}
    )
    kinds = [type(c) for c in step.criteria]
    assert kinds == [Criterion, PromqlCriterion, PromqlCriterion]
    dumped = step.model_dump()["criteria"]
    assert dumped[0] == "p95 < 100ms" and dumped[1] == raw
    again = LoadStep.model_validate({"name": "x", "locustfile": "l.py", "criteria": dumped})
    assert again.criteria == step.criteria


def test_a_bad_promql_criterion_in_a_suite_names_file_line_and_field(tmp_path: Any) -> None:
    import subprocess
    import sys
    from pathlib import Path

    suites = tmp_path / "suites"
    suites.mkdir()
    suite = suites / "bad.yaml"
    suite.write_text(
        "name: bad\nstages:\n  - name: s\n    steps:\n      - name: load\n        kind: load\n"
        "        locustfile: " + str(Path(__file__).resolve().parents[2] / "loadtests" /
                                     "inference.py") + "\n"
        "        criteria:\n          - promql: 'sum(up)'\n            over: all\n"
        "            '<': 1\n"
    )
    done = subprocess.run(
        [str(Path(sys.executable).with_name("harness")), "validate", str(suite)],
        capture_output=True, text=True, timeout=60, check=False,
    )
    assert done.returncode == 2, done
    assert f"{suite}:10:" in done.stderr + done.stdout
    assert "'over' must be 'end'" in done.stderr + done.stdout
    assert "Traceback" not in done.stderr
