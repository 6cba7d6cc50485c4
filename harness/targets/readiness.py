"""Readiness by health probes with a deadline (never fixed sleeps)."""

from __future__ import annotations

import asyncio
import time

import httpx

from harness.targets.errors import TargetUnavailable


async def await_healthy(urls: dict[str, str], timeout_s: float) -> None:
    """GET ``<url>/health`` for each service until each answers 2xx, within ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    last: dict[str, str] = {}
    async with httpx.AsyncClient(timeout=2.0) as client:
        pending = dict(urls)
        delay_s = 0.1
        while pending:
            for service, url in list(pending.items()):
                try:
                    response = await client.get(url.rstrip("/") + "/health")
                except httpx.HTTPError as exc:
                    last[service] = f"{type(exc).__name__}: {exc}"
                    continue
                if response.is_success:
                    del pending[service]
                else:
                    last[service] = f"HTTP {response.status_code}"
            if not pending:
                return
            if time.monotonic() >= deadline:
                detail = "; ".join(f"{s} {pending[s]}: {last.get(s, '?')}" for s in pending)
                raise TargetUnavailable(f"not healthy after {timeout_s:g} s: {detail}")
            await asyncio.sleep(min(delay_s, max(0.0, deadline - time.monotonic())))
            delay_s = min(delay_s * 2, 1.0)
