"""Readiness by health probes with a deadline (never fixed sleeps)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping

import httpx

from harness.target import Service
from harness.targets.errors import TargetUnavailable


def _probes(services: Mapping[str, str] | Mapping[str, Service]) -> dict[str, Service]:
    """Services to probe (a bare URL probes ``/health``); a ``health: null`` is skipped."""
    resolved = {
        name: value if isinstance(value, Service) else Service(name, value)
        for name, value in services.items()
    }
    return {name: s for name, s in resolved.items() if s.health is not None}


def health_url(service: Service) -> str:
    path = service.health or "/"
    return service.url.rstrip("/") + (path if path.startswith("/") else f"/{path}")


async def await_healthy(
    services: Mapping[str, str] | Mapping[str, Service], timeout_s: float
) -> None:
    """GET each service's health path (with its headers) until each answers 2xx, within
    ``timeout_s``. Raises TargetUnavailable naming every service that did not."""
    deadline = time.monotonic() + timeout_s
    last: dict[str, str] = {}
    pending = _probes(services)
    async with httpx.AsyncClient(timeout=2.0) as client:
        delay_s = 0.1
        while pending:
            for name, service in list(pending.items()):
                try:
                    response = await client.get(health_url(service), headers=dict(service.headers))
                except httpx.HTTPError as exc:
                    last[name] = f"{type(exc).__name__}: {exc}"
                    continue
                if response.is_success:
                    del pending[name]
                else:
                    last[name] = f"HTTP {response.status_code}"
            if not pending:
                return
            if time.monotonic() >= deadline:
                detail = "; ".join(
                    f"{n} {health_url(s)}: {last.get(n, '?')}" for n, s in pending.items()
                )
                raise TargetUnavailable(f"not healthy after {timeout_s:g} s: {detail}")
            await asyncio.sleep(min(delay_s, max(0.0, deadline - time.monotonic())))
            delay_s = min(delay_s * 2, 1.0)
