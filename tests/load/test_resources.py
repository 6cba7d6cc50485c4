"""CPU of the target: psutil for local processes, PromQL for remote ones."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from harness.load.resources import (
    CpuSampler,
    ResourceError,
    manifest_pids,
    query_prometheus_cpu,
)
from tests.prometheus_servers import PrometheusServers


def test_sampler_sees_a_busy_child_of_a_manifest_process(tmp_path: Path) -> None:
    parent = subprocess.Popen(
        [sys.executable, "-c",
         "import subprocess, sys; subprocess.run([sys.executable, '-c', "
         "'import time\\nend = time.time() + 3\\nwhile time.time() < end: pass'])"]
    )
    try:
        manifest = tmp_path / "manifest.json"
        manifest.write_text(json.dumps(
            {"services": {"serving": {"url": "x", "pid": parent.pid}}, "pods": []}
        ))
        sampler = CpuSampler(manifest_pids(manifest))
        time.sleep(0.3)
        for _ in range(4):
            sampler.sample()
            time.sleep(0.25)
        busy = [s.fraction for s in sampler.samples]
        # one core spinning = 1 / cores of the machine
        assert max(busy) > 0.5 / sampler.cores and max(busy) <= 1.05
    finally:
        parent.kill()
        parent.wait()


def test_manifest_pids_refuses_an_unreadable_manifest(tmp_path: Path) -> None:
    with pytest.raises(ResourceError):
        manifest_pids(tmp_path / "missing.json")


CPU_QUERY = 'sum(rate(process_cpu_seconds_total{job="prometheus"}[5s]))'


@pytest.mark.prometheus
async def test_promql_cpu_from_the_real_prometheus(prometheus: PrometheusServers) -> None:
    """Prometheus's own CPU (it scrapes itself every second): a small positive fraction."""
    prometheus.wait_for('count_over_time(process_cpu_seconds_total{job="prometheus"}[10s]) >= 9')
    end = time.time()
    async with asyncio.timeout(20):
        samples = await query_prometheus_cpu(prometheus.prometheus_url, CPU_QUERY, end - 4, end)
    assert len(samples) >= 4
    assert [s.at for s in samples] == sorted(s.at for s in samples)
    assert all(0.0 <= s.fraction < 2.0 for s in samples)
    assert any(s.fraction > 0.0 for s in samples)


@pytest.mark.prometheus
@pytest.mark.parametrize(
    ("query", "words"),
    [
        ("sum(rate(process_cpu_seconds_total[5s])", "parse error"),
        ('sum(rate(no_such_cpu_metric{job="x"}[5s]))', "empty result"),
        ("vector(0) / vector(0)", "not a utilisation"),
    ],
)
async def test_promql_cpu_refuses_what_it_cannot_judge(
    prometheus: PrometheusServers, query: str, words: str
) -> None:
    end = time.time()
    async with asyncio.timeout(20):
        with pytest.raises(ResourceError, match=words) as caught:
            await query_prometheus_cpu(prometheus.prometheus_url, query, end - 3, end)
    assert query in str(caught.value)


async def test_promql_unreachable_is_a_resource_error() -> None:
    async with asyncio.timeout(10):
        with pytest.raises(ResourceError, match="unreachable"):
            await query_prometheus_cpu("http://127.0.0.1:9", "cpu", 0.0, 1.0, timeout_s=2)
