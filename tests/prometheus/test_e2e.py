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
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

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
