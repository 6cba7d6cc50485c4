"""End to end: the real Prometheus scrapes the real testbed (serving, registry); `harness run`
judges a suite with PromQL criteria against it, PASS while healthy and FAIL under the serving
error fault (switched through serving's admin API: the same switch as `python -m testbed up
--fault errors:rate=...`), and pushes its results to the real Pushgateway, read back through
Prometheus. Short windows, a 1 s scrape interval."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from tests.prometheus_servers import PrometheusServers

pytestmark = [pytest.mark.e2e, pytest.mark.prometheus]

ROOT = Path(__file__).resolve().parents[2]
PYTHON = sys.executable
ERRORS = 'sum(rate(ml_predictions_total{status!="200"}[5s]))'


def _testbed(action: str, manifest: Path, *more: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [PYTHON, "-m", "testbed", action, "--manifest", str(manifest), *more],
        cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)}, capture_output=True, text=True,
        timeout=120, check=False,
    )


@pytest.fixture(scope="module")
def scraped_testbed(
    tmp_path_factory: pytest.TempPathFactory, prometheus: PrometheusServers
) -> Iterator[dict[str, Any]]:
    """The real testbed, its serving and registry scraped by the session's Prometheus."""
    state = tmp_path_factory.mktemp("testbed")
    manifest = state / "manifest.json"
    up = _testbed("up", manifest, "--state-dir", str(state))
    try:
        assert up.returncode == 0, up.stderr[-2000:]
        data = json.loads(manifest.read_text())
        services = data["services"]
        prometheus.scrape("serving", [services["serving"]["url"]])
        prometheus.scrape("registry", [services["registry"]["url"]])
        prometheus.wait_scraped("serving", [services["serving"]["url"]])
        prometheus.wait_scraped("registry", [services["registry"]["url"]])
        yield data
    finally:
        prometheus.scrape("serving", [])
        prometheus.scrape("registry", [])
        _testbed("down", manifest)


def _suite(tmp_path: Path, testbed: dict[str, Any], prometheus_url: str) -> Path:
    services = testbed["services"]
    suite = {
        "name": f"promql-{uuid.uuid4().hex[:8]}",
        "target": {"kind": "external", "external": {
            "registry_url": services["registry"]["url"],
            "serving_url": services["serving"]["url"],
            "orchestrator_url": services["orchestrator"]["url"],
            "prometheus_url": prometheus_url,
        }},
        "stages": [{"name": "inference", "steps": [{
            "name": "inference", "kind": "load",
            "locustfile": str(ROOT / "loadtests" / "inference.py"),
            "user_classes": ["InferenceUser"], "users": 4, "spawn_rate": 4, "duration": "8s",
            "processes": 1, "stop_timeout": "1s", "timeout": "90s",
            "env": {"HARNESS_THINK_TIME_S": "0.05,0.1"},
            "criteria": [
                {"promql": ERRORS, "<": 1, "name": "serving errors/s < 1"},
                {"promql": 'min(up{job=~"serving|registry"})', "==": 1, "over": "window"},
                'promql(sum(rate(ml_predictions_total{status="200"}[5s]))) > 5',
            ],
        }]}],
    }
    (tmp_path / "suites").mkdir(exist_ok=True)
    path = tmp_path / "suites" / "promql.yaml"
    path.write_text(yaml.safe_dump(suite, sort_keys=False))
    return path


def _run(suite: Path, report_dir: Path, pushgateway_url: str) -> tuple[int, dict[str, Any]]:
    env = {**os.environ, "HARNESS_PUSHGATEWAY_URL": pushgateway_url, "PACT_DO_NOT_TRACK": "true"}
    done = subprocess.run(
        [str(Path(PYTHON).with_name("harness")), "run", str(suite), "--report-dir",
         str(report_dir)],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=180, check=False,
    )
    verdict_path = report_dir / "verdict.json"
    assert verdict_path.exists(), done.stdout[-3000:] + done.stderr[-3000:]
    return done.returncode, json.loads(verdict_path.read_text())


def _rows(verdict: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {row["name"]: row for row in verdict["steps"][0]["criteria"]}


def test_series_exist_from_the_first_scrape(
    scraped_testbed: dict[str, Any], prometheus: PrometheusServers
) -> None:
    """Before any prediction: every known status of ml_predictions_total is there at 0."""
    serving = scraped_testbed["services"]["serving"]["url"].split("//")[1]
    found = prometheus.wait_for(f'ml_predictions_total{{instance="{serving}"}}')
    statuses = {row["metric"]["status"]: float(row["value"][1]) for row in found}
    assert {"200", "500", "503", "429", "422"} <= set(statuses)
    assert statuses["500"] == 0.0
    assert prometheus.wait_for('http_requests_total{job="registry",status="500"}')


def test_dashboard_testbed_panels_find_the_scraped_series(
    scraped_testbed: dict[str, Any], prometheus: PrometheusServers
) -> None:
    from tests.prometheus.test_dashboard import panel_queries

    testbed_panels = [(t, e) for t, e in panel_queries() if "harness_" not in e]
    assert len(testbed_panels) >= 4
    for title, expr in testbed_panels:
        assert prometheus.wait_for(expr), title


def test_promql_suite_passes_healthy_fails_faulted_and_pushes(
    tmp_path: Path, scraped_testbed: dict[str, Any], prometheus: PrometheusServers
) -> None:
    suite = _suite(tmp_path, scraped_testbed, prometheus.prometheus_url)
    code, verdict = _run(suite, tmp_path / "healthy", prometheus.pushgateway_url)
    rows = _rows(verdict)
    assert (code, verdict["status"]) == (0, "pass"), rows
    assert rows["serving errors/s < 1"]["observed"] == 0.0
    assert "instant query" in rows["serving errors/s < 1"]["reason"]
    window = next(r for n, r in rows.items() if "[over window]" in n)
    assert window["status"] == "pass" and "range query" in window["reason"]
    name = verdict["suite"]
    on = f'suite="{name}",run_id="{verdict["run_id"]}"'
    assert prometheus.wait_for(f'harness_run_status{{{on},status="pass"}} == 1')
    assert prometheus.wait_for(f'harness_load_latency_seconds{{{on},quantile="0.95"}} > 0')

    serving = scraped_testbed["services"]["serving"]["url"]
    admin = {"Authorization": f"Bearer {scraped_testbed['tokens']['admin']}"}
    put = httpx.put(
        serving + "/admin/faults", json={"faults": ["errors:rate=0.5"]}, headers=admin, timeout=10
    )
    assert put.status_code == 200, put.text
    try:
        code, verdict = _run(suite, tmp_path / "faulted", prometheus.pushgateway_url)
    finally:
        httpx.delete(serving + "/admin/faults", headers=admin, timeout=10)
    rows = _rows(verdict)
    assert (code, verdict["status"]) == (1, "fail"), rows
    errors = rows["serving errors/s < 1"]
    assert errors["status"] == "fail" and errors["observed"] > 1, errors
    assert "breached by {}=" in errors["reason"]
    on = f'suite="{name}",run_id="{verdict["run_id"]}"'
    assert prometheus.wait_for(f'harness_run_status{{{on},status="fail"}} == 1')
    failed = prometheus.wait_for(
        f'harness_criterion_status{{{on},criterion="serving errors/s < 1",status="fail"}} == 1'
    )
    assert failed[0]["metric"]["step"] == "inference"
