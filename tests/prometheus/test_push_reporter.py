"""write_reports pushes the verdict to the Pushgateway named by HARNESS_PUSHGATEWAY_URL; a
push that fails makes the run ERROR, naming the gateway, and verdict.json says so."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest

from harness.outcome import CriterionResult, StepOutcome
from harness.reporters import write_reports
from harness.status import Status
from harness.verdict import RunResult, judge_run, judge_stage
from tests.prometheus_servers import PrometheusServers


def passing(suite: str) -> RunResult:
    load = StepOutcome(
        name="inference", kind="load", status=Status.PASS, summary="ok",
        criteria=(CriterionResult("p95 < 100ms", Status.PASS, observed=80.0, unit="ms"),),
        metrics={"overall": {"requests": 10, "rps": 5.0, "error_rate": 0.0, "p50_ms": 3.0,
                             "p95_ms": 80.0, "p99_ms": 90.0}},
    )
    return RunResult(run_id="r-1", suite=suite, target={"kind": "local"}, started_at=100.0,
                     finished_at=101.0, verdict=judge_run([judge_stage("s", [load])]))


@pytest.mark.prometheus
@pytest.mark.timeout(60)
def test_results_are_pushed_when_a_pushgateway_is_named(
    tmp_path: Path, prometheus: PrometheusServers, monkeypatch: pytest.MonkeyPatch
) -> None:
    suite = f"reporter-{uuid.uuid4().hex[:8]}"
    monkeypatch.setenv("HARNESS_PUSHGATEWAY_URL", prometheus.pushgateway_url)
    reported = write_reports(passing(suite), tmp_path)
    assert reported.exit_code == 0
    p95 = prometheus.wait_for(
        f'harness_load_latency_seconds{{suite="{suite}",run_id="r-1",quantile="0.95"}}'
    )
    assert float(p95[0]["value"][1]) == pytest.approx(0.08)


def test_a_failed_push_makes_the_run_error_naming_the_gateway(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HARNESS_PUSHGATEWAY_URL", "http://127.0.0.1:9")
    reported = write_reports(passing("s"), tmp_path)
    assert reported.exit_code == 2
    verdict = json.loads((tmp_path / "verdict.json").read_text())
    assert verdict["status"] == "error"
    assert "Pushgateway at http://127.0.0.1:9 failed" in verdict["reason"]
    assert "HARNESS_PUSHGATEWAY_URL" in verdict["reason"]
    assert "the run itself: pass" in verdict["reason"]


def test_nothing_is_pushed_without_a_pushgateway(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("HARNESS_PUSHGATEWAY_URL", raising=False)
    assert write_reports(passing("s"), tmp_path).exit_code == 0
