"""The api stage's pure parts: results file, judging, curl masking, metric names,
Retry-After, the step model and the stage's checks (no network)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from pydantic import ValidationError

from harness.openapi.curl import curl_command, mask
from harness.openapi.judge import expected_checks, judge
from harness.openapi.metric_names import exposed_names, is_exposed
from harness.openapi.rate_limit import _retry_after_s, _too_slow
from harness.openapi.results import (
    CheckReport,
    Finding,
    Results,
    ResultsError,
    read_results,
    write_results,
)
from harness.openapi.spec import ApiStep, RateLimitOptions
from harness.openapi.stage import STAGE, openapi_location
from harness.status import Status

FINDING = Finding(
    "POST /models/register",
    "accepted a request that needs a write token with a read token",
    "curl -X POST -H 'Authorization: Bearer ***' http://127.0.0.1:1/models/register",
    201,
    '{"model_id": 3}',
)


def test_results_round_trip(tmp_path: Path) -> None:
    results = Results("registry", 13).with_check(CheckReport("auth", "fail", 30, "d", (FINDING,)))
    write_results(tmp_path / "r.json", results)
    assert read_results(tmp_path / "r.json") == results


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (None, "wrote no results"),
        ("{", "unreadable"),
        ('{"schema": "other"}', "not in the harness.api-results/1 form"),
        (
            '{"schema": "harness.api-results/1", "service": "r", "checks": [{"check": "x", '
            '"status": "pass"}]}',
            "not in the",
        ),
    ],
)
def test_bad_results_files_are_errors(tmp_path: Path, text: str | None, message: str) -> None:
    path = tmp_path / "r.json"
    if text is not None:
        path.write_text(text)
    with pytest.raises(ResultsError, match=message):
        read_results(path)


def test_judge_fail_carries_every_finding_with_its_request() -> None:
    step = ApiStep(name="a", fuzz=False, hostile=False)
    results = Results("registry").with_check(
        CheckReport("auth", "fail", 30, "30 requests", (FINDING,))
    )
    (criterion,) = judge(step, results)
    assert criterion.status is Status.FAIL
    assert criterion.name == "auth: auth matrix"
    assert "POST /models/register: accepted a request" in criterion.reason
    (mismatch,) = criterion.mismatches
    assert mismatch.path == "POST /models/register"
    assert mismatch.kind.startswith("request: curl -X POST")
    assert mismatch.actual.endswith('201 {"model_id": 3}')


def test_judge_a_check_never_reported_is_an_error() -> None:
    step = ApiStep(name="a", metrics={"names": ["up"]})
    results = Results("registry").with_check(CheckReport("server_errors", "pass", 5, "5 requests"))
    criteria = judge(step, results, "api driver did not finish within 9s (killed)")
    assert [c.status for c in criteria] == [Status.PASS] + [Status.ERROR] * 4
    assert all("killed" in c.reason for c in criteria[1:])


def test_judge_skipped_check_says_why() -> None:
    step = ApiStep(name="a", fuzz=False, hostile=False)
    results = Results("s").with_check(
        CheckReport("auth", "skipped", 0, "no operation needs a token")
    )
    (criterion,) = judge(step, results)
    assert criterion.status is Status.SKIPPED and "no operation" in criterion.reason


def test_expected_checks_follow_the_sections() -> None:
    assert expected_checks(ApiStep(name="a")) == ["server_errors", "schema", "auth", "hostile"]
    serving = ApiStep(
        name="b", fuzz={"checks": ["server_errors"]}, auth=False, hostile=False,
        rate_limit={"path": "/predict"}, metrics={"names": ["ml_predictions_total"]},
    )  # fmt: skip
    assert expected_checks(serving) == ["server_errors", "rate_limit", "metrics"]


def test_curl_masks_every_secret_and_cuts_long_bodies() -> None:
    command = curl_command(
        "post", "http://127.0.0.1:1/x?t=s3cret", {"Authorization": "Bearer s3cret",
        "User-Agent": "x"}, b"a" * 3000, ["s3cret"],
    )  # fmt: skip
    assert "s3cret" not in command
    assert "'Authorization: Bearer ***'" in command and "User-Agent" not in command
    assert "(3000 chars in all)" in command
    assert mask("ab abc", ["ab", "abc"]) == "*** ***"


EXPOSITION = """# HELP ml_predictions_total Prediction requests
# TYPE ml_predictions_total counter
ml_predictions_total{model="m",status="200"} 3.0
ml_prediction_latency_seconds_bucket{le="0.1"} 3.0
ml_prediction_latency_seconds_count 3.0
"""


def test_metric_names_match_on_name_boundaries() -> None:
    names = exposed_names(EXPOSITION)
    assert is_exposed("ml_predictions_total", names)
    assert is_exposed("ml_prediction_latency", names)
    assert not is_exposed("ml_prediction_lat", names)
    assert not is_exposed("ml_inference_requests_total", names)


@pytest.mark.parametrize(
    ("value", "seconds"),
    [("3", 3.0), ("0", 0.0), ("soon", None), ("-1", None), ("Wed, 21 Oct 2015 07:28:00 GMT", 0.0)],
)
def test_retry_after(value: str, seconds: float | None) -> None:
    assert _retry_after_s(value) == seconds


def test_a_burst_too_slow_to_exceed_the_limit_proves_nothing() -> None:
    options = RateLimitOptions(path="/predict", burst=150, limit_rps=50)
    assert "could not be exceeded" in _too_slow(options, 150, 2.5)  # 50 + 125 allowed
    assert _too_slow(options, 150, 1.0) == ""  # 100 allowed: some must be 429
    assert _too_slow(RateLimitOptions(path="/p"), 150, 9.0) == ""  # limit unknown


def test_step_model_round_trips_through_the_plan() -> None:
    step = ApiStep(
        name="a", request_timeout="2s", fuzz={"budget": "30s"},
        rate_limit={"path": "/predict", "json": {"features": [1]}, "recover_within": "3s"},
    )  # fmt: skip
    dumped = json.loads(json.dumps(step.model_dump(mode="json", by_alias=True)))
    assert ApiStep.model_validate(dumped) == step
    assert dumped["rate_limit"]["json"] == {"features": [1]}


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"metrics": {"names": ["bad name"]}}, "not a Prometheus metric name"),
        ({"request_timeout": 5}, "duration"),
        ({"rate_limit": {"path": "predict"}}, "pattern"),
        ({"auth": {"scopes": {"*": "root"}}}, "read"),
        ({"criteria": ["p95 < 1ms"]}, "judged check by check; it takes no criteria"),
        ({"fuzz": {"checks": ["nope"]}}, "'server_errors' or 'schema'"),
    ],
)
def test_step_model_refuses_bad_fields(fields: dict[str, object], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        ApiStep(name="a", **fields)


def test_a_section_set_to_false_is_off() -> None:
    step = ApiStep(name="a", fuzz=False, auth=False)
    assert step.fuzz is None and step.auth is None and step.hostile is not None
    assert expected_checks(step) == ["hostile"]


def test_stage_check_names_the_problems(tmp_path: Path) -> None:
    suite = tmp_path / "suite.yaml"
    step = ApiStep(name="a", openapi="specs/none.json")
    problems = [f"{p.field}: {p.message}" for p in STAGE.check(step, tmp_path, suite)]
    assert problems == ["a.openapi: no such file: specs/none.json"]
    off = ApiStep(name="b", fuzz=False, auth=False, hostile=False)
    assert [p.message for p in STAGE.check(off, tmp_path, suite)] == [
        "every check is off: nothing to judge"
    ]


def test_the_orchestrator_never_imports_the_driver_side() -> None:
    code = (
        "import sys, harness.stages, harness.cli, harness.openapi.stage; "
        "print(sorted(m for m in ('requests', 'schemathesis', 'hypothesis') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.stdout.strip() == "[]", out.stderr


def test_openapi_location(tmp_path: Path) -> None:
    base = "http://127.0.0.1:9"
    assert openapi_location(ApiStep(name="a"), base, tmp_path) == f"{base}/openapi.json"
    url = "http://127.0.0.1:8/doc.json"
    assert openapi_location(ApiStep(name="a", openapi=url), base, tmp_path) == url
    local = openapi_location(ApiStep(name="a", openapi="doc.json"), base, tmp_path)
    assert local == str(tmp_path / "doc.json")
