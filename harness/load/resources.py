"""CPU utilisation of the target while the load runs.

Local targets: the processes the testbed manifest lists (``services.*.pid`` and
``pods[].pid``) and all their children, sampled once a second with psutil from
their CPU times. A sample is the CPU seconds they used per wall second divided by
this machine's core count: 1.0 means every core busy (a single-threaded server
can reach at most 1 / cores).

Remote targets: a PromQL query (``cpu_query`` of the step) run as a range query
against ``target.prometheus_url`` over the run, through the same client as PromQL
criteria (:mod:`harness.prometheus`); the query must give the utilisation as a
fraction (series are summed per timestamp).
"""

from __future__ import annotations

import asyncio
import json
import math
import time
from collections.abc import Iterable
from pathlib import Path

import psutil

from harness.load.judge import CpuSample
from harness.prometheus.client import PrometheusClient, PrometheusError, describe_labels


class ResourceError(RuntimeError):
    """CPU figures could not be obtained (said in one line)."""


def manifest_pids(manifest_path: Path) -> list[int]:
    try:
        data = json.loads(manifest_path.read_text())
    except (OSError, ValueError) as exc:
        raise ResourceError(f"cannot read testbed manifest {manifest_path}: {exc}") from None
    pids: list[int] = []
    services = data.get("services") if isinstance(data, dict) else None
    for service in (services or {}).values():
        if isinstance(service, dict) and isinstance(service.get("pid"), int):
            pids.append(service["pid"])
    for pod in data.get("pods") or []:
        if isinstance(pod, dict) and isinstance(pod.get("pid"), int):
            pids.append(pod["pid"])
    return sorted(set(pids))


class CpuSampler:
    """Call :meth:`sample` about once a second; samples accumulate in ``samples``."""

    def __init__(self, pids: Iterable[int]) -> None:
        self.roots = list(pids)
        self.cores = psutil.cpu_count() or 1
        self.samples: list[CpuSample] = []
        self._last: dict[int, float] = {}
        self._last_at: float | None = None

    def _processes(self) -> list[psutil.Process]:
        found: dict[int, psutil.Process] = {}
        for pid in self.roots:
            try:
                root = psutil.Process(pid)
                found[pid] = root
                for child in root.children(recursive=True):
                    found[child.pid] = child
            except (psutil.NoSuchProcess, psutil.AccessDenied):
                continue
        return list(found.values())

    def sample(self) -> CpuSample | None:
        now = time.time()
        used: dict[int, float] = {}
        for process in self._processes():
            try:
                times = process.cpu_times()
            except (psutil.NoSuchProcess, psutil.AccessDenied):
                continue
            used[process.pid] = times.user + times.system
        sample = None
        if self._last_at is not None and now > self._last_at:
            busy = sum(
                max(cpu - self._last[pid], 0.0) for pid, cpu in used.items() if pid in self._last
            )
            sample = CpuSample(now, busy / (now - self._last_at) / self.cores)
            self.samples.append(sample)
        self._last, self._last_at = used, now
        return sample

    async def run(self, period_s: float = 1.0) -> None:
        """Sample until cancelled."""
        while True:
            await asyncio.to_thread(self.sample)
            await asyncio.sleep(period_s)


async def query_prometheus_cpu(
    base_url: str, query: str, start: float, end: float, step_s: float = 1.0,
    timeout_s: float = 10.0,
) -> list[CpuSample]:
    """Run ``query`` over [start, end] as a range query (harness.prometheus); series are
    summed per timestamp. An empty answer or a NaN/Inf point is a ResourceError quoting
    the query: never an empty set of samples that reads as "no CPU used"."""
    client = PrometheusClient(base_url, timeout_s)
    try:
        series = await client.query_range(query, start, end, step_s)
    except PrometheusError as exc:
        raise ResourceError(f"cpu_query: {exc}") from None
    totals: dict[float, float] = {}
    for one in series:
        for at, value in one.points:
            if not math.isfinite(value):
                raise ResourceError(
                    f"cpu_query {query!r} answered {value} for {describe_labels(one.labels)} "
                    f"at {at:.0f}: not a utilisation"
                )
            totals[at] = totals.get(at, 0.0) + value
    if not totals:
        raise ResourceError(
            f"cpu_query {query!r} answered an empty result from {base_url} over the run "
            "(no series: is the metric scraped, are the labels right?)"
        )
    return [CpuSample(at, fraction) for at, fraction in sorted(totals.items())]
