"""Results pushed to the real Pushgateway and read back through the real Prometheus."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from prometheus_client import generate_latest

from harness.prometheus.push import PushError, push_results, results_registry
from tests.prometheus_servers import PrometheusServers


def verdict_document(suite: str, run_id: str, p95_ms: float = 42.0) -> dict[str, Any]:
    """A verdict.json as the harness writes it (harness.verdict/1), three kinds of step."""
    return {
        "schema": "harness.verdict/1", "run_id": run_id, "suite": suite,
        "status": "fail", "started_at": "2026-12-01T09:00:00.000Z",
        "finished_at": "2026-12-01T09:01:30.500Z", "duration_s": 90.5,
        "steps": [
            {"name": "inference", "kind": "load", "stage": "chaos", "status": "pass",
             "criteria": [
                 {"name": "p95 < 100ms", "status": "pass", "observed": p95_ms,
                  "threshold": 100.0, "unit": "ms", "phase": None},
                 {"name": "recovery_time < 30s", "status": "pass", "observed": 2.5,
                  "threshold": 30.0, "unit": "s", "phase": None},
             ],
             "metrics": {
                 "duration_s": 20.0,
                 "overall": {"requests": 400, "failures": 2, "error_rate": 0.005,
                             "rps": 20.0, "p50_ms": 5.0, "p95_ms": p95_ms, "p99_ms": 80.0},
                 "phases": {"fault": {"requests": 100, "error_rate": 0.02, "rps": 20.0,
                                      "p50_ms": 6.0, "p95_ms": 90.0, "p99_ms": None}},
             }},
            {"name": "registry", "kind": "contract", "stage": "contracts", "status": "fail",
             "criteria": [{"name": "interaction: get a model", "status": "fail",
                           "observed": None, "threshold": None, "unit": "", "phase": None}],
             "metrics": {"interactions_expected": 7, "interactions_verified": 6,
                         "interactions_failed": 1}},
        ],
    }


def _value(servers: PrometheusServers, expr: str) -> float:
    result = servers.wait_for(expr)
    assert len(result) == 1, result
    return float(result[0]["value"][1])


def test_registry_has_only_real_figures() -> None:
    text = generate_latest(results_registry(verdict_document("s", "r1"))).decode()
    assert 'harness_run_status{run_id="r1",status="fail",suite="s"} 1.0' in text
    assert 'harness_run_status{run_id="r1",status="pass",suite="s"} 0.0' in text
    assert 'phase="fault",quantile="0.95",run_id="r1"' in text
    assert 'phase="fault",quantile="0.99"' not in text  # p99 unknown: no series, not 0
    assert "harness_run_finished_timestamp_seconds" in text
    assert 'criterion="interaction: get a model"' in text


@pytest.mark.prometheus
@pytest.mark.timeout(60)
def test_pushed_results_are_queryable_through_prometheus(prometheus: PrometheusServers) -> None:
    suite = f"push-{uuid.uuid4().hex[:8]}"
    push_results(verdict_document(suite, "run-1"), prometheus.pushgateway_url)
    on = f'suite="{suite}",run_id="run-1"'
    assert _value(prometheus, f'harness_run_status{{{on},status="fail"}}') == 1.0
    p95 = _value(
        prometheus,
        f'harness_load_latency_seconds{{{on},step="inference",phase="all",quantile="0.95"}}',
    )
    assert p95 == pytest.approx(0.042)
    assert _value(prometheus, f'harness_load_error_ratio{{{on},phase="fault"}}') == 0.02
    assert _value(prometheus, f'harness_recovery_seconds{{{on}}}') == 2.5
    assert _value(prometheus, f'harness_contract_interactions{{{on},result="failed"}}') == 1.0
    assert _value(prometheus, f'harness_run_duration_seconds{{{on}}}') == 90.5
    status = prometheus.wait_for(f'harness_step_status{{{on},step="registry"}} == 1')
    assert status[0]["metric"]["status"] == "fail"
    assert status[0]["metric"]["job"] == "harness"  # honor_labels keeps the push's job


@pytest.mark.prometheus
@pytest.mark.timeout(60)
def test_the_next_run_of_a_suite_replaces_the_last(prometheus: PrometheusServers) -> None:
    suite = f"push-{uuid.uuid4().hex[:8]}"
    push_results(verdict_document(suite, "run-1", p95_ms=42.0), prometheus.pushgateway_url)
    prometheus.wait_for(f'harness_run_status{{suite="{suite}",run_id="run-1"}}')
    push_results(verdict_document(suite, "run-2", p95_ms=55.0), prometheus.pushgateway_url)
    prometheus.wait_for(f'harness_run_status{{suite="{suite}",run_id="run-2"}}')
    latest = prometheus.wait_for(
        f'count by (run_id) (harness_run_status{{suite="{suite}"}}) '
        f'unless count by (run_id) (harness_run_status{{suite="{suite}",run_id="run-1"}})'
    )
    assert [r["metric"]["run_id"] for r in latest] == ["run-2"]
    # the old run's series went stale when the group was replaced
    prometheus.wait_for(f'absent(harness_run_status{{suite="{suite}",run_id="run-1"}})')


def test_a_push_that_fails_names_the_gateway() -> None:
    with pytest.raises(PushError, match=r"Pushgateway at http://127\.0\.0\.1:9 failed"):
        push_results(verdict_document("s", "r"), "http://127.0.0.1:9", timeout_s=2)
