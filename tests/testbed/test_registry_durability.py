"""Every registration acknowledged with 201 survives a SIGKILL of the registry.

The registry runs as a real child process (the documented entry point); a burst of
concurrent registrations is cut by SIGKILL half-way; after a restart on the same database
every acknowledged model must be there, unchanged. On SQLite and on PostgreSQL."""

from __future__ import annotations

import asyncio
import os
import signal
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.testbed.test_registry_support import RegistryProcess, make_tokens, write_tokens_file

pytest_plugins = ["tests.testbed.test_registry_support"]

BURST_REQUESTS = 200
BURST_SPREAD_S = 2.0


async def fire_burst(proc: RegistryProcess, token: str) -> tuple[dict[int, dict[str, Any]], int]:
    """Send the burst, SIGKILL the registry half-way; return the acknowledged bodies by id
    and how many requests got no answer at all."""
    acked: dict[int, dict[str, Any]] = {}
    unanswered = 0
    limits = httpx.Limits(max_connections=64)
    headers = {"Authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(base_url=proc.url, timeout=5.0, limits=limits) as client:

        async def register(index: int) -> None:
            nonlocal unanswered
            await asyncio.sleep(index * BURST_SPREAD_S / BURST_REQUESTS)
            body = {
                "name": f"burst-{index % 7}",
                "version": f"v{index}",
                "framework": "torch",
                "metrics": {"loss": index / 1000},
                "tags": {"i": str(index)},
            }
            try:
                response = await client.post("/models/register", json=body, headers=headers)
            except httpx.TransportError:
                unanswered += 1
                return
            if response.status_code == 201:
                created = response.json()
                acked[created["model_id"]] = created

        async def crash_half_way() -> None:
            await asyncio.sleep(BURST_SPREAD_S / 2)
            os.kill(proc.proc.pid, signal.SIGKILL)

        async with asyncio.TaskGroup() as group:
            for index in range(BURST_REQUESTS):
                group.create_task(register(index))
            group.create_task(crash_half_way())
    proc.proc.wait(10)
    return acked, unanswered


async def check_durability(tmp_path: Path, database_args: list[str]) -> None:
    tokens = make_tokens()
    tokens_file = write_tokens_file(tokens, tmp_path / "tokens.json")
    args = ["--tokens-file", str(tokens_file), "--state-dir", str(tmp_path / "state")]
    args += database_args
    first = RegistryProcess(args, tmp_path / "registry-1.log")
    try:
        await asyncio.to_thread(first.wait_healthy)
        acked, unanswered = await fire_burst(first, tokens.write)
    finally:
        first.kill()
    assert first.proc.returncode == -signal.SIGKILL
    print(f"burst: {len(acked)} acknowledged, {unanswered} unanswered of {BURST_REQUESTS}")
    # The kill really landed mid-burst: some writes were acknowledged, some never answered.
    assert len(acked) > 0, "nothing acknowledged before the kill: the test proves nothing"
    assert unanswered > 0, "every request was answered: the kill did not interrupt the burst"

    second = RegistryProcess(args, tmp_path / "registry-2.log")
    try:
        await asyncio.to_thread(second.wait_healthy)
        headers = {"Authorization": f"Bearer {tokens.read}"}
        async with httpx.AsyncClient(base_url=second.url, timeout=5.0, headers=headers) as client:
            lost = []
            for model_id, created in acked.items():
                response = await client.get(f"/models/{model_id}")
                if response.status_code != 200 or response.json() != created:
                    lost.append((model_id, response.status_code))
        assert lost == [], f"{len(lost)} of {len(acked)} acknowledged models lost: {lost[:5]}"
    finally:
        second.stop()


@pytest.mark.e2e
async def test_acknowledged_writes_survive_sigkill_on_sqlite(tmp_path: Path) -> None:
    async with asyncio.timeout(90):
        await check_durability(tmp_path, [])


@pytest.mark.e2e
@pytest.mark.postgres
async def test_acknowledged_writes_survive_sigkill_on_postgres(
    tmp_path: Path, postgres_database_url: str
) -> None:
    async with asyncio.timeout(90):
        await check_durability(tmp_path, ["--database-url", postgres_database_url])
