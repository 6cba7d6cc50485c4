"""The criteria language: parse table, thresholds in canonical units, errors by option."""

from __future__ import annotations

from typing import Any

import pytest

from harness.criteria import CriterionError, did_you_mean, parse_criterion


@pytest.mark.parametrize(("raw", "metric", "op", "threshold", "unit"), [
    ("p95 < 100ms", "p95", "<", 100.0, "ms"),
    ("p99.9 <= 1.5s", "p99.9", "<=", 1500.0, "ms"),
    ("error_rate < 0.1%", "error_rate", "<", 0.001, "ratio"),
    ("rps >= 90", "rps", ">=", 90.0, ""),
    ("completion_rate > 95%", "completion_rate", ">", 0.95, "ratio"),
    ("cpu_utilisation < 80%", "cpu_utilisation", "<", 0.8, "ratio"),
    ("recovery_time < 30s", "recovery_time", "<", 30.0, "s"),
    ("median == 5ms", "median", "==", 5.0, "ms"),
])
def test_expressions(raw: str, metric: str, op: str, threshold: float, unit: str) -> None:
    criterion = parse_criterion(raw)
    assert (criterion.metric, criterion.op, criterion.unit) == (metric, op, unit)
    assert criterion.threshold == pytest.approx(threshold)
    assert criterion.name == raw


def test_selector_sustain_and_options() -> None:
    criterion = parse_criterion('p99{name="POST /predict"} < 250ms for 30s')
    assert criterion.labels == {"name": "POST /predict"} and criterion.sustain_s == 30.0
    assert criterion.percentile == 99.0
    mapped = parse_criterion({"expr": "error_rate < 5%", "phase": "fault", "abort": True,
                              "for": "10s"})
    assert (mapped.phase, mapped.abort, mapped.sustain_s) == ("fault", True, 10.0)
    assert mapped.name == "error_rate < 5% [phase=fault] [abort]"


@pytest.mark.parametrize(("threshold", "observed", "holds"), [
    ("p95 < 100ms", 99.9, True), ("p95 < 100ms", 100.0, False),
    ("rps >= 90", 90.0, True), ("error_rate < 1%", 0.02, False),
])
def test_holds(threshold: str, observed: float, holds: bool) -> None:
    assert parse_criterion(threshold).holds(observed) is holds


@pytest.mark.parametrize(("raw", "field", "message"), [
    ("p95 <", "expr", "cannot read criterion"),
    ("p95 < 100", "expr", "latency"),
    ("p96x < 1ms", "expr", "unknown metric"),
    ("eror_rate < 1%", "expr", "did you mean 'error_rate'"),
    ("p0 < 1ms", "expr", "between p0 and p100"),
    ("rps > lots", "expr", "number"),
    ('p95{route="x"} < 1ms', "expr", "only 'name'"),
    ("p95 < 1ms for ever", "for", "duration"),
    ({"expr": "p95 < 1ms", "phase": "faults"}, "phase", "did you mean 'fault'"),
    ({"expr": "p95 < 1ms", "abrt": True}, "abrt", "did you mean 'abort'"),
    ({"expr": "p95 < 1ms", "abort": "yes"}, "abort", "true or false"),
    ({"expr": "p95 < 1ms for 1s", "for": "2s"}, "for", "twice"),
    ({"phase": "fault"}, "expr", "missing 'expr'"),
    ({"expr": 5}, "expr", "must be a string"),
    (42, "expr", "got int"),
])
def test_errors_name_the_option(raw: Any, field: str, message: str) -> None:
    with pytest.raises(CriterionError, match=None) as info:
        parse_criterion(raw)
    assert info.value.field == field
    assert message in str(info.value)


def test_did_you_mean() -> None:
    assert did_you_mean("usres", ["users", "duration"]) == " (did you mean 'users'?)"
    assert did_you_mean("zzz", ["users"]) == ""
