"""The baseline side of the criteria language: a factor, an offset, or both (a relative
tolerance plus an absolute noise floor); what each makes of a baseline figure."""

from __future__ import annotations

import pytest

from harness.criteria import CriterionError, parse_criterion


@pytest.mark.parametrize(
    ("expr", "baseline_value", "threshold"),
    [
        ("p95 < baseline * 1.10", 200.0, 220.0),
        ("error_rate <= baseline + 0.1%", 0.002, 0.003),
        ("p95 < baseline * 1.10 + 20ms", 200.0, 240.0),
        ("p95<baseline*1.5+0.1s", 100.0, 250.0),
        ("rps >= baseline * 0.95 - 5", 100.0, 90.0),
        ("rps >= baseline - 5", 100.0, 95.0),
        ("p99{name=\"POST /predict\"} < baseline * 2 + 1ms for 5s", 10.0, 21.0),
    ],
)
def test_a_baseline_sets_the_threshold(expr: str, baseline_value: float, threshold: float) -> None:
    criterion = parse_criterion(expr)
    assert criterion.baseline is not None and not criterion.baseline.resolved
    assert criterion.baseline.threshold(baseline_value) == pytest.approx(threshold)


def test_median_of_last_keeps_the_offset() -> None:
    criterion = parse_criterion(
        {"expr": "p95 < baseline * 1.10 + 20ms", "baseline": {"median_of_last": 5}})
    assert criterion.baseline is not None
    assert criterion.baseline.source == "median_of_last" and criterion.baseline.count == 5
    assert criterion.baseline.threshold(100.0) == pytest.approx(130.0)
    assert "[baseline: median of the last 5 passing runs]" in criterion.name


@pytest.mark.parametrize(
    ("expr", "says"),
    [
        ("p95 < baseline", "write 'baseline * FACTOR'"),
        ("p95 < baseline * 1.10 + fast", "p95: baseline * 1.10 + fast"),
        ("p95 < baseline * lots + 5ms", "expected a factor"),
        ("cpu_utilisation < baseline * 1.1 + 1%", "has no baseline"),
    ],
)
def test_a_bad_baseline_is_named(expr: str, says: str) -> None:
    with pytest.raises(CriterionError, match=None) as info:
        parse_criterion(expr)
    assert says in str(info.value)
