"""CPU utilisation of the target while the load runs.

Local targets: the processes the testbed manifest lists (``services.*.pid`` and
``pods[].pid``) and all their children, sampled once a second with psutil from
their CPU times. A sample is the CPU seconds they used per wall second divided by
this machine's core count: 1.0 means every core busy (a single-threaded server
can reach at most 1 / cores).

Remote targets: a PromQL query (``cpu_query`` of the step) run as a range query
against ``target.prometheus_url`` over the run; the query must give the
utilisation as a fraction (series are summed per timestamp).
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import httpx
import psutil

from harness.load.judge import CpuSample


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
    """Run ``query`` over [start, end] with the Prometheus HTTP API (query_range)."""
    params = {"query": query, "start": f"{start:.3f}", "end": f"{end:.3f}", "step": f"{step_s:g}"}
    url = base_url.rstrip("/") + "/api/v1/query_range"
    try:
        async with httpx.AsyncClient(timeout=timeout_s) as client:
            response = await client.get(url, params=params)
        payload: Any = response.json()
    except (httpx.HTTPError, ValueError) as exc:
        raise ResourceError(f"Prometheus query at {url} failed: {exc}") from None
    if response.status_code != 200 or not isinstance(payload, dict):
        raise ResourceError(f"Prometheus answered HTTP {response.status_code} at {url}")
    if payload.get("status") != "success":
        raise ResourceError(f"Prometheus query failed: {payload.get('error', 'unknown error')}")
    totals: dict[float, float] = {}
    try:
        for series in payload["data"]["result"]:
            for stamp, value in series["values"]:
                totals[float(stamp)] = totals.get(float(stamp), 0.0) + float(value)
    except (KeyError, TypeError, ValueError) as exc:
        raise ResourceError(f"unexpected Prometheus answer: {exc!r}") from None
    return [CpuSample(at, fraction) for at, fraction in sorted(totals.items())]
