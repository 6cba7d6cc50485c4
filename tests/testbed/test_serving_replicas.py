"""Replicas behave like pods behind a Service: losing one fails only its in-flight requests,
and gunicorn replaces it; under ``fragile`` the replacement never becomes ready."""

from __future__ import annotations

import asyncio
import os
import signal
import time

import httpx
import psutil
import pytest

from testbed.serving.deployment import ServingDeployment, ready_worker_pids

FEATURES = [0.3, -0.1, 0.8, 1.5, -2.0, 0.4, 0.0, 0.9]
CONCURRENCY = 4


def _workers(deployment: ServingDeployment) -> set[int]:
    master = psutil.Process(deployment.process.pid)
    return {c.pid for c in master.children() if c.status() != psutil.STATUS_ZOMBIE}


async def _wait_for_replacement(
    deployment: ServingDeployment, before: set[int], timeout_s: float
) -> tuple[int, float]:
    """The new worker's pid and seconds from now until gunicorn listed it."""
    started = time.monotonic()
    while time.monotonic() - started < timeout_s:
        fresh = _workers(deployment) - before
        if fresh:
            return fresh.pop(), time.monotonic() - started
        await asyncio.sleep(0.02)
    raise AssertionError(f"no replacement worker within {timeout_s}s")


@pytest.mark.e2e
async def test_killing_a_replica_fails_only_its_in_flight_requests(
    own_serving: ServingDeployment,
) -> None:
    outcomes: list[tuple[float, bool]] = []  # (monotonic time, ok)
    stop_at = time.monotonic() + 6.0

    async def loop(client: httpx.AsyncClient) -> None:
        while time.monotonic() < stop_at:
            try:
                response = await client.post("/predict", json={"features": FEATURES})
                ok = response.status_code == 200
            except httpx.HTTPError:
                ok = False
            outcomes.append((time.monotonic(), ok))

    async def chaos() -> tuple[int, float, float]:
        await asyncio.sleep(2.0)
        victims = sorted(_workers(own_serving))
        assert len(victims) == 2
        victim = victims[0]
        killed_at = time.monotonic()
        os.kill(victim, signal.SIGKILL)
        # Restored = two workers again and both have loaded the model.
        while time.monotonic() - killed_at < 10.0:
            ready = set(ready_worker_pids(own_serving))
            if len(ready) == 2 and victim not in ready:
                return victim, killed_at, time.monotonic() - killed_at
            await asyncio.sleep(0.02)
        raise AssertionError("replica count not restored within 10 s")

    async with asyncio.timeout(30):
        async with httpx.AsyncClient(base_url=own_serving.url, timeout=10.0) as client:
            _, (victim, killed_at, restored_s) = await asyncio.gather(
                asyncio.gather(*(loop(client) for _ in range(CONCURRENCY))), chaos()
            )
    errors = [t for t, ok in outcomes if not ok]
    after_kill_ok = [t for t, ok in outcomes if ok and killed_at < t < killed_at + 1.0]
    print(
        f"kill: {len(outcomes)} requests, {len(errors)} failed, "
        f"replacement ready after {restored_s:.2f} s"
    )
    assert len(outcomes) > 200  # the loops really ran
    assert len(errors) <= CONCURRENCY  # only requests in flight on the killed replica
    assert all(killed_at - 0.05 <= t for t in errors)  # none before the kill
    assert after_kill_ok, "the surviving replica did not keep serving"
    assert restored_s <= 5.0
    assert victim not in _workers(own_serving)


async def _answers_from(
    client: httpx.AsyncClient, path: str, pid: int, method: str = "GET"
) -> list[int]:
    """Statuses of requests on fresh connections that the worker ``pid`` answered."""
    statuses: list[int] = []
    for _ in range(60):
        response = await client.request(
            method,
            path,
            json={"features": FEATURES} if method == "POST" else None,
            headers={"Connection": "close"},
        )
        if response.headers.get("x-pod-pid") == str(pid):
            statuses.append(response.status_code)
            if len(statuses) >= 3:
                break
    return statuses


async def _wait_until_answering(client: httpx.AsyncClient, pid: int, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        response = await client.get("/health", headers={"Connection": "close"})
        if response.headers.get("x-pod-pid") == str(pid):
            return
        await asyncio.sleep(0.02)
    raise AssertionError(f"worker {pid} never answered within {timeout_s}s")


@pytest.mark.e2e
async def test_fragile_replacement_never_becomes_ready(
    own_serving: ServingDeployment, admin_headers: dict[str, str]
) -> None:
    async with asyncio.timeout(45):
        async with httpx.AsyncClient(base_url=own_serving.url, timeout=10.0) as client:
            response = await client.put(
                "/admin/faults", json={"faults": ["fragile"]}, headers=admin_headers
            )
            assert response.status_code == 200
            # The running replicas loaded the model at boot and keep serving.
            assert (await client.post("/predict", json={"features": FEATURES})).status_code == 200
            assert not own_serving.settings.model_path.exists()  # the artifact is gone

            victims = sorted(_workers(own_serving))
            os.kill(victims[0], signal.SIGKILL)
            replacement, listed_after_s = await _wait_for_replacement(
                own_serving, set(victims), timeout_s=5.0
            )
            assert listed_after_s <= 5.0
            await _wait_until_answering(client, replacement, timeout_s=10.0)
            await asyncio.sleep(2.0)  # time enough to retry loading a model, had it one
            ready = await _answers_from(client, "/ready", replacement)
            predicted = await _answers_from(client, "/predict", replacement, method="POST")
            assert ready and set(ready) == {503}, ready
            assert predicted and set(predicted) == {503}, predicted
            assert replacement not in ready_worker_pids(own_serving)
            # The survivor still answers: the service is degraded, not down.
            survivor = victims[1]
            assert set(await _answers_from(client, "/ready", survivor)) == {200}

            # Clearing the fault (what `harness recover` does) lets the replacement load.
            response = await client.delete("/admin/faults", headers=admin_headers)
            assert response.status_code == 200
            deadline = time.monotonic() + 5.0
            while replacement not in ready_worker_pids(own_serving):
                assert time.monotonic() < deadline, "replacement did not recover after clear"
                await asyncio.sleep(0.1)
            assert set(await _answers_from(client, "/ready", replacement)) == {200}
