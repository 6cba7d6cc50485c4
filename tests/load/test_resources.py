"""CPU of the target: psutil for local processes, PromQL for remote ones."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
from itertools import pairwise
from pathlib import Path

import psutil
import pytest

from harness.load.resources import (
    CpuSampler,
    ResourceError,
    manifest_pids,
    query_prometheus_cpu,
)
from tests.prometheus_servers import PrometheusServers


def _spinning_child(parent: psutil.Process, timeout_s: float = 10.0) -> psutil.Process:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if children := parent.children():
            return children[0]
        time.sleep(0.02)
    raise AssertionError("the manifest process started no child")


def _cpu_s(*processes: psutil.Process) -> float:
    """CPU seconds the processes used so far, each read from /proc/<pid>/stat (utime+stime)."""
    total = 0
    for process in processes:
        fields = Path(f"/proc/{process.pid}/stat").read_text().rsplit(")", 1)[1].split()
        total += int(fields[11]) + int(fields[12])
    return total / os.sysconf("SC_CLK_TCK")


def _bracketed_sample(sampler: CpuSampler, *processes: psutil.Process) -> tuple[float, float]:
    before = _cpu_s(*processes)
    sampler.sample()
    return before, _cpu_s(*processes)


def test_sampler_sees_a_busy_child_of_a_manifest_process(tmp_path: Path) -> None:
    """The CPU seconds the sampler reports over its windows (fraction x window x cores) are
    those the manifest process and its spinning child used, per /proc, bracketed by reads
    just before and after the first and last sample: exact whatever the load (at load 4 on
    2 cores a spinning process gets about half a core, so a fixed floor would flake)."""
    parent = subprocess.Popen(
        [sys.executable, "-c",
         "import subprocess, sys; subprocess.run([sys.executable, '-c', "
         "'import time\\nend = time.time() + 5\\nwhile time.time() < end: pass'])"]
    )
    try:
        manifest = tmp_path / "manifest.json"
        manifest.write_text(json.dumps(
            {"services": {"serving": {"url": "x", "pid": parent.pid}}, "pods": []}
        ))
        root = psutil.Process(parent.pid)
        child = _spinning_child(root)
        sampler = CpuSampler(manifest_pids(manifest))
        sampler.sample()
        time.sleep(0.1)
        first = _bracketed_sample(sampler, root, child)
        for _ in range(3):
            time.sleep(0.25)
            sampler.sample()
        time.sleep(0.25)
        last = _bracketed_sample(sampler, root, child)
        windows = list(pairwise(sampler.samples))  # between the two bracketed samples
        seen = sampler.cores * sum(s.fraction * (s.at - p.at) for p, s in windows)
        used = (last[0] - first[1], last[1] - first[0])  # at least, at most (CPU seconds)
        assert used[0] - 1e-6 <= seen <= used[1] + 1e-6, (seen, used)
        window = windows[-1][1].at - windows[0][0].at
        assert used[0] > 0.1 * window, f"the child hardly ran ({used[0]:.3f} s): proof void"
        assert all(0.0 <= s.fraction <= 1.05 for s in sampler.samples)
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
