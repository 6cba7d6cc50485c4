"""Failure reasons end to end: real Locust against a stand-in answering 5 % of its
requests with HTTP 500; the failing error-rate criterion names its top reasons in
verdict.json, summary.md, junit.xml and the step summary."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import junitparser
import pytest

from harness.engine import RunResult
from harness.load.spec import LoadStep
from harness.load.stage import STAGE
from harness.reporters import write_reports
from harness.status import Status
from harness.verdict import judge_run, judge_stage
from tests.load.conftest import step_context, target_for

pytestmark = pytest.mark.e2e


async def test_a_failing_error_rate_names_its_top_reasons(
    tmp_path: Path, stand_in: Any
) -> None:
    server = stand_in("--error-rate", "0.05")
    spec = LoadStep.model_validate({
        "name": "errors", "locustfile": "loadtests/inference.py",
        "user_classes": ["InferenceUser"], "users": 4, "spawn_rate": 4, "duration": "5s",
        "processes": 1, "stop_timeout": "1s", "criteria": ["error_rate < 1%"],
        "env": {"HARNESS_THINK_TIME_S": "0.01"},
    })
    ctx, _ = step_context(tmp_path, spec, target_for(server.url), deadline_s=60)
    async with asyncio.timeout(60):
        outcome = await STAGE.run(ctx)
    (error_rate,) = outcome.criteria
    assert error_rate.status is Status.FAIL
    reasons = dict(error_rate.reasons)
    assert set(reasons) <= {"HTTP 500", "bad /model-info answer: 500"} and reasons
    assert sum(reasons.values()) == outcome.metrics["overall"]["failures"]
    assert "failures: HTTP 500" in outcome.summary or "failures: bad" in outcome.summary

    report = tmp_path / "report"
    result = RunResult(
        run_id="r", suite="s", target={"kind": "external"}, started_at=outcome.started_at,
        finished_at=outcome.finished_at, verdict=judge_run([judge_stage("load", [outcome])]),
    )
    write_reports(result, report)
    (step,) = json.loads((report / "verdict.json").read_text())["steps"]
    listed = step["criteria"][0]["reasons"]
    assert {r["reason"]: r["count"] for r in listed} == reasons
    assert step["metrics"]["overall"]["reasons"] == listed
    top, count = error_rate.reasons[0]
    assert f"{top} ({count})" in (report / "summary.md").read_text()
    xml = junitparser.JUnitXml.fromfile(str(report / "junit.xml"))
    (case,) = [case for suite in xml for case in suite if not case.is_passed]
    (failure,) = case.result
    assert f"{top} ({count})" in failure.message
