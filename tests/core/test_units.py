"""Units in suite files: durations, latencies, rates (table tests)."""

from __future__ import annotations

import pytest

from harness.units import parse_duration_s, parse_latency_ms, parse_rate


@pytest.mark.parametrize(("text", "seconds"), [
    ("10m", 600.0), ("90s", 90.0), ("250ms", 0.25), ("1h", 3600.0), (" 1.5s ", 1.5), (".5s", 0.5),
])
def test_durations(text: str, seconds: float) -> None:
    assert parse_duration_s(text) == pytest.approx(seconds)


@pytest.mark.parametrize("bad", ["10", 10, 1.5, True, "10 minutes", "-1s", "s", "", "1d", None])
def test_bad_durations_are_refused_with_a_message(bad: object) -> None:
    with pytest.raises(ValueError, match="duration"):
        parse_duration_s(bad)  # type: ignore[arg-type]


@pytest.mark.parametrize(("text", "ms"), [
    ("100ms", 100.0), ("1.5s", 1500.0), ("250us", 0.25), ("250µs", 0.25),
])
def test_latencies(text: str, ms: float) -> None:
    assert parse_latency_ms(text) == pytest.approx(ms)


@pytest.mark.parametrize("bad", ["100", 100, "100 m", "1h", "fast"])
def test_bad_latencies(bad: object) -> None:
    with pytest.raises(ValueError, match="latency"):
        parse_latency_ms(bad)  # type: ignore[arg-type]


@pytest.mark.parametrize(("text", "fraction"), [
    ("0.1%", 0.001), ("5%", 0.05), ("100%", 1.0), ("0.05", 0.05), (0, 0.0), (1, 1.0), (0.2, 0.2),
])
def test_rates(text: object, fraction: float) -> None:
    assert parse_rate(text) == pytest.approx(fraction)  # type: ignore[arg-type]


@pytest.mark.parametrize("bad", ["101%", "2", 1.5, -0.1, True, "five", "5 percent"])
def test_bad_rates(bad: object) -> None:
    with pytest.raises(ValueError, match="rate"):
        parse_rate(bad)  # type: ignore[arg-type]
