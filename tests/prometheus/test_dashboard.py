"""deploy/grafana/harness.json: every panel's query is PromQL the real Prometheus accepts,
and the harness panels find the series a results push creates."""

from __future__ import annotations

import json
import re
import uuid
from pathlib import Path
from typing import Any

import pytest

from harness.prometheus.client import PrometheusClient
from harness.prometheus.push import push_results
from tests.prometheus.test_push import verdict_document
from tests.prometheus_servers import PrometheusServers

ROOT = Path(__file__).resolve().parents[2]
DASHBOARD = ROOT / "deploy" / "grafana" / "harness.json"
# Grafana's own variables and the dashboard's, as Grafana would substitute them
VARIABLES = {"$__rate_interval": "1m", "$suite": ".*", "$registry_job": "registry"}


def dashboard() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(DASHBOARD.read_text())
    return data


def panel_queries() -> list[tuple[str, str]]:
    """(panel title, expression with the variables substituted) for every target."""
    found = []
    for panel in dashboard()["panels"]:
        assert panel["targets"], f"panel {panel['title']!r} has no query"
        for target in panel["targets"]:
            expr = target["expr"]
            for name, value in VARIABLES.items():
                expr = expr.replace(name, value)
            assert "$" not in expr, f"{panel['title']!r}: unknown variable in {expr!r}"
            found.append((panel["title"], expr))
    return found


def test_the_dashboard_is_importable_json() -> None:
    data = dashboard()
    assert data["uid"] and data["title"] and data["schemaVersion"] >= 36
    ids = [panel["id"] for panel in data["panels"]]
    assert len(ids) == len(set(ids))
    for panel in data["panels"]:
        assert panel["datasource"] == {"type": "prometheus", "uid": "${datasource}"}
    names = {variable["name"] for variable in data["templating"]["list"]}
    assert {"datasource", "suite", "registry_job"} <= names


@pytest.mark.prometheus
@pytest.mark.timeout(60)
async def test_every_panel_query_parses_in_prometheus(prometheus: PrometheusServers) -> None:
    client = PrometheusClient(prometheus.prometheus_url)
    for _, expr in panel_queries():
        await client.query(expr)  # raises PrometheusError (bad_data: parse error ...)


@pytest.mark.prometheus
@pytest.mark.timeout(60)
def test_harness_panels_find_pushed_results(prometheus: PrometheusServers) -> None:
    suite = f"dash-{uuid.uuid4().hex[:8]}"
    push_results(verdict_document(suite, "run-1"), prometheus.pushgateway_url)
    prometheus.wait_for(f'harness_run_status{{suite="{suite}"}}')
    for title, expr in panel_queries():
        if re.search(r"\bharness_", expr):
            assert prometheus.query(expr.replace('=~".*"', f'="{suite}"')), title
