"""The --fault spec syntax and the fault-state file (pure functions, table tests)."""

from __future__ import annotations

import json
import math
import time
from pathlib import Path

import pytest

from testbed.faults import (
    CrossedAnswersFault,
    ErrorFault,
    FaultSpecError,
    FaultState,
    FragileFault,
    LatencyFault,
    MetricRenamedFault,
    NoRateLimitFault,
    RegistryFault,
    StallFault,
    WrongAnswersFault,
    build_fault_state,
    clear_fault_state,
    parse_fault_spec,
    parse_fault_specs,
    read_fault_state,
    write_fault_state,
)


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ("latency:dist=fixed,ms=150", LatencyFault(dist="fixed", ms=150)),
        ("latency:ms=20", LatencyFault(dist="fixed", ms=20)),
        (
            "latency:dist=uniform,min_ms=50,max_ms=150",
            LatencyFault(dist="uniform", min_ms=50, max_ms=150),
        ),
        (
            "latency:dist=lognormal,p50_ms=20,p99_ms=200",
            LatencyFault(dist="lognormal", p50_ms=20, p99_ms=200),
        ),
        ("errors:rate=0.05", ErrorFault(rate=0.05, status=500)),
        ("errors:rate=0.5,status=503", ErrorFault(rate=0.5, status=503)),
        ("stall:seconds=5", StallFault(seconds=5)),
        ("fragile", FragileFault()),
        ("registry-rename-field", RegistryFault(name="registry-rename-field")),
        ("db-down", RegistryFault(name="db-down")),
        ("no-rate-limit", NoRateLimitFault()),
        ("metric-renamed", MetricRenamedFault()),
        ("registry-auth-bypass", RegistryFault(name="registry-auth-bypass")),
        ("registry-bad-id-500", RegistryFault(name="registry-bad-id-500")),
        (" errors : rate = 0.1 ", ErrorFault(rate=0.1)),
        ("wrong-answers", WrongAnswersFault(rate=1.0)),
        ("wrong-answers:rate=0.25", WrongAnswersFault(rate=0.25)),
        ("crossed-answers", CrossedAnswersFault()),
    ],
)
def test_parses_valid_specs(spec: str, expected: object) -> None:
    assert parse_fault_spec(spec) == expected


@pytest.mark.parametrize(
    ("spec", "names"),
    [
        ("bogus", "unknown fault name 'bogus'"),
        ("latency:dist=gamma,ms=1", "unknown latency dist 'gamma'"),
        ("latency:dist=fixed", "missing parameter 'ms'"),
        ("latency:dist=fixed,ms=abc", "ms='abc' is not a number"),
        ("latency:dist=fixed,ms=-5", "ms=-5 must be >= 0"),
        ("latency:dist=fixed,ms=5,jitter=2", "unknown parameter 'jitter'"),
        ("latency:dist=uniform,min_ms=90,max_ms=10", "max_ms=10 is below min_ms=90"),
        ("latency:dist=lognormal,p50_ms=200,p99_ms=20", "0 < p50_ms < p99_ms"),
        ("errors:rate=1.5", "rate=1.5 must lie in [0, 1]"),
        ("errors:rate=0.1,status=200", "status=200 must be a 4xx or 5xx"),
        ("errors:rate=0.1,status=5xx", "status='5xx' is not an integer"),
        ("stall:seconds=0", "seconds must be > 0"),
        ("fragile:x=1", "unknown parameter 'x'"),
        ("wrong-answers:rate=2", "rate=2 must lie in [0, 1]"),
        ("crossed-answers:n=1", "unknown parameter 'n'"),
        ("db-down:x=1", "unknown parameter 'x'"),
        ("errors:rate", "'rate' is not key=value"),
        ("errors:rate=0.1,,status=500", "empty parameter"),
        ("errors:rate=0.1,rate=0.2", "'rate' given twice"),
        ("latency:ms=nan", "must be >= 0"),
    ],
)
def test_refuses_bad_specs_naming_the_bad_part(spec: str, names: str) -> None:
    with pytest.raises(FaultSpecError) as caught:
        parse_fault_spec(spec)
    assert names in str(caught.value)
    assert repr(spec) in str(caught.value)


def test_refuses_the_same_fault_twice() -> None:
    with pytest.raises(FaultSpecError, match="'latency' given more than once"):
        parse_fault_specs(["latency:ms=1", "latency:ms=2"])


@pytest.mark.parametrize(
    "spec",
    [
        "latency:dist=fixed,ms=150",
        "latency:dist=uniform,min_ms=50,max_ms=150.5",
        "latency:dist=lognormal,p50_ms=20,p99_ms=200",
        "errors:rate=0.05,status=500",
        "stall:seconds=2.5",
        "fragile",
    ],
)
def test_canonical_spec_round_trips(spec: str) -> None:
    assert parse_fault_spec(spec).to_spec() == spec


def test_lognormal_quantiles_match_the_asked_percentiles() -> None:
    fault = LatencyFault(dist="lognormal", p50_ms=20, p99_ms=200)
    assert math.isclose(fault.delay_ms(0.5), 20, rel_tol=1e-9)
    assert math.isclose(fault.delay_ms(0.99), 200, rel_tol=1e-6)
    uniform = LatencyFault(dist="uniform", min_ms=50, max_ms=150)
    assert uniform.delay_ms(0.0) == 50 and uniform.delay_ms(0.5) == 100


def test_state_file_round_trips_and_missing_means_no_faults(tmp_path: Path) -> None:
    path = tmp_path / "faults.json"
    assert read_fault_state(path) == FaultState()
    state = build_fault_state(["errors:rate=0.25", "stall:seconds=3"], 40.0, set_at=1000.0)
    write_fault_state(path, state)
    assert read_fault_state(path) == state
    assert state.stall_until() == 1003.0
    assert [p.name for p in tmp_path.iterdir()] == ["faults.json"]  # no temp file left
    clear_fault_state(path)
    cleared = read_fault_state(path)
    assert cleared.faults == () and cleared.rate_limit_rps is None
    assert cleared.set_at == pytest.approx(time.time(), abs=5)


@pytest.mark.parametrize(
    ("content", "names"),
    [
        ("{not json", ":1: not valid JSON"),
        ('{"faults": "errors"}', "'faults' must be a list"),
        ('{"faults": ["nope"]}', "unknown fault name 'nope'"),
        ('{"faults": [], "extra": 1}', "unknown field 'extra'"),
        ('{"faults": ["db-down"]}', "registry fault"),
        ('{"faults": [], "rate_limit_rps": -1}', "must be a positive number"),
    ],
)
def test_bad_state_files_are_refused_with_the_file_named(
    tmp_path: Path, content: str, names: str
) -> None:
    path = tmp_path / "faults.json"
    path.write_text(content)
    with pytest.raises(FaultSpecError) as caught:
        read_fault_state(path)
    assert names in str(caught.value)


def test_state_json_is_what_the_admin_endpoint_takes() -> None:
    state = build_fault_state(["latency:ms=5"], None, set_at=1.0)
    assert json.loads(json.dumps(state.to_json()))["faults"] == ["latency:dist=fixed,ms=5"]
