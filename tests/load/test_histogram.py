"""HDR recording, encoding and merging: exact to three significant digits."""

from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from harness.load import histogram
from harness.load.tally import Tally
from tests.load.conftest import interval


def exact_percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    rank = max(int(q / 100.0 * len(ordered) + 0.5), 1)
    return ordered[rank - 1]


@pytest.mark.parametrize(
    ("values", "q"),
    [
        ([0.25, 0.5, 0.75, 1.0], 50.0),  # sub-millisecond values stay distinct
        ([float(v) for v in range(1, 1001)], 95.0),
        ([float(v) for v in range(1, 1001)], 99.9),
        ([3.0] * 99 + [2500.0], 99.0),
        ([3.0] * 99 + [2500.0], 100.0),
    ],
)
def test_percentiles_are_within_a_tenth_of_a_percent(values: list[float], q: float) -> None:
    hist = histogram.new_histogram()
    for value in values:
        histogram.record_ms(hist, value)
    got = histogram.percentiles_ms(hist, [q])[q]
    assert got == pytest.approx(exact_percentile(values, q), rel=1e-3)


def test_merging_encoded_histograms_equals_recording_everything_in_one() -> None:
    rng = random.Random(7)
    parts = [[rng.lognormvariate(1.5, 0.8) for _ in range(500)] for _ in range(4)]
    encoded = []
    for part in parts:
        hist = histogram.new_histogram()
        for value in part:
            histogram.record_ms(hist, value)
        encoded.append(histogram.encode(hist))
    merged = histogram.merge(encoded)
    every = [v for part in parts for v in part]
    assert merged.get_total_count() == len(every)
    for q in (50.0, 90.0, 99.0, 99.9):
        assert histogram.percentiles_ms(merged, [q])[q] == pytest.approx(
            exact_percentile(every, q), rel=1e-3
        )


@pytest.mark.parametrize(
    ("values", "threshold_ms", "above"),
    [([1, 2, 3, 200, 300], 100.0, 2), ([1, 2, 3], 100.0, 0), ([150.0] * 5, 149.0, 5)],
)
def test_count_above(values: list[float], threshold_ms: float, above: int) -> None:
    hist = histogram.new_histogram()
    for value in values:
        histogram.record_ms(hist, value)
    assert histogram.count_above_ms(hist, threshold_ms) == above


def test_garbage_is_refused() -> None:
    with pytest.raises(ValueError):
        histogram.decode("not a histogram")


def test_tally_selects_by_method_and_name_or_by_name_and_keeps_pipelines_apart() -> None:
    tally = Tally(
        [
            interval(1, {"POST /predict": ([10.0] * 9, 1), "GET /predict": ([50.0], 0)}),
            interval(2, {"GET /model-info": ([5.0] * 10, 0), "PIPELINE run": ([9000.0] * 4, 1)}),
        ]
    )
    assert tally.requests == 20
    assert tally.value("requests", {"name": "POST /predict"}, 2.0) == 9
    assert tally.value("requests", {"name": "/predict"}, 2.0) == 10  # both methods
    assert tally.value("error_rate", {}, 2.0) == pytest.approx(1 / 20)
    assert tally.value("rps", {}, 2.0) == pytest.approx(10.0)
    assert tally.value("completion_rate", {}, 2.0) == pytest.approx(3 / 4)
    assert tally.value("pipeline_p95", {}, 2.0) == pytest.approx(9.0, rel=1e-3)
    assert tally.value("max", {}, 2.0) == pytest.approx(50.0, rel=1e-3)
    with pytest.raises(ValueError, match="no requests named"):
        tally.value("p95", {"name": "/nope"}, 2.0)


def test_histograms_are_freed_without_waiting_for_the_cyclic_gc() -> None:
    import gc
    import weakref

    gc.disable()
    try:
        made = histogram.new_histogram()
        histogram.record_ms(made, 3.0)
        decoded = histogram.decode(histogram.encode(made))
        refs = [weakref.ref(made), weakref.ref(decoded)]
        assert histogram.percentiles_ms(decoded, [50.0])[50.0] == pytest.approx(3.0, rel=1e-3)
        del made, decoded
        assert [r() for r in refs] == [None, None]
    finally:
        gc.enable()


def test_reading_figures_leaves_no_cycle_behind() -> None:
    import gc
    import weakref

    gc.disable()
    try:
        made = histogram.new_histogram()
        for value in (1.0, 2.0, 3.0, 400.0):
            histogram.record_ms(made, value)
        assert histogram.mean_ms(made) == pytest.approx(101.5, rel=1e-3)
        assert histogram.count_above_ms(made, 100.0) == 1
        histogram.max_ms(made)
        histogram.min_ms(made)
        histogram.percentiles_ms(made, [50.0, 99.0])
        ref = weakref.ref(made)
        del made
        assert ref() is None
    finally:
        gc.enable()


def test_recording_many_at_once_gives_the_same_counts_as_one_by_one() -> None:
    rng = random.Random(3)
    values = [0.0004, 0.001, 0.0015, 1.0, 2.047, 2.048, 2.049, 1e6, 3.6e6, 5e6]
    values += [rng.lognormvariate(1.0, 2.0) for _ in range(5000)]
    one_by_one, at_once = histogram.new_histogram(), histogram.new_histogram()
    for value in values:
        histogram.record_ms(one_by_one, value)
    histogram.record_many_ms(at_once, values)
    assert list(at_once.counts) == list(one_by_one.counts)
    assert at_once.get_total_count() == one_by_one.get_total_count() == len(values)
    assert at_once.get_min_value() == one_by_one.get_min_value()
    assert at_once.get_max_value() == one_by_one.get_max_value()
    assert histogram.encode(at_once) == histogram.encode(one_by_one)


@settings(max_examples=40, deadline=None)
@given(st.lists(st.floats(0.001, 60_000.0), min_size=1, max_size=400))
def test_numpy_percentiles_mean_and_count_above_equal_hdrh_walking_its_counts(
    values: list[float],
) -> None:
    hist = histogram.new_histogram()
    histogram.record_many_ms(hist, values)
    qs = [0.0, 1.0, 50.0, 90.0, 95.0, 99.0, 99.9, 100.0]
    assert histogram.percentiles_ms(hist, qs) == {
        q: v / 1000.0 for q, v in hist.get_percentile_to_value_dict(qs).items()
    }
    walked = [(int(i.value_iterated_to), int(i.count_at_value_iterated_to))
              for i in hist.get_recorded_iterator()]
    lowest = [(hist.get_lowest_equivalent_value(v), c) for v, c in walked]
    mean = histogram.mean_ms(hist)
    assert mean == pytest.approx(sum(v * c for v, c in lowest) / len(values) / 1000.0)
    threshold_ms = sorted(values)[len(values) // 2]
    assert histogram.count_above_ms(hist, threshold_ms) == sum(
        c for v, c in lowest if v > threshold_ms * 1000.0
    )
